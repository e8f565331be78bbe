"""Pool one shard's analyses, with their sensitivity, small-study and GOSH tables (thin
adapter over survmeta.jobs). The engine fits every analysis and subgroup of the shard in
one stacked call per method and size; the merge rule joins the shards' tables."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

from survmeta.io import read_result, write_csv, write_text  # noqa: E402
from survmeta.jobs import pool_job  # noqa: E402
from survmeta.outputs import DIGITS, SHARD_TABLES, gosh_path, sensitivity_path  # noqa: E402

inp, out, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


config = {**snakemake.config, "analyses": params.analyses}  # noqa: F821
result = pool_job(read_result(inp.effects), read_result(inp.univariate), config, log)
for name in SHARD_TABLES:
    write_csv(out[name], result[name], DIGITS.get(name, 12))
for (aid, name), df in result["sensitivity"].items():
    path = sensitivity_path(aid, name)
    assert path in out.sensitivity, f"{path} is not an output of the rule"
    write_csv(path, df)
for aid, (table, labels) in result["gosh"].items():
    path = gosh_path(aid)
    assert path in out.gosh, f"{path} is not an output of the rule"
    if table is None:
        write_text(path, f"status\n{labels}\n")
    else:
        from survmeta.estimators.gosh import write_gosh_csv

        write_gosh_csv(table, path, labels)
