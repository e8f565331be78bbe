"""What each of the workflow's jobs computes, as plain functions.

The Snakemake scripts (workflow/scripts/) read ``snakemake.input``/``params``, call one of
these and write what it returns to ``snakemake.output``; the tests call the same functions,
so a test of a job is a test of the workflow's job. Heavy imports stay inside each job.
"""

from __future__ import annotations

from pathlib import Path


def harmonize_job(config: dict, base: Path | str = ".") -> dict:
    """The harmonize job: {"tables": typed input tables, "effects", "excluded",
    "derivations", "univariate" (a multilevel analysis's split and combine rows),
    "reconstructed" (patients rebuilt from digitized curves), "inputs" (checksums)}.

    ``config`` as snakemake gives it (schema defaults filled); input paths relative to
    ``base``. Raises validate.InputError when a table breaks the contract.
    """
    import pandas as pd

    from .dependence import multilevel
    from .harmonize.run import effects_for, harmonize, stack_effects
    from .harmonize.survival_extras import survival_extras
    from .provenance import INPUT_COLUMNS, input_checksums
    from .validate import load_inputs

    base = Path(base)
    inputs = {name: str(base / path) for name, path in config["inputs"].items()}
    tables = load_inputs(
        inputs, arm_classes=config.get("arm_classes"), modalities=config.get("modalities")
    )
    cfg = {
        "analyses": config["analyses"],
        "multiarm": config.get("multiarm", "split"),
        "rmst": config.get("rmst", {}),
        "dependence": config.get("dependence", "auto"),
    }
    out = harmonize(tables, cfg)
    effects = out["effects"]
    # A multilevel analysis keeps its arms whole; its univariate sensitivity pools need the
    # comparisons with the shared arm split and with the arms combined (methods.md §4).
    alternatives = [
        effects_for(tables, analysis, mode, cfg["rmst"])
        for analysis in cfg["analyses"]
        if multilevel(
            effects.loc[effects["analysis_id"] == analysis["id"], "study_id"], cfg["dependence"]
        )  # fmt: skip
        for mode in ("split", "combine")
    ]
    checksums = input_checksums(config["inputs"], base)
    return {
        "tables": tables,
        **out,
        "univariate": stack_effects(alternatives),
        "reconstructed": survival_extras(tables, cfg)["reconstructed"],
        "inputs": pd.DataFrame(checksums, columns=INPUT_COLUMNS),
    }


def pool_job(effects, univariate, config: dict, log=None) -> dict:
    """The pool job: {"pooled", "weights", "vcov", "bayes", "bayes_shrinkage", "bayes_tau"}
    DataFrames, "sensitivity": {(analysis id, table name): DataFrame} and "gosh":
    {analysis id: (table, labels) or (None, why)}. ``log(line)`` reports progress."""
    from .diagnostics import analysis_tables, diagnostic_rows, gosh_table, hazard_based_tables
    from .pool import bayes_tables, pool_tables

    log = log or (lambda line: None)
    dependence = config.get("dependence", "auto")
    pooling, sensitivity = config["pooling"], config.get("sensitivity") or {}
    out = pool_tables(effects, config, univariate)
    log(f"pooled {len(config['analyses'])} analyses")
    bayes = bayes_tables(effects, config, univariate)
    out |= {"bayes": bayes["bayes"], "bayes_shrinkage": bayes["shrinkage"],
            "bayes_tau": bayes["tau"]}  # fmt: skip
    out["sensitivity"], out["gosh"] = {}, {}
    hazard = hazard_based_tables(effects, univariate, config["analyses"], config)
    for i, analysis in enumerate(config["analyses"], 1):
        aid = analysis["id"]
        rows = effects[effects["analysis_id"] == aid].reset_index(drop=True)
        tables = analysis_tables(
            rows, analysis, pooling, sensitivity, univariate, dependence, hazard.get(aid)
        )
        out["sensitivity"] |= {(aid, name): df for name, df in tables.items()}
        declined = [f"{n}: {df['status'].iloc[0]}" for n, df in tables.items()
                    if len(df) and df["status"].ne("ok").all()]  # fmt: skip
        log(f"[{i}/{len(config['analyses'])}] {aid}: k = {len(rows)}, {len(tables)} tables"
            + "".join(f"\n  {d}" for d in declined))  # fmt: skip
        if sensitivity.get("gosh", False):
            diag = diagnostic_rows(rows, univariate, dependence)[0] if len(rows) else rows
            out["gosh"][aid] = gosh_table(diag, pooling, sensitivity)
            table = out["gosh"][aid][0]
            log(f"  gosh: {len(table) if table is not None else 0} subsets")
    return out


def figures_job(results: dict, analyses: list[dict], config: dict, workers: int = 1):
    """A figure shard's job: ({file path: svg} of the forest, funnel and GOSH plots, {marker
    key: svg} of the figures drawn only in the report) for ``analyses``."""
    from .figures.plots import all_figures, figure_keys
    from .outputs import FIGURE_SUFFIXES, figure_path
    from .report.assemble import inline_figures

    level = config.get("pooling", {}).get("level", 0.95)
    drawn = all_figures(analyses, results, level, workers=workers)
    files = {
        figure_path(aid, kind): svg
        for aid, svgs in drawn.items()
        for kind, svg in svgs.items()
        if kind in FIGURE_SUFFIXES
    }
    keys = {a["id"]: figure_keys(a, results) for a in analyses}
    return files, inline_figures(drawn, keys)


def render_job(results: dict, config: dict) -> str:
    """The rendering job: the report's HTML with a marker where each figure goes
    (report/assemble.py), so that it runs beside the figure jobs."""
    from .figures.plots import figure_keys
    from .report.assemble import markers
    from .report.build import render_results

    keys = {a["id"]: figure_keys(a, results) for a in config["analyses"]}
    return render_results(results, markers(keys), config)


def report_job(results: dict, config: dict, workers: int = 1) -> tuple[dict, str]:
    """Figures and report in one process: ({analysis id: {kind: svg}}, the report's HTML)
    from load_results' tables (what the figure, rendering and assembly jobs give)."""
    from .figures.plots import all_figures
    from .report.build import render_results

    level = config.get("pooling", {}).get("level", 0.95)
    drawn = all_figures(config["analyses"], results, level, workers=workers)
    return drawn, render_results(results, drawn, config)
