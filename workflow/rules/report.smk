rule report:
    input:
        unpack(input_tables),
        effects="results/effects.csv",
        excluded="results/excluded.csv",
        derivations="results/derivations.csv",
        pooled="results/pooled.csv",
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
        html=report(
            "report/index.html", caption="../report/index.rst", category="Report"
        ),
    log:
        "logs/report.log",
    benchmark:
        "benchmarks/report.tsv"
    conda:
        "../envs/survmeta.yaml"
    threads: 4
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        config=config,
        analyses=config["analyses"],
        level=config["pooling"].get("level", 0.95),
    script:
        "../scripts/report.py"
