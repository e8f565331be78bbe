# survmeta: published survival results -> harmonized log hazard ratios -> pooled as metafor -> report.
# Run: snakemake --cores 4   (see README.md; config keys in config/README.md)
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/harmonize.smk"
include: "workflow/rules/pool.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        final_outputs(),
    default_target: True
