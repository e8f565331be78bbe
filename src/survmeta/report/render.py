"""Render the reviewer's report: one self-contained HTML file (jinja2, everything escaped).

The template only lays out what this module prepares: every number is formatted by
survmeta.numbers, every table is a :class:`~.tables.Table` of text cells (tables.py), the
audit trail comes from audit.py, and jinja2's autoescaping shows any markup in a citation,
quote or note as text. The only unescaped content is the SVG that
``survmeta.figures`` drew (whose text matplotlib escapes).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from ..figures.data import analysis_effects, arm_events, class_label, main_rows
from ..numbers import (
    DASH,
    finite,
    fmt_ci,
    fmt_int,
    fmt_interval,
    fmt_num,
    fmt_pct,
    fmt_ratio_interval,
    fmt_text,
    p_eq,
)
from .audit import audit_trail, excluded_rows
from .grade import grade_draft
from .methods_text import Citer, methods_section
from .tables import (
    _fit_table,
    _is_ok,
    _records,
    _status,
    gosh_summary,
    influence_table,
    metareg_table,
    pooled_table,
    study_table,
    subgroup_table,
    tests_table,
)

_DASH = DASH
_TEMPLATES = Path(__file__).parent / "templates"
_TESTS = {"z": "z", "knha": "Hartung-Knapp-Sidik-Jonkman"}


def _summary(fit: dict | None, ratio_name: str, level: str) -> dict:
    if fit is None:
        return {"ok": False}
    ok = _is_ok(fit) and finite(fit.get("hr"))
    knha = str(fit.get("test")) == "knha"
    stat = _DASH
    if finite(fit.get("stat")):
        df = f", df = {int(fit['k']) - 1}" if knha and finite(fit.get("k")) else ""
        stat = f"{'t' if knha else 'z'} = {fmt_num(fit['stat'])}{df}, {p_eq(fit.get('p'))}"
    return {
        "ok": ok,
        "k": fmt_int(fit.get("k")),
        "ci": fmt_ci(fit.get("hr"), fit.get("hr_ci_low"), fit.get("hr_ci_high")),
        "pi": fmt_ratio_interval(fit.get("hr_pi_low"), fit.get("hr_pi_high")),
        "tau2": fmt_num(fit.get("tau2")),
        "tau2_ci": fmt_interval(fit.get("tau2_ci_low"), fit.get("tau2_ci_high")),
        "i2": fmt_pct(fit.get("i2")),
        "q": f"{fmt_num(fit.get('q'))} (df = {fmt_int(fit.get('q_df'))}, {p_eq(fit.get('q_p'))})"
        if finite(fit.get("q"))
        else _DASH,
        "stat": stat,
        "method": f"{fit.get('method')}, {_TESTS.get(str(fit.get('test')), fit.get('test'))}",
        "status": _status(fit.get("status")),
    }


def _analysis(a, effects, excluded, derivations, pooled, weights, arms, sens, gosh, figures,
              pooling):  # fmt: skip
    aid = a["id"]
    metric = a.get("metric", "log_hr")
    ratio_name = "Ratio of medians" if metric == "log_mr" else "HR"
    level = f"{float(pooling['level']) * 100:g}%"
    rows, _ = analysis_effects(effects, pooled, weights, aid)
    rows = arm_events(rows, arms)
    order = pd.to_numeric(rows.get("year"), errors="coerce") if "year" in rows else None
    if order is not None:
        rows = (
            rows.assign(_y=order).sort_values(["_y", "study_id"], kind="stable").drop(columns="_y")
        )
    pool = pooled[pooled["analysis_id"] == aid] if len(pooled) else pooled
    mains = main_rows(pooled, aid)
    fit = mains.get("all")
    fit_ok = fit if fit is not None and _is_ok(fit) and finite(fit.get("estimate")) else None
    k = len(rows)
    by = a.get("subgroups")
    figs = {kind: Markup(svg) for kind, svg in (figures.get(aid) or {}).items()}
    return {
        "id": aid,
        "title": a.get("title") or aid,
        "outcome": fmt_text(a.get("outcome")),
        "treatment": class_label(a.get("treatment")),
        "control": class_label(a.get("control")),
        "metric": metric,
        "ratio": ratio_name,
        "level": level,
        "subgroups": by,
        "k": k,
        "n_studies": rows["study_id"].nunique() if k else 0,
        "summary": _summary(fit, ratio_name, level),
        "figures": figs,
        "pooled": pooled_table(pool, ratio_name, level, pooling),
        "subgroup_table": subgroup_table(mains, sens, by, ratio_name, level) if by else None,
        "tests": tests_table(sens, ratio_name, k),
        "leave1out": _fit_table(
            sens.get("leave1out"),
            "Leave-one-out: the pool without each comparison",
            ratio_name,
            level,
            "Comparison omitted",
        )
        if "leave1out" in sens
        else None,
        "cumul": _fit_table(
            sens.get("cumul"),
            "Cumulative meta-analysis, comparisons added in order of year",
            ratio_name,
            level,
            "Comparison added",
            year=True,
        )
        if "cumul" in sens
        else None,
        "influence": influence_table(sens.get("influence")) if "influence" in sens else None,
        "metareg": metareg_table(sens.get("metareg"), ratio_name, level)
        if "metareg" in sens
        else None,
        "gosh": gosh_summary(gosh.get(aid), metric) if aid in gosh else "",
        "grade": grade_draft(rows, fit_ok, sens),
        "audit": audit_trail(rows, derivations, metric, float(pooling["level"])),
        "excluded": excluded_rows(excluded, aid),
        "methods_used": sorted(set(rows["source_method"].astype(str))) if k else [],
    }


def render_report(
    *,
    config: dict,
    effects: pd.DataFrame,
    excluded: pd.DataFrame | None,
    derivations: pd.DataFrame | None,
    pooled: pd.DataFrame,
    weights: pd.DataFrame,
    studies: pd.DataFrame,
    arms: pd.DataFrame | None = None,
    sensitivity: dict[str, dict[str, pd.DataFrame]] | None = None,
    gosh: dict[str, pd.DataFrame] | None = None,
    figures: dict[str, dict[str, str]] | None = None,
    versions: dict[str, str] | None = None,
    inputs: list[tuple[str, str, str]] | None = None,
    config_text: str = "",
) -> str:
    """Return the report HTML; everything but the package's own SVG is autoescaped.

    ``sensitivity``: {analysis_id: {table name: DataFrame}}; ``gosh``: {analysis_id: df};
    ``figures``: {analysis_id: {"forest"|"funnel"|"gosh": svg text}}; ``inputs``: (table,
    path as configured, SHA-256) per input file; ``config_text``: the config as run (YAML).
    """
    env = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    pooling = {"method": "REML", "test": "knha", "level": 0.95, **(config.get("pooling") or {})}
    sensitivity = sensitivity or {}
    gosh = gosh or {}
    figures = figures or {}
    analyses = [
        _analysis(
            a,
            effects,
            excluded,
            derivations,
            pooled,
            weights,
            arms,
            sensitivity.get(a["id"], {}),
            gosh,
            figures,
            pooling,
        )
        for a in config.get("analyses", [])
    ]
    chosen = effects["source_method"].astype(str).value_counts() if len(effects) else {}
    cite = Citer()
    methods = methods_section(config, {m: int(n) for m, n in sorted(dict(chosen).items())}, cite)
    for c in methods["caveats"]:
        hits = effects[effects["source_method"].isin(c["methods"])] if len(effects) else effects
        c["applies"] = sorted({f"{r['study_id']} ({r['source_method']})" for r in _records(hits)})
    background = str(config.get("background") or "").strip()
    ctx = {
        "title": config.get("title") or "Meta-analysis report",
        "background": [p.strip() for p in background.split("\n\n") if p.strip()],
        "pooling": pooling,
        "level": f"{float(pooling['level']) * 100:g}%",
        "analyses": analyses,
        "methods": methods,
        "references": cite.listing(),
        "studies": study_table(studies, arms, effects),
        "excluded_all": excluded_rows(excluded, None)
        if excluded is not None and "analysis_id" not in excluded
        else [],
        "versions": list((versions or {}).items()),
        "inputs": inputs or [],
        "config_text": config_text,
    }
    return env.get_template("index.html.j2").render(**ctx)
