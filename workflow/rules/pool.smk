rule pool:
    input:
        effects=EFFECTS,
        univariate=EFFECTS_UNIVARIATE,
    output:
        pooled=report(POOLED, caption="../report/pooled.rst", category="Tables"),
        weights=WEIGHTS,
        vcov=VCOV,
        bayes=BAYES,
        bayes_shrinkage=BAYES_SHRINKAGE,
        bayes_tau=BAYES_TAU,
        sensitivity=sensitivity_outputs(),
        gosh=gosh_outputs(),
    log:
        "logs/pool.log",
    benchmark:
        "benchmarks/pool.tsv"
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
        bayes=config.get("bayes", {}),
        dependence=config.get("dependence", "auto"),
    script:
        "../scripts/pool.py"
