"""Pool every analysis, with its sensitivity, small-study and GOSH tables (thin adapter).

One job for all analyses: the estimators are vectorized over datasets and
subsets, and one process pays the imports once (bench/speed.py, bench/gosh.py).
"""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

from survmeta.diagnostics import analysis_tables, gosh_table  # noqa: E402
from survmeta.io import read_result, write_csv, write_text  # noqa: E402
from survmeta.pool import pool  # noqa: E402

p = snakemake.params  # noqa: F821
effects = read_result(snakemake.input.effects)  # noqa: F821
config = {"analyses": p.analyses, "pooling": p.pooling, "sensitivity": p.sensitivity}
write_csv(snakemake.output.pooled, pool(effects, config))  # noqa: F821
print(f"pooled {len(p.analyses)} analyses", file=sys.stderr)

for analysis in p.analyses:
    aid = analysis["id"]
    rows = effects[effects["analysis_id"] == aid].reset_index(drop=True)
    tables = analysis_tables(rows, analysis, p.pooling, p.sensitivity)
    for name, df in tables.items():
        write_csv(f"results/sensitivity/{aid}/{name}.csv", df)
    print(f"{aid}: k = {len(rows)}, {len(tables)} tables", file=sys.stderr)
    for name, df in tables.items():
        if len(df) and df["status"].ne("ok").all():
            print(f"  {name}: {df['status'].iloc[0]}", file=sys.stderr)
    if p.sensitivity.get("gosh", False):
        path = f"results/gosh/{aid}.csv"
        table, note = gosh_table(rows, p.pooling, p.sensitivity)
        if table is None:
            write_text(path, f"status\n{note}\n")
        else:
            from survmeta.estimators.gosh import write_gosh_csv

            write_gosh_csv(table, path, note)
        print(f"  gosh: {len(table) if table is not None else 0} subsets", file=sys.stderr)
