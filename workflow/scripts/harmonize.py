"""Harmonize every study comparison of every analysis (thin adapter over survmeta.jobs)."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

from survmeta.io import write_csv  # noqa: E402
from survmeta.jobs import harmonize_job  # noqa: E402
from survmeta.outputs import validated_path  # noqa: E402

out = snakemake.output  # noqa: F821
result = harmonize_job(snakemake.config)  # noqa: F821
for name in ("effects", "excluded", "derivations", "univariate", "reconstructed", "inputs"):
    write_csv(out[name], result[name])
for name, table in result["tables"].items():  # the typed, checked tables the report reads
    path = validated_path(name)
    assert path in out.validated, path
    write_csv(path, table)
print(f"validated {', '.join(result['tables'])}; {len(result['effects'])} effects", file=sys.stderr)
