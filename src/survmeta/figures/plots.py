"""All figures of an analysis: forest, funnel and (when GOSH was run) the GOSH plot.

Reads nothing from disk: the script hands in the tables, this module picks the rows.
matplotlib is imported only inside the drawing functions.
"""

from __future__ import annotations

import pandas as pd

from .data import (
    analysis_effects,
    arm_events,
    between_test,
    class_label,
    main_rows,
)


def forest_for(
    analysis: dict,
    effects: pd.DataFrame,
    pooled: pd.DataFrame,
    arms: pd.DataFrame | None = None,
    subgroups: pd.DataFrame | None = None,
    level: float = 0.95,
) -> str:
    """The forest plot of one analysis (config entry ``analysis``)."""
    from .forest import forest_svg

    aid = analysis["id"]
    rows, fit = analysis_effects(effects, pooled, aid)
    rows = arm_events(rows, arms)
    mains = main_rows(pooled, aid)
    overall = fit if fit is not None else mains.get("all")
    return forest_svg(
        rows,
        overall,
        analysis.get("title") or aid,
        class_label(analysis.get("treatment")),
        class_label(analysis.get("control")),
        metric=analysis.get("metric", "log_hr"),
        subgroup_by=analysis.get("subgroups"),
        subgroup_rows={g: r for g, r in mains.items() if g != "all"},
        between=between_test(subgroups),
        level=level,
    )


def funnel_for(
    analysis: dict,
    effects: pd.DataFrame,
    pooled: pd.DataFrame,
    sensitivity: dict[str, pd.DataFrame] | None = None,
) -> str:
    """The funnel plot of one analysis, with trim-and-fill and the small-study tests."""
    from .funnel import funnel_svg

    aid = analysis["id"]
    rows, fit = analysis_effects(effects, pooled, aid)
    sens = sensitivity or {}
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


def gosh_for(analysis: dict, gosh: pd.DataFrame, pooled: pd.DataFrame) -> str:
    """The GOSH plot (estimate against I²) of one analysis."""
    from .gosh_plot import gosh_svg

    aid = analysis["id"]
    return gosh_svg(
        gosh,
        f"GOSH plot: {analysis.get('title') or aid}",
        metric=analysis.get("metric", "log_hr"),
        full=main_rows(pooled, aid).get("all"),
    )


def analysis_figures(
    analysis: dict,
    effects: pd.DataFrame,
    pooled: pd.DataFrame,
    *,
    arms: pd.DataFrame | None = None,
    sensitivity: dict[str, pd.DataFrame] | None = None,
    gosh: pd.DataFrame | None = None,
    level: float = 0.95,
) -> dict[str, str]:
    """SVG text per figure kind (``forest``, ``funnel`` and ``gosh`` when given)."""
    sens = sensitivity or {}
    out = {
        "forest": forest_for(analysis, effects, pooled, arms, sens.get("subgroups"), level),
        "funnel": funnel_for(analysis, effects, pooled, sens),
    }
    if gosh is not None:
        out["gosh"] = gosh_for(analysis, gosh, pooled)
    return out


def forest_plots(effects: pd.DataFrame, pooled: pd.DataFrame, analyses: list[dict]) -> dict:
    """Forest SVG text per analysis id (for the rule that writes only forest plots)."""
    return {a["id"]: forest_for(a, effects, pooled) for a in analyses}


_SHARED: dict = {}


def _draw_one(analysis: dict) -> dict[str, str]:
    s = _SHARED
    return analysis_figures(
        analysis,
        s["effects"],
        s["pooled"],
        arms=s["arms"],
        sensitivity=s["sensitivity"].get(analysis["id"], {}),
        gosh=s["gosh"].get(analysis["id"]),
        level=s["level"],
    )


def all_figures(analyses, effects, pooled, *, arms, sensitivity, gosh, level, workers=1):
    """{analysis id: {kind: svg}} for every analysis, drawn by ``workers`` processes.

    A forest plot takes a few tenths of a second; a 50-analysis review draws 150
    figures, so the job uses the cores snakemake gives it. Workers are forked
    with the tables already loaded; each figure is deterministic on its own, so
    the files do not depend on the number of workers.
    """
    _SHARED.update(
        effects=effects, pooled=pooled, arms=arms, sensitivity=sensitivity, gosh=gosh, level=level
    )
    analyses = list(analyses)
    if workers > 1 and len(analyses) > 2:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(min(workers, len(analyses))) as pool:
            drawn = pool.map(_draw_one, analyses, chunksize=1)
    else:
        drawn = [_draw_one(a) for a in analyses]
    return {a["id"]: svgs for a, svgs in zip(analyses, drawn, strict=True)}
