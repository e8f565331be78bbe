"""Draw every figure and render report/index.html (thin adapter over survmeta).

Figures and report are one job: each job costs a Python start and its imports,
more than drawing a few SVGs does (bench/speed.py).
"""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

from survmeta.figures.data import (  # noqa: E402
    FIGURE_SUFFIXES,
    gosh_tables,
    read_table,
    sensitivity_tables,
)
from survmeta.figures.plots import all_figures  # noqa: E402
from survmeta.io import write_text  # noqa: E402
from survmeta.report.build import build_report  # noqa: E402
from survmeta.tables import read_raw  # noqa: E402

inp, p = snakemake.input, snakemake.params  # noqa: F821
config = p.config
named = dict(inp.items())


def files(name):
    """A named input as a list of paths (absent or empty when the rule does not pass it)."""
    value = named.get(name, [])
    return [value] if isinstance(value, str) else list(value)


effects, pooled = read_table(inp.effects), read_table(inp.pooled)
arms = read_raw(inp.arms, "arms")
sensitivity = sensitivity_tables(files("sensitivity"))
gosh = gosh_tables(files("gosh"), [a["id"] for a in p.analyses])
drawn = all_figures(
    p.analyses,
    effects,
    pooled,
    arms=arms,
    sensitivity=sensitivity,
    gosh=gosh,
    level=p.level,
    workers=snakemake.threads,  # noqa: F821
)
for aid, svgs in drawn.items():
    for kind, svg in svgs.items():
        write_text(f"results/figures/{aid}{FIGURE_SUFFIXES[kind]}.svg", svg)
    print(f"{aid}: {', '.join(svgs)} drawn", file=sys.stderr)

html = build_report(
    tables={name: named[name] for name in config["inputs"]},
    effects=inp.effects,
    excluded=named.get("excluded"),
    derivations=named.get("derivations"),
    pooled=inp.pooled,
    figures=drawn,
    config=config,
    sensitivity=files("sensitivity"),
    gosh=files("gosh"),
)
write_text(snakemake.output.html, html)  # noqa: F821
print("report/index.html written", file=sys.stderr)
