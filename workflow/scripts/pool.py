"""Pool each analysis x subgroup x method x test (thin adapter over survmeta)."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

import pandas as pd  # noqa: E402

from survmeta.io import write_csv  # noqa: E402
from survmeta.pool import pool  # noqa: E402

p = snakemake.params  # noqa: F821
effects = pd.read_csv(snakemake.input.effects)  # noqa: F821
config = {"analyses": p.analyses, "pooling": p.pooling, "sensitivity": p.sensitivity}
write_csv(snakemake.output.pooled, pool(effects, config))  # noqa: F821
