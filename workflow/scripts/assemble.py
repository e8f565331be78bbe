"""Put each figure where the rendered report left its marker (thin adapter; no pandas)."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

from survmeta.report.assemble import assemble_files  # noqa: E402

inp = snakemake.input  # noqa: F821
assemble_files(inp.draft, snakemake.params.figures, list(inp.inline), snakemake.output.html)  # noqa: F821
