"""Draw one shard's figures (thin adapter over survmeta.jobs): the forest, funnel and GOSH
plots as files, the report-only figures (posterior of tau, KM curves) as a JSON bundle."""

import json
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

from survmeta.io import write_text  # noqa: E402
from survmeta.jobs import figures_job  # noqa: E402
from survmeta.report.build import load_results  # noqa: E402

inp, out, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
config = snakemake.config  # noqa: F821
results = load_results(
    inp.effects, inp.excluded, inp.derivations, inp.pooled, inp.weights, inp.validated,
    inp.inputs, config, inp.sensitivity, inp.gosh, bayes=inp.bayes, bayes_tau=inp.bayes_tau,
    vcov=inp.vcov, reconstructed=inp.reconstructed,
)  # fmt: skip
files, inline = figures_job(results, params.analyses, config, snakemake.threads)  # noqa: F821
declared = {*out.forest, *out.funnel, *out.gosh}
for path, svg in files.items():
    assert path in declared, f"{path} is not an output of the rule"
    write_text(path, svg)
write_text(out.inline, json.dumps(inline, sort_keys=True))
print(f"{len(files)} figure files, {len(inline)} report-only figures", file=sys.stderr)
