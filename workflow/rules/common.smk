import os
import sys
from pathlib import Path

from snakemake.utils import validate

from survmeta.outputs import (
    BAYES,
    BAYES_SHRINKAGE,
    BAYES_TAU,
    DERIVATIONS,
    EFFECTS,
    EFFECTS_UNIVARIATE,
    EXCLUDED,
    INPUTS,
    POOLED,
    RECONSTRUCTED,
    REPORT,
    REPORT_DRAFT,
    REVIEW_TABLES,
    SHARD_TABLES,
    VCOV,
    WEIGHTS,
    figure_path,
    figure_paths,
    gosh_analyses,
    gosh_path,
    output_paths,
    shard_figures,
    shard_table,
    shards,
    validated_path,
)
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


def release_scheduler_timers():
    """Cancel the scheduler's pending re-evaluation timers once the run is over.

    Snakemake's job rate limiter (--max-jobs-per-timespan, default 100/1s) arms a
    non-daemon threading.Timer of one second after each scheduling round, and Python
    waits for the last one at exit: up to a second added to every run that ran a job
    (a third of the shipped review's whole run). They only wake the scheduler, which has
    finished by now.
    """
    import threading

    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer):
            thread.cancel()


onsuccess:
    release_scheduler_timers()


onerror:
    release_scheduler_timers()


ANALYSES = [a["id"] for a in config["analyses"]]
SHARDS = shards(config)


def input_tables(wildcards):
    return dict(config["inputs"])


def validated_outputs():
    return [validated_path(table) for table in config["inputs"]]


def sensitivity_outputs():
    return output_paths(config["analyses"])


def gosh_outputs(analyses=None):
    ids = {a["id"] for a in (analyses or config["analyses"])}
    return [gosh_path(a) for a in gosh_analyses(config) if a in ids]


def figure_outputs(kind=None):
    return figure_paths(config, kind)


def figure_paths_of(analyses, kind):
    """The figure files of ``kind`` that a shard of ``analyses`` draws."""
    return figure_paths(config, kind, analyses)


def pool_table(shard, name):
    """Where a pool shard writes a review-wide table: results/ itself when it is the only
    shard (no merge job), else its shard folder."""
    return review_table(name) if len(SHARDS) == 1 else shard_table(shard, name)


def review_table(name):
    """A review-wide table's path in results/ (pooled.csv also in snakemake's report)."""
    if name == "pooled":
        return report(POOLED, caption="../report/pooled.rst", category="Tables")
    return REVIEW_TABLES[name]


def figure_marker_files():
    """{marker key: file} of every figure drawn as a file (report/assemble.py)."""
    from survmeta.report.assemble import figure_key

    return {
        figure_key(a["id"], kind): figure_path(a["id"], kind)
        for a in config["analyses"]
        for kind in ("forest", "funnel", "gosh")
        if kind != "gosh" or a["id"] in gosh_analyses(config)
    }


def report_inputs():
    """What the figure and rendering jobs read: results/ only."""
    return dict(
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
    )


def final_outputs():
    return [
        EFFECTS,
        EXCLUDED,
        RECONSTRUCTED,
        *validated_outputs(),
        POOLED,
        WEIGHTS,
        VCOV,
        BAYES,
        BAYES_SHRINKAGE,
        BAYES_TAU,
        *figure_outputs(),
        *sensitivity_outputs(),
        *gosh_outputs(),
        REPORT,
    ]
