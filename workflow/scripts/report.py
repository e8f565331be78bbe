"""Render report/index.html's text with a marker where each figure goes (thin adapter over
survmeta.jobs): it runs beside the figure jobs; the assemble rule puts the figures in.
Reads results/ only."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

from survmeta.io import write_text  # noqa: E402
from survmeta.jobs import render_job  # noqa: E402
from survmeta.report.build import load_results  # noqa: E402

inp, out, config = snakemake.input, snakemake.output, snakemake.config  # noqa: F821
results = load_results(
    inp.effects, inp.excluded, inp.derivations, inp.pooled, inp.weights, inp.validated,
    inp.inputs, config, inp.sensitivity, inp.gosh, bayes=inp.bayes, bayes_tau=inp.bayes_tau,
    vcov=inp.vcov, reconstructed=inp.reconstructed,
)  # fmt: skip
write_text(out.draft, render_job(results, config))
print("report text rendered", file=sys.stderr)
