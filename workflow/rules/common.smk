import os
import sys
from pathlib import Path

from snakemake.utils import validate

from survmeta.outputs import output_paths
from survmeta.config import config_problems, missing_files, table_problems

SCHEMA = Path(workflow.current_basedir) / "../schemas/config.schema.yaml"


def config_label():
    """The config file as the user named it (the last --configfile, else config.yaml)."""
    given = workflow.config_settings.configfiles
    return os.path.relpath(given[-1]) if given else "config.yaml"


def stop(problems, what):
    """One line per problem, then exit before any job runs (nothing is written)."""
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(problems)} problem(s) in {what}; nothing was run.", file=sys.stderr)
    sys.exit(1)


def check_config():
    problems = config_problems(config, SCHEMA, config_label())
    if problems:
        stop(problems, "the config")
    missing = missing_files(config["inputs"])
    if missing:
        stop(missing, "the input tables")
    validate(config, SCHEMA)  # fills in the schema's defaults


def check_inputs():
    """Stop when a table breaks the contract or the config does not fit the tables (an
    analysis that matches no study, a subgroup column no study has); warn when a
    setting will be slow or write large files.

    Run at onstart: after the DAG is built and only when a job is to run (a no-op
    rerun does not load pandas), always before any job writes anything.
    """
    from survmeta.costs import cost_warnings
    from survmeta.validate import InputError, load_inputs

    try:
        tables = load_inputs(
            config["inputs"],
            arm_classes=config.get("arm_classes"),
            modalities=config.get("modalities"),
        )
    except InputError as err:
        stop(err.problems, "the input tables")
    problems = table_problems(tables, config, config_label())
    if problems:
        stop(problems, "the config")
    for warning in cost_warnings(tables, config, config_label()):
        print(warning, file=sys.stderr)


check_config()


onstart:
    check_inputs()


ANALYSES = [a["id"] for a in config["analyses"]]


def input_tables(wildcards):
    return dict(config["inputs"])


def sensitivity_outputs():
    return output_paths(config["analyses"])


GOSH_ANALYSES = ANALYSES if config.get("sensitivity", {}).get("gosh", False) else []


def gosh_outputs():
    return expand("results/gosh/{analysis}.csv", analysis=GOSH_ANALYSES)


def figure_outputs():
    return [
        *expand("results/figures/{analysis}.svg", analysis=ANALYSES),
        *expand("results/figures/{analysis}_funnel.svg", analysis=ANALYSES),
        *expand("results/figures/{analysis}_gosh.svg", analysis=GOSH_ANALYSES),
    ]


def final_outputs():
    return [
        "results/effects.csv",
        "results/excluded.csv",
        *expand("results/validated/{table}.csv", table=list(config["inputs"])),
        "results/pooled.csv",
        *figure_outputs(),
        *sensitivity_outputs(),
        *gosh_outputs(),
        "report/index.html",
    ]
