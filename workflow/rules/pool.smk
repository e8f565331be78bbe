# One pool job per shard of the review's analyses (outputs.shards: round-robin, `shards:`
# in the config); with several shards the merge rule joins their review-wide tables in
# analysis order, with one the pool job writes them itself.
for shard, shard_analyses in SHARDS.items():

    rule:
        name:
            f"pool_{shard}"
        input:
            effects=EFFECTS,
            univariate=EFFECTS_UNIVARIATE,
        output:
            **{name: pool_table(shard, name) for name in SHARD_TABLES},
            sensitivity=output_paths(shard_analyses),
            gosh=gosh_outputs(shard_analyses),
        log:
            f"logs/pool_{shard}.log",
        benchmark:
            f"benchmarks/pool_{shard}.tsv"
        conda:
            "../envs/survmeta.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=20,
        params:
            analyses=shard_analyses,
        script:
            "../scripts/pool.py"


if len(SHARDS) > 1:

    localrules:
        merge_pool,

    rule merge_pool:
        input:
            **{
                name: [shard_table(shard, name) for shard in SHARDS]
                for name in SHARD_TABLES
            },
        output:
            **{name: review_table(name) for name in SHARD_TABLES},
        log:
            "logs/merge_pool.log",
        conda:
            "../envs/survmeta.yaml"
        params:
            order=ANALYSES,
        script:
            "../scripts/merge_pool.py"
