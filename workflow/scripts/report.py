"""Draw every figure and render report/index.html (thin adapter over survmeta.jobs).

Figures and report are one job: each job costs a Python start and its imports,
more than drawing a few SVGs does (bench/speed.py). Reads results/ only.
"""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

from survmeta.io import write_text  # noqa: E402
from survmeta.jobs import report_job  # noqa: E402
from survmeta.outputs import figure_path  # noqa: E402
from survmeta.report.build import load_results  # noqa: E402

inp, out, config = snakemake.input, snakemake.output, snakemake.config  # noqa: F821
results = load_results(
    inp.effects, inp.excluded, inp.derivations, inp.pooled, inp.weights, inp.validated,
    inp.inputs, config, inp.sensitivity, inp.gosh, bayes=inp.bayes, bayes_tau=inp.bayes_tau,
    vcov=inp.vcov, reconstructed=inp.reconstructed,
)  # fmt: skip
drawn, html = report_job(results, config, workers=snakemake.threads)  # noqa: F821
figures = {*out.forest, *out.funnel, *out.gosh}
for aid, svgs in drawn.items():
    for kind, svg in svgs.items():
        if kind not in ("forest", "funnel", "gosh"):
            continue  # drawn inline in the report only (posterior of tau, KM curves)
        path = figure_path(aid, kind)
        assert path in figures, f"{path} is not an output of the rule"
        write_text(path, svg)
    print(f"{aid}: {', '.join(svgs)} drawn", file=sys.stderr)
write_text(out.html, html)
print("report/index.html written", file=sys.stderr)
