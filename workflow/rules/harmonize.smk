rule harmonize:
    input:
        unpack(input_tables),
    output:
        effects=report(
            "results/effects.csv", caption="../report/effects.rst", category="Tables"
        ),
        excluded="results/excluded.csv",
        derivations="results/derivations.csv",
        validated=expand("results/validated/{table}.csv", table=list(config["inputs"])),
    log:
        "logs/harmonize.log",
    benchmark:
        "benchmarks/harmonize.tsv"
    conda:
        "../envs/survmeta.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        inputs=config["inputs"],
        analyses=config["analyses"],
        multiarm=config["multiarm"],
        arm_classes=config.get("arm_classes"),
        modalities=config.get("modalities"),
    script:
        "../scripts/harmonize.py"
