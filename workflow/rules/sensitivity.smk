rule sensitivity:
    input:
        effects="results/effects.csv",
    output:
        sensitivity_outputs(),
    log:
        "logs/sensitivity.log",
    benchmark:
        "benchmarks/sensitivity.tsv"
    conda:
        "../envs/survmeta.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=20,
    params:
        analyses=config["analyses"],
        pooling=config["pooling"],
        sensitivity=config.get("sensitivity", {}),
    script:
        "../scripts/sensitivity.py"


rule gosh:
    input:
        effects="results/effects.csv",
    output:
        "results/gosh/{analysis}.csv",
    log:
        "logs/gosh/{analysis}.log",
    benchmark:
        "benchmarks/gosh/{analysis}.tsv"
    conda:
        "../envs/survmeta.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        analysis=lambda wc: wc.analysis,
        pooling=config["pooling"],
        sensitivity=config.get("sensitivity", {}),
    script:
        "../scripts/gosh.py"
