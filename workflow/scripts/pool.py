"""Pool every analysis, and its sensitivity and small-study tables (thin adapter).

One job for all analyses: the estimators are vectorized over datasets, and one
process pays the imports once (bench/speed.py).
"""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

import pandas as pd  # noqa: E402

from survmeta.diagnostics import analysis_tables  # noqa: E402
from survmeta.io import write_csv  # noqa: E402
from survmeta.pool import pool  # noqa: E402

p = snakemake.params  # noqa: F821
effects = pd.read_csv(snakemake.input.effects)  # noqa: F821
config = {"analyses": p.analyses, "pooling": p.pooling, "sensitivity": p.sensitivity}
write_csv(snakemake.output.pooled, pool(effects, config))  # noqa: F821
print(f"pooled {len(p.analyses)} analyses", file=sys.stderr)

for analysis in p.analyses:
    rows = effects[effects["analysis_id"] == analysis["id"]].reset_index(drop=True)
    tables = analysis_tables(rows, analysis, p.pooling, p.sensitivity)
    for name, df in tables.items():
        write_csv(f"results/sensitivity/{analysis['id']}/{name}.csv", df)
    print(f"{analysis['id']}: k = {len(rows)}, {len(tables)} tables", file=sys.stderr)
    for name, df in tables.items():
        if len(df) and df["status"].ne("ok").all():
            print(f"  {name}: {df['status'].iloc[0]}", file=sys.stderr)
