"""Render report/index.html from the results (thin adapter over survmeta)."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

from survmeta.io import write_text  # noqa: E402
from survmeta.report.build import build_report  # noqa: E402

inp = snakemake.input  # noqa: F821
config = snakemake.params.config  # noqa: F821
named = dict(inp.items())


def files(name):
    """A named input as a list of paths (absent or empty when the rule does not pass it)."""
    value = named.get(name, [])
    return [value] if isinstance(value, str) else list(value)


html = build_report(
    tables={name: named[name] for name in config["inputs"]},
    effects=inp.effects,
    excluded=named.get("excluded"),
    derivations=named.get("derivations"),
    pooled=inp.pooled,
    figures=files("figures"),
    config=config,
    sensitivity=files("sensitivity"),
    gosh=files("gosh"),
)
write_text(snakemake.output.html, html)  # noqa: F821
