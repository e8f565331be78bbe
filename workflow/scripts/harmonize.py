"""Harmonize every study comparison of every analysis (thin adapter over survmeta)."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

from survmeta.harmonize.run import harmonize  # noqa: E402
from survmeta.io import write_csv  # noqa: E402
from survmeta.validate import load_inputs  # noqa: E402

p = snakemake.params  # noqa: F821
tables = load_inputs(p.inputs, arm_classes=p.arm_classes, modalities=p.modalities)
out = harmonize(tables, {"analyses": p.analyses, "multiarm": p.multiarm})
for name in ("effects", "excluded", "derivations"):
    write_csv(snakemake.output[name], out[name])  # noqa: F821
for name, table in tables.items():  # the typed, checked tables (design.md's results/validated/)
    write_csv(f"results/validated/{name}.csv", table)
print(f"validated {', '.join(tables)}; {len(out['effects'])} effects", file=sys.stderr)
