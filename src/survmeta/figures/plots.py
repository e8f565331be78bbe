"""All figures of an analysis: forest, funnel and (when GOSH was run) the GOSH plot.

Reads nothing from disk: the script hands in the tables, this module picks the rows.
matplotlib is imported only inside the drawing functions.
"""

from __future__ import annotations

from .data import analysis_effects, arm_events, between_test, class_label, main_rows


def forest_for(analysis: dict, results: dict, level: float = 0.95) -> str:
    """The forest plot of one analysis (config entry ``analysis``)."""
    from .forest import forest_svg

    aid = analysis["id"]
    rows, fit = analysis_effects(results["effects"], results["pooled"], results["weights"], aid)
    rows = arm_events(rows, results.get("arms"))
    mains = main_rows(results["pooled"], aid)
    overall = fit if fit is not None else mains.get("all")
    sens = results.get("sensitivity", {}).get(aid, {})
    return forest_svg(
        rows,
        overall,
        analysis.get("title") or aid,
        class_label(analysis.get("treatment")),
        class_label(analysis.get("control")),
        metric=analysis.get("metric", "log_hr"),
        subgroup_by=analysis.get("subgroups"),
        subgroup_rows={g: r for g, r in mains.items() if g != "all"},
        between=between_test(sens.get("subgroups")),
        level=level,
    )


def funnel_for(analysis: dict, results: dict) -> str:
    """The funnel plot of one analysis, with trim-and-fill and the small-study tests."""
    from .funnel import funnel_svg

    aid = analysis["id"]
    rows, fit = analysis_effects(results["effects"], results["pooled"], results["weights"], aid)
    sens = results.get("sensitivity", {}).get(aid, {})
    return funnel_svg(
        rows,
        fit,
        f"Funnel plot: {analysis.get('title') or aid}",
        metric=analysis.get("metric", "log_hr"),
        trimfill=sens.get("trimfill"),
        filled=sens.get("trimfill_filled"),
        regtest=sens.get("regtest"),
        ranktest=sens.get("ranktest"),
    )


def gosh_for(analysis: dict, results: dict) -> str:
    """The GOSH plot (estimate against I²) of one analysis."""
    from .gosh_plot import gosh_svg

    aid = analysis["id"]
    return gosh_svg(
        results["gosh"][aid],
        f"GOSH plot: {analysis.get('title') or aid}",
        metric=analysis.get("metric", "log_hr"),
        full=main_rows(results["pooled"], aid).get("all"),
    )


def analysis_figures(analysis: dict, results: dict, level: float = 0.95) -> dict[str, str]:
    """SVG text per figure kind (``forest``, ``funnel``, and ``gosh`` when it was run)."""
    out = {"forest": forest_for(analysis, results, level), "funnel": funnel_for(analysis, results)}
    if analysis["id"] in results.get("gosh", {}):
        out["gosh"] = gosh_for(analysis, results)
    return out


_SHARED: dict = {}


def _draw_one(analysis: dict) -> dict[str, str]:
    return analysis_figures(analysis, _SHARED["results"], _SHARED["level"])


def all_figures(analyses, results: dict, level: float, workers: int = 1):
    """{analysis id: {kind: svg}} for every analysis, drawn by ``workers`` processes.

    ``results`` is report.build.load_results' dict. A forest plot takes a few tenths
    of a second; a 50-analysis review draws 150 figures, so the job uses the cores
    snakemake gives it. Workers are forked with the tables already loaded; each
    figure is deterministic on its own, so the files do not depend on the number of
    workers.
    """
    _SHARED.update(results=results, level=level)
    analyses = list(analyses)
    if workers > 1 and len(analyses) > 2:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(min(workers, len(analyses))) as pool:
            drawn = pool.map(_draw_one, analyses, chunksize=1)
    else:
        drawn = [_draw_one(a) for a in analyses]
    return {a["id"]: svgs for a, svgs in zip(analyses, drawn, strict=True)}
