# survmeta: published survival results -> harmonized log hazard ratios -> pooled as metafor -> report.
# Run: snakemake --cores 4   (see README.md; config keys in config/README.md)
from snakemake.utils import min_version

min_version("9.0")


# A team's --configfile replaces the shipped config rather than merging with it
# (design.md: a shipped optional table must not leak into their run).
if not workflow.config_settings.configfiles:

    configfile: "config.yaml"


report: "workflow/report/workflow.rst"


# The target rule and the light joins (a CSV merge, the report's figures put in place) stay
# on the submitting node when run with a cluster profile (profiles/): each saves a queue wait.
localrules:
    all,
    assemble,


include: "workflow/rules/common.smk"
include: "workflow/rules/harmonize.smk"
include: "workflow/rules/pool.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
