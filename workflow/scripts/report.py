"""Draw every figure and render report/index.html (thin adapter over survmeta).

Figures and report are one job: each job costs a Python start and its imports,
more than drawing a few SVGs does (bench/speed.py).
"""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

from survmeta.figures.data import FIGURE_SUFFIXES  # noqa: E402
from survmeta.figures.plots import all_figures  # noqa: E402
from survmeta.io import write_text  # noqa: E402
from survmeta.report.build import load_results, render_results  # noqa: E402

inp, p = snakemake.input, snakemake.params  # noqa: F821
config = p.config
named = dict(inp.items())


def files(name):
    """A named input as a list of paths (absent or empty when the rule does not pass it)."""
    value = named.get(name, [])
    return [value] if isinstance(value, str) else list(value)


results = load_results(
    tables={name: named[name] for name in config["inputs"]},
    effects=inp.effects,
    excluded=named.get("excluded"),
    derivations=named.get("derivations"),
    pooled=inp.pooled,
    config=config,
    sensitivity=files("sensitivity"),
    gosh=files("gosh"),
)
drawn = all_figures(
    p.analyses,
    results["effects"],
    results["pooled"],
    arms=results["arms"],
    sensitivity=results["sensitivity"],
    gosh=results["gosh"],
    level=p.level,
    workers=snakemake.threads,  # noqa: F821
)
for aid, svgs in drawn.items():
    for kind, svg in svgs.items():
        write_text(f"results/figures/{aid}{FIGURE_SUFFIXES[kind]}.svg", svg)
    print(f"{aid}: {', '.join(svgs)} drawn", file=sys.stderr)

write_text(snakemake.output.html, render_results(results, drawn, config))  # noqa: F821
print("report/index.html written", file=sys.stderr)
