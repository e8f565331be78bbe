rule forest_plots:
    input:
        effects="results/effects.csv",
        pooled="results/pooled.csv",
    output:
        report(
            expand("results/figures/{analysis}.svg", analysis=ANALYSES),
            caption="../report/forest.rst",
            category="Forest plots",
        ),
    log:
        "logs/forest_plots.log",
    benchmark:
        "benchmarks/forest_plots.tsv"
    conda:
        "../envs/survmeta.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        analyses=config["analyses"],
    script:
        "../scripts/forest_plots.py"
