"""One forest plot per analysis, as SVG (thin adapter over survmeta)."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

import pandas as pd  # noqa: E402

from survmeta.figures.plots import forest_plots  # noqa: E402
from survmeta.io import write_text  # noqa: E402

effects = pd.read_csv(snakemake.input.effects)  # noqa: F821
pooled = pd.read_csv(snakemake.input.pooled)  # noqa: F821
svgs = forest_plots(effects, pooled, snakemake.params.analyses)  # noqa: F821
for analysis, path in zip(snakemake.params.analyses, snakemake.output, strict=True):  # noqa: F821
    write_text(path, svgs[analysis["id"]])
