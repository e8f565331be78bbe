"""Join the pool shards' review-wide tables in analysis order (thin adapter; no pandas)."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

from survmeta.merge import merge_tables  # noqa: E402
from survmeta.outputs import SHARD_TABLES  # noqa: E402

inp, out = snakemake.input, snakemake.output  # noqa: F821
for name in SHARD_TABLES:
    merge_tables(list(inp[name]), out[name], snakemake.params.order)  # noqa: F821
