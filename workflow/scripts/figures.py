"""Every figure of every analysis as SVG: forest, funnel and GOSH (thin adapter over survmeta).

One job for all analyses: matplotlib is imported once (bench/speed.py).
"""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

from survmeta.figures.data import gosh_tables, read_table, sensitivity_tables  # noqa: E402
from survmeta.figures.plots import analysis_figures  # noqa: E402
from survmeta.io import write_text  # noqa: E402
from survmeta.tables import read_raw  # noqa: E402

inp, p = snakemake.input, snakemake.params  # noqa: F821
effects, pooled = read_table(inp.effects), read_table(inp.pooled)
arms = read_raw(inp.arms, "arms")
sensitivity = sensitivity_tables(inp.sensitivity)
ids = [a["id"] for a in p.analyses]
gosh = gosh_tables(inp.gosh, ids)
for analysis in p.analyses:
    aid = analysis["id"]
    svgs = analysis_figures(
        analysis,
        effects,
        pooled,
        arms=arms,
        sensitivity=sensitivity.get(aid, {}),
        gosh=gosh.get(aid),
        level=p.level,
    )
    for kind, svg in svgs.items():
        suffix = "" if kind == "forest" else f"_{kind}"
        write_text(f"results/figures/{aid}{suffix}.svg", svg)
    print(f"{aid}: {', '.join(svgs)}", file=sys.stderr)
