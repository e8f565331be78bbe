rule harmonize:
    input:
        unpack(input_tables),
    output:
        effects=report(EFFECTS, caption="../report/effects.rst", category="Tables"),
        excluded=EXCLUDED,
        derivations=DERIVATIONS,
        inputs=INPUTS,
        reconstructed=RECONSTRUCTED,
        univariate=EFFECTS_UNIVARIATE,
        validated=validated_outputs(),
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
        rmst=config.get("rmst", {}),
        dependence=config.get("dependence", "auto"),
        arm_classes=config.get("arm_classes"),
        modalities=config.get("modalities"),
    script:
        "../scripts/harmonize.py"
