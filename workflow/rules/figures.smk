rule figures:
    input:
        effects="results/effects.csv",
        pooled="results/pooled.csv",
        arms=config["inputs"]["arms"],
        sensitivity=sensitivity_outputs(),
        gosh=gosh_outputs(),
    output:
        forest=report(
            expand("results/figures/{analysis}.svg", analysis=ANALYSES),
            caption="../report/forest.rst",
            category="Forest plots",
        ),
        funnel=report(
            expand("results/figures/{analysis}_funnel.svg", analysis=ANALYSES),
            caption="../report/funnel.rst",
            category="Funnel plots",
        ),
        gosh=expand("results/figures/{analysis}_gosh.svg", analysis=GOSH_ANALYSES),
    log:
        "logs/figures.log",
    benchmark:
        "benchmarks/figures.tsv"
    conda:
        "../envs/survmeta.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        analyses=config["analyses"],
        level=config["pooling"].get("level", 0.95),
    script:
        "../scripts/figures.py"
