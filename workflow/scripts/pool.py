"""Pool every analysis, with its sensitivity, small-study and GOSH tables (thin adapter).

One job for all analyses: the engine fits every analysis and subgroup in one
stacked call per method, and one process pays the imports once (bench/speed.py).
"""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

from survmeta.diagnostics import analysis_tables, diagnostic_rows, gosh_table  # noqa: E402
from survmeta.io import read_result, write_csv, write_text  # noqa: E402
from survmeta.outputs import gosh_path, sensitivity_path  # noqa: E402
from survmeta.pool import bayes_tables, pool_tables  # noqa: E402

out, p = snakemake.output, snakemake.params  # noqa: F821
inp = snakemake.input  # noqa: F821
effects = read_result(inp.effects)
univariate = read_result(inp.univariate)
config = {"analyses": p.analyses, "pooling": p.pooling, "sensitivity": p.sensitivity,
          "bayes": p.bayes, "dependence": p.dependence}  # fmt: skip
pooled = pool_tables(effects, config, univariate)
for name in ("pooled", "weights", "vcov"):
    write_csv(out[name], pooled[name])
bayes = bayes_tables(effects, config, univariate)
write_csv(out.bayes, bayes["bayes"])
write_csv(out.bayes_shrinkage, bayes["shrinkage"])
write_csv(out.bayes_tau, bayes["tau"])
print(f"pooled {len(p.analyses)} analyses (and under {len(bayes['tau'].groupby('prior'))} "
      "priors)", file=sys.stderr)  # fmt: skip


def output(path: str) -> str:
    """A path from survmeta.outputs, checked against what the rule declares."""
    assert path in out.sensitivity or path in out.gosh, f"{path} is not an output of the rule"
    return path


for analysis in p.analyses:
    aid = analysis["id"]
    rows = effects[effects["analysis_id"] == aid].reset_index(drop=True)
    tables = analysis_tables(rows, analysis, p.pooling, p.sensitivity, univariate, p.dependence)
    diag = diagnostic_rows(rows, univariate, p.dependence)[0] if len(rows) else rows
    for name, df in tables.items():
        write_csv(output(sensitivity_path(aid, name)), df)
    print(f"{aid}: k = {len(rows)}, {len(tables)} tables", file=sys.stderr)
    for name, df in tables.items():
        if len(df) and df["status"].ne("ok").all():
            print(f"  {name}: {df['status'].iloc[0]}", file=sys.stderr)
    if p.sensitivity.get("gosh", False):
        path = output(gosh_path(aid))
        table, note = gosh_table(diag, p.pooling, p.sensitivity)
        if table is None:
            write_text(path, f"status\n{note}\n")
        else:
            from survmeta.estimators.gosh import write_gosh_csv

            write_gosh_csv(table, path, note)
        print(f"  gosh: {len(table) if table is not None else 0} subsets", file=sys.stderr)
