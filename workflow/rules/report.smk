rule report:
    input:
        effects=EFFECTS,
        excluded=EXCLUDED,
        derivations=DERIVATIONS,
        inputs=INPUTS,
        reconstructed=RECONSTRUCTED,
        validated=validated_outputs(),
        pooled=POOLED,
        weights=WEIGHTS,
        vcov=VCOV,
        bayes=BAYES,
        bayes_tau=BAYES_TAU,
        sensitivity=sensitivity_outputs(),
        gosh=gosh_outputs(),
    output:
        forest=report(
            figure_outputs("forest"),
            caption="../report/forest.rst",
            category="Forest plots",
        ),
        funnel=report(
            figure_outputs("funnel"),
            caption="../report/funnel.rst",
            category="Funnel plots",
        ),
        gosh=figure_outputs("gosh"),
        html=report(REPORT, caption="../report/index.rst", category="Report"),
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
