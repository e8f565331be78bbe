"""Harmonize every study comparison of every analysis (thin adapter over survmeta)."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

import pandas as pd  # noqa: E402

from survmeta.harmonize.run import harmonize  # noqa: E402
from survmeta.harmonize.survival_extras import survival_extras  # noqa: E402
from survmeta.io import write_csv  # noqa: E402
from survmeta.outputs import validated_path  # noqa: E402
from survmeta.provenance import INPUT_COLUMNS, input_checksums  # noqa: E402
from survmeta.validate import load_inputs  # noqa: E402

out_files, p = snakemake.output, snakemake.params  # noqa: F821
tables = load_inputs(p.inputs, arm_classes=p.arm_classes, modalities=p.modalities)
config = {"analyses": p.analyses, "multiarm": p.multiarm, "rmst": p.rmst}
out = harmonize(tables, config)
for name in ("effects", "excluded", "derivations"):
    write_csv(out_files[name], out[name])
for name, table in tables.items():  # the typed, checked tables the report reads
    path = validated_path(name)
    assert path in out_files.validated, path
    write_csv(path, table)
write_csv(out_files.reconstructed, survival_extras(tables, config)["reconstructed"])
write_csv(out_files.inputs, pd.DataFrame(input_checksums(p.inputs), columns=INPUT_COLUMNS))
print(f"validated {', '.join(tables)}; {len(out['effects'])} effects", file=sys.stderr)
