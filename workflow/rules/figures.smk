rule forest_plots:
    input:
        effects="results/effects.csv",
        pooled="results/pooled.csv",
    output:
        expand("results/figures/{analysis}.svg", analysis=ANALYSES),
    params:
        analyses=config["analyses"],
    log:
        "logs/forest_plots.log",
    benchmark:
        "benchmarks/forest_plots.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/survmeta.yaml"
    script:
        "../scripts/forest_plots.py"
