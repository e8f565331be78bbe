"""Render report/index.html from the results (thin adapter over survmeta)."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

from survmeta.io import write_text  # noqa: E402
from survmeta.report.build import build_report  # noqa: E402

inp = snakemake.input  # noqa: F821
config = snakemake.params.config  # noqa: F821
tables = {name: getattr(inp, name) for name in config["inputs"]}
html = build_report(
    tables=tables,
    effects=inp.effects,
    excluded=inp.excluded,
    derivations=inp.derivations,
    pooled=inp.pooled,
    figures=dict(zip((a["id"] for a in config["analyses"]), inp.figures, strict=True)),
    config=config,
)
write_text(snakemake.output.html, html)  # noqa: F821
