# One figure job per shard (matplotlib) beside the rendering job (jinja2); the assemble
# rule puts each figure where the rendering left its marker (report/assemble.py).
for shard, shard_analyses in SHARDS.items():

    rule:
        name:
            f"figures_{shard}"
        input:
            **report_inputs(),
        output:
            forest=report(
                figure_paths_of(shard_analyses, "forest"),
                caption="../report/forest.rst",
                category="Forest plots",
            ),
            funnel=report(
                figure_paths_of(shard_analyses, "funnel"),
                caption="../report/funnel.rst",
                category="Funnel plots",
            ),
            gosh=figure_paths_of(shard_analyses, "gosh"),
            inline=shard_figures(shard),
        log:
            f"logs/figures_{shard}.log",
        benchmark:
            f"benchmarks/figures_{shard}.tsv"
        conda:
            "../envs/survmeta.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        params:
            analyses=shard_analyses,
        script:
            "../scripts/figures.py"


rule render:
    input:
        **report_inputs(),
    output:
        draft=temp(REPORT_DRAFT),
    log:
        "logs/render.log",
    benchmark:
        "benchmarks/render.tsv"
    conda:
        "../envs/survmeta.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/report.py"


rule assemble:
    input:
        draft=REPORT_DRAFT,
        figures=figure_outputs(),
        inline=[shard_figures(shard) for shard in SHARDS],
    output:
        html=report(REPORT, caption="../report/index.rst", category="Report"),
    log:
        "logs/assemble.log",
    conda:
        "../envs/survmeta.yaml"
    params:
        figures=figure_marker_files(),
    script:
        "../scripts/assemble.py"
