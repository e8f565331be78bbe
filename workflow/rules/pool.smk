rule pool:
    input:
        effects="results/effects.csv",
    output:
        pooled="results/pooled.csv",
    params:
        analyses=config["analyses"],
        pooling=config["pooling"],
        sensitivity=config.get("sensitivity", {}),
    log:
        "logs/pool.log",
    benchmark:
        "benchmarks/pool.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/survmeta.yaml"
    script:
        "../scripts/pool.py"
