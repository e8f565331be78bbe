"""GOSH: the main model fitted to every subset of one analysis's studies (thin adapter)."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

import pandas as pd  # noqa: E402

from survmeta.estimators.gosh import gosh, write_gosh_csv  # noqa: E402
from survmeta.io import write_text  # noqa: E402

p = snakemake.params  # noqa: F821
effects = pd.read_csv(snakemake.input.effects)  # noqa: F821
rows = effects[effects["analysis_id"] == p.analysis]
labels = [f"{r.study_id}: {r.treatment_arm} vs {r.control_arm}" for r in rows.itertuples()]
try:
    table = gosh(
        rows["yi"].to_numpy(float),
        rows["vi"].to_numpy(float),
        p.pooling["method"],
        subsets=p.sensitivity.get("gosh_subsets", 10**6),
        seed=p.sensitivity.get("seed", 20261123),
        level=p.pooling["level"],
    )
except ValueError as why:  # metafor declines (k = 1, model cannot be fitted)
    print(f"{p.analysis}: GOSH not run: {why}", file=sys.stderr)
    write_text(snakemake.output[0], f"status\n{why}\n")  # noqa: F821
else:
    kind = "all" if table.attrs["exact"] else "a seeded random sample of"
    print(f"{p.analysis}: {kind} {len(table)} subsets of {len(rows)} studies", file=sys.stderr)
    write_gosh_csv(table, snakemake.output[0], labels)  # noqa: F821
