rule harmonize:
    input:
        unpack(input_tables),
    output:
        effects="results/effects.csv",
        excluded="results/excluded.csv",
        derivations="results/derivations.csv",
    params:
        inputs=config["inputs"],
        analyses=config["analyses"],
        multiarm=config["multiarm"],
        arm_classes=config.get("arm_classes"),
        modalities=config.get("modalities"),
    log:
        "logs/harmonize.log",
    benchmark:
        "benchmarks/harmonize.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/survmeta.yaml"
    script:
        "../scripts/harmonize.py"
