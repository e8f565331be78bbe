import sys

from snakemake.utils import validate

from survmeta.validate import InputError, load_inputs

validate(config, "../schemas/config.schema.yaml")


def check_inputs():
    """Stop before any job runs when a table breaks the contract: one line per problem."""
    try:
        load_inputs(
            config["inputs"],
            arm_classes=config.get("arm_classes"),
            modalities=config.get("modalities"),
        )
    except InputError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        print(
            f"{len(err.problems)} problem(s) in the input tables; nothing was run.",
            file=sys.stderr,
        )
        sys.exit(1)


check_inputs()

ANALYSES = [a["id"] for a in config["analyses"]]


def input_tables(wildcards):
    return dict(config["inputs"])


def final_outputs():
    return [
        "results/effects.csv",
        "results/excluded.csv",
        "results/pooled.csv",
        *expand("results/figures/{analysis}.svg", analysis=ANALYSES),
        "report/index.html",
    ]
