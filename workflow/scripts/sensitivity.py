"""Sensitivity and small-study tables of every analysis (thin adapter over survmeta)."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

import pandas as pd  # noqa: E402

from survmeta.diagnostics import analysis_tables  # noqa: E402
from survmeta.io import write_csv  # noqa: E402

p = snakemake.params  # noqa: F821
effects = pd.read_csv(snakemake.input.effects)  # noqa: F821
for analysis in p.analyses:
    rows = effects[effects["analysis_id"] == analysis["id"]].reset_index(drop=True)
    tables = analysis_tables(rows, analysis, p.pooling, p.sensitivity)
    for name, df in tables.items():
        write_csv(f"results/sensitivity/{analysis['id']}/{name}.csv", df)
    declined = {
        n: df["status"].iloc[0]
        for n, df in tables.items()
        if len(df) and df["status"].ne("ok").all()
    }
    print(f"{analysis['id']}: k = {len(rows)}, {len(tables)} tables", file=sys.stderr)
    for name, why in declined.items():
        print(f"  {name}: {why}", file=sys.stderr)
