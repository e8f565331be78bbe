"""Harmonize every study comparison of every analysis (thin adapter over survmeta)."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

import pandas as pd  # noqa: E402

from survmeta.dependence import multilevel  # noqa: E402
from survmeta.harmonize.run import EFFECT_COLUMNS, effects_for, harmonize  # noqa: E402
from survmeta.harmonize.survival_extras import survival_extras  # noqa: E402
from survmeta.io import write_csv  # noqa: E402
from survmeta.outputs import validated_path  # noqa: E402
from survmeta.provenance import INPUT_COLUMNS, input_checksums  # noqa: E402
from survmeta.validate import load_inputs  # noqa: E402

out_files, p = snakemake.output, snakemake.params  # noqa: F821
tables = load_inputs(p.inputs, arm_classes=p.arm_classes, modalities=p.modalities)
config = {"analyses": p.analyses, "multiarm": p.multiarm, "rmst": p.rmst,
          "dependence": p.dependence}  # fmt: skip
out = harmonize(tables, config)
# A multilevel analysis keeps its arms whole; its univariate sensitivity pools need the
# comparisons with the shared arm split and with the arms combined (methods.md section 4).
alternatives = [
    effects_for(tables, analysis, mode, p.rmst)
    for analysis in p.analyses
    if multilevel(out["effects"].loc[out["effects"]["analysis_id"] == analysis["id"], "study_id"],
                  p.dependence)
    for mode in ("split", "combine")
]  # fmt: skip
univariate = pd.concat(alternatives) if alternatives else pd.DataFrame(columns=EFFECT_COLUMNS)
write_csv(out_files.univariate, univariate)
for name in ("effects", "excluded", "derivations"):
    write_csv(out_files[name], out[name])
for name, table in tables.items():  # the typed, checked tables the report reads
    path = validated_path(name)
    assert path in out_files.validated, path
    write_csv(path, table)
write_csv(out_files.reconstructed, survival_extras(tables, config)["reconstructed"])
write_csv(out_files.inputs, pd.DataFrame(input_checksums(p.inputs), columns=INPUT_COLUMNS))
print(f"validated {', '.join(tables)}; {len(out['effects'])} effects", file=sys.stderr)
