rule report:
    input:
        unpack(input_tables),
        effects="results/effects.csv",
        excluded="results/excluded.csv",
        derivations="results/derivations.csv",
        pooled="results/pooled.csv",
        figures=figure_outputs(),
        sensitivity=sensitivity_outputs(),
        gosh=gosh_outputs(),
    output:
        html=report(
            "report/index.html", caption="../report/index.rst", category="Report"
        ),
    log:
        "logs/report.log",
    benchmark:
        "benchmarks/report.tsv"
    conda:
        "../envs/survmeta.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        config=config,
    script:
        "../scripts/report.py"
