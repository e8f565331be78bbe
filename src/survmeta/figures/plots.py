"""All figures of an analysis: forest, funnel, and when their results exist the GOSH plot,
the posterior of tau and each reconstructed study's curves.

Reads nothing from disk: the script hands in the tables (report.build.load_results' dict;
a key that is absent or None means that result does not exist), this module picks the
rows. matplotlib is imported only inside the drawing functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .data import (
    arm_label,
    between_test,
    class_label,
    comparison_rows,
    main_rows,
    pooled_estimate,
    tau_curves,
)


@dataclass(frozen=True)
class Picked:
    """What the figures of one analysis read, picked from the tables once for all of them:
    its comparison rows (effects.csv with weights.csv's CI and weight), the main pooled.csv
    row of each subgroup (``all``: the whole analysis) and the main row when it is a pooled
    estimate."""

    rows: pd.DataFrame
    mains: dict[str, dict]
    fit: dict | None


def pick(analysis: dict, results: dict) -> Picked:
    aid = analysis["id"]
    mains = main_rows(results["pooled"], aid)
    rows = comparison_rows(results["effects"], results["weights"], aid)
    return Picked(rows, mains, pooled_estimate(mains.get("all")))


def forest_for(
    analysis: dict, results: dict, level: float = 0.95, picked: Picked | None = None
) -> str:
    """The forest plot of one analysis (config entry ``analysis``)."""
    from .forest import forest_svg

    aid = analysis["id"]
    p = picked or pick(analysis, results)
    mains = p.mains
    overall = p.fit if p.fit is not None else mains.get("all")
    sens = results.get("sensitivity", {}).get(aid, {})
    return forest_svg(
        p.rows,
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


def funnel_for(analysis: dict, results: dict, picked: Picked | None = None) -> str:
    """The funnel plot of one analysis, with trim-and-fill and the small-study tests."""
    from .funnel import funnel_svg

    aid = analysis["id"]
    p = picked or pick(analysis, results)
    sens = results.get("sensitivity", {}).get(aid, {})
    return funnel_svg(
        p.rows,
        p.fit,
        f"Funnel plot: {analysis.get('title') or aid}",
        metric=analysis.get("metric", "log_hr"),
        trimfill=sens.get("trimfill"),
        filled=sens.get("trimfill_filled"),
        regtest=sens.get("regtest"),
        ranktest=sens.get("ranktest"),
    )


def gosh_for(analysis: dict, results: dict, picked: Picked | None = None) -> str:
    """The GOSH plot (estimate against I²) of one analysis."""
    from .gosh_plot import gosh_svg

    aid = analysis["id"]
    return gosh_svg(
        results["gosh"][aid],
        f"GOSH plot: {analysis.get('title') or aid}",
        metric=analysis.get("metric", "log_hr"),
        full=(picked.mains if picked else main_rows(results["pooled"], aid)).get("all"),
    )


def bayes_tau_for(analysis: dict, results: dict) -> str | None:
    """The posterior density of tau under each prior (bayes_tau.csv, scales from
    bayes.csv), or None when the analysis has none."""
    from .bayes_plot import bayes_tau_svg

    aid = analysis["id"]
    curves = tau_curves(results.get("bayes_tau"), results.get("bayes"), aid)
    if not curves:
        return None
    return bayes_tau_svg(
        curves,
        f"Posterior density of τ: {analysis.get('title') or aid}",
        metric=analysis.get("metric", "log_hr"),
        key=f"{aid}/bayes_tau",
    )


def _rows(table: pd.DataFrame | None, study_id: str, outcome) -> pd.DataFrame | None:
    if table is None or table.empty:
        return None
    keep = table["study_id"].astype(str) == study_id
    if "outcome" in table:
        keep &= table["outcome"].astype(str) == str(outcome)
    return table[keep]


def _km_studies(analysis: dict, results: dict):
    """(study, outcome, its comparison rows, its rebuilt patients, arms) of every study of
    the analysis whose arms were reconstructed from digitized curves (reconstructed.csv)."""
    rec = results.get("reconstructed")
    if rec is None or rec.empty:
        return
    effects = results["effects"]
    rows = effects[effects["analysis_id"] == analysis["id"]]
    for sid, comps in rows.groupby(rows["study_id"].astype(str), sort=False):
        outcome = comps["outcome"].iloc[0] if "outcome" in comps else analysis.get("outcome")
        patients = _rows(rec, sid, outcome)
        if patients is None or patients.empty:
            continue
        rebuilt = set(patients["arm_id"].astype(str))
        pairs = comps[["treatment_arm", "control_arm"]].astype(str).to_numpy().ravel()
        arms = [a for a in dict.fromkeys(pairs) if a in rebuilt]  # treatment, control, ...
        if arms:
            yield sid, outcome, comps, patients, arms


def figure_keys(analysis: dict, results: dict) -> dict:
    """Which figures :func:`analysis_figures` draws for the analysis, without drawing them:
    {kind: True} and ``km``: [study ids] (the report leaves a place for each)."""
    out = {"forest": True, "funnel": True}
    if analysis["id"] in (results.get("gosh") or {}):
        out["gosh"] = True
    if tau_curves(results.get("bayes_tau"), results.get("bayes"), analysis["id"]):
        out["bayes_tau"] = True
    km = [sid for sid, *_ in _km_studies(analysis, results)]
    if km:
        out["km"] = km
    return out


def km_for(analysis: dict, results: dict, cache: dict | None = None) -> dict[str, str]:
    """{study_id: SVG} of every study of the analysis whose arms were reconstructed from
    digitized curves (reconstructed.csv): the rebuilt curves over the digitized points
    (km_points) with the numbers at risk (km_at_risk), and each comparison's ph_p.

    ``cache`` (a dict kept across the analyses of one set of results): a study shown under
    several analyses (its hazard ratio and its RMST difference) is drawn once, then given
    each analysis's ids.
    """
    from .km_overlay import km_overlay_svg
    from .svg import rekey

    aid = analysis["id"]
    out: dict[str, str] = {}
    for sid, outcome, comps, patients, arms in _km_studies(analysis, results):
        ph = {
            f"{arm_label(r['treatment_arm'])} vs {arm_label(r['control_arm'])}": r.get("ph_p")
            for r in comps.to_dict("records")
        }
        key = f"{aid}/km/{sid}"
        same = (sid, str(outcome), tuple(arms), tuple((k, str(p)) for k, p in ph.items()))
        if cache is not None and same in cache:
            drawn_key, svg = cache[same]
            out[sid] = rekey(svg, drawn_key, key)
            continue
        out[sid] = km_overlay_svg(
            _rows(results.get("km_points"), sid, outcome),
            _rows(results.get("km_at_risk"), sid, outcome),
            patients.assign(arm_id=patients["arm_id"].astype(str)),
            f"{sid}: Kaplan-Meier curves of the patients rebuilt from the digitized curves "
            f"({outcome})",
            arms=arms,
            ph_p=ph,
            key=key,
        )
        if cache is not None:
            cache[same] = (key, out[sid])
    return out


def analysis_figures(
    analysis: dict, results: dict, level: float = 0.95, cache: dict | None = None
) -> dict:
    """The figures of one analysis by kind: ``forest`` and ``funnel`` (SVG text), ``gosh``
    when GOSH was run, ``bayes_tau`` when bayes_tau.csv has the analysis, and ``km``
    ({study_id: SVG}) when some of its studies were reconstructed from digitized curves.
    ``cache``: see :func:`km_for`."""
    p = pick(analysis, results)
    out = {
        "forest": forest_for(analysis, results, level, p),
        "funnel": funnel_for(analysis, results, p),
    }
    if analysis["id"] in (results.get("gosh") or {}):
        out["gosh"] = gosh_for(analysis, results, p)
    bayes = bayes_tau_for(analysis, results)
    if bayes is not None:
        out["bayes_tau"] = bayes
    km = km_for(analysis, results, cache)
    if km:
        out["km"] = km
    return out


_SHARED: dict = {}


def _draw_one(analysis: dict) -> dict:
    return analysis_figures(analysis, _SHARED["results"], _SHARED["level"], _SHARED["cache"])


def all_figures(analyses, results: dict, level: float, workers: int = 1):
    """{analysis id: {kind: svg}} for every analysis (``km``: {study_id: svg}), drawn by
    ``workers`` processes.

    ``results`` is report.build.load_results' dict. A figure takes a few hundredths of a
    second (bench/figures.py) and a process's first one the import of matplotlib; a
    50-analysis review draws 150 and more, so the job uses the cores snakemake gives it.
    Workers are forked with the tables already loaded; each figure is deterministic on its
    own, so the files do not depend on the number of workers.
    """
    _SHARED.update(results=results, level=level, cache={})
    analyses = list(analyses)
    if workers > 1 and len(analyses) > 2:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(min(workers, len(analyses))) as pool:
            drawn = pool.map(_draw_one, analyses, chunksize=1)
    else:
        drawn = [_draw_one(a) for a in analyses]
    return {a["id"]: svgs for a, svgs in zip(analyses, drawn, strict=True)}
