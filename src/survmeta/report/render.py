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

from ..figures.data import analysis_effects, class_label, main_rows, prior_label
from ..numbers import (
    DASH,
    Scale,
    finite,
    fmt_int,
    fmt_interval,
    fmt_num,
    fmt_pct,
    fmt_text,
    p_eq,
)
from .audit import audit_trail, excluded_rows
from .grade import grade_draft
from .methods_text import MULTILEVEL_CAVEAT, Citer, methods_section
from .tables import (
    _fit_table,
    _is_ok,
    _records,
    _status,
    bayes_table,
    dependence_table,
    gosh_summary,
    hazard_based_table,
    influence_table,
    k_text,
    metareg_table,
    pooled_table,
    stat_text,
    study_table,
    subgroup_table,
    tests_table,
)

_DASH = DASH
_TEMPLATES = Path(__file__).parent / "templates"
_TESTS = {
    "z": "z",
    "knha": "Hartung-Knapp-Sidik-Jonkman",
    "t": "t",
    "adhoc": "Hartung-Knapp, ad hoc (never narrower than z)",
    "cr2": "cluster-robust CR2, Satterthwaite df",
}


def _summary(fit: dict | None, scale: Scale, level: str) -> dict:
    """The main result of an analysis (its main pooled.csv row) as the report's key figures."""
    if fit is None:
        return {"ok": False}
    ok = _is_ok(fit) and finite(fit.get("estimate"))
    mv = str(fit.get("model")) == "rma.mv"
    zero_width = ok and str(fit.get("ci_low")) == str(fit.get("ci_high"))
    q = (
        f"{fmt_num(fit.get('q'))} (df = {fmt_int(fit.get('q_df'))}, {p_eq(fit.get('q_p'))})"
        if finite(fit.get("q"))
        else _DASH
    )
    het = (
        f"σ² between studies = {fmt_num(fit.get('sigma2_study'))}, between comparisons of a "
        f"study = {fmt_num(fit.get('sigma2_comparison'))}; Q_E = {q}"
        if mv
        else f"tau² = {fmt_num(fit.get('tau2'))} "
        f"{fmt_interval(fit.get('tau2_ci_low'), fit.get('tau2_ci_high'))}"
        + (
            f" (profile likelihood {fmt_interval(fit.get('tau2_pl_low'), fit.get('tau2_pl_high'))})"
            if finite(fit.get("tau2_pl_low"))
            else ""
        )
        + f"; I² = {fmt_pct(fit.get('i2'))}; Q = {q}"
    )
    test = str(fit.get("test"))
    model = (
        f"multilevel (comparisons nested in studies), {fit.get('method')}, {_TESTS.get(test, test)}"
        if mv
        else f"random effects, {fit.get('method')}, {_TESTS.get(test, test)}"
    )
    short = f"{'multilevel, ' if mv else ''}{fit.get('method')}, {test}"
    return {
        "ok": ok,
        "multilevel": mv,
        "short": short,
        "zero_width": zero_width,
        "k": k_text(fit),
        "ci": scale.ci(fit.get("estimate"), fit.get("ci_low"), fit.get("ci_high")),
        "ci_parts": _parts(scale.ci(fit.get("estimate"), fit.get("ci_low"), fit.get("ci_high"))),
        "pi": scale.interval(fit.get("pi_low"), fit.get("pi_high")),
        "heterogeneity": het,
        "stat": stat_text(fit),
        "method": model,
        "status": _status(fit.get("status")),
    }


def _bayes_main(bayes: pd.DataFrame | None, scale: Scale) -> dict | None:
    """The main prior's posterior median and credible interval of the whole analysis."""
    if bayes is None or not len(bayes):
        return None
    rows = bayes[(bayes["subgroup"].astype(str) == "all") & bayes["main"].astype(bool)]
    if not len(rows):
        return None
    r = rows.iloc[0]
    return {
        "prior": prior_label(r["prior"], r["scale"]),
        "ci_parts": _parts(scale.ci(r["mu_median"], r["mu_ci_low"], r["mu_ci_high"])),
    }


def _parts(ci: str) -> tuple[str, str]:
    """'0.62 [0.45, 0.85]' as ('0.62', '[0.45, 0.85]'): the summary table wraps between
    them, never inside a number."""
    head, sep, tail = ci.partition(" [")
    return head, (sep.strip() + tail) if sep else ""


def _reading(k_studies: int, has_bayes: bool) -> str:
    """When to read which result (issue 15; Röver 2021, Friede 2017, Cochrane 2025)."""
    if k_studies >= 10:
        return (
            f"With {k_studies} studies the between-study variance is estimated with some "
            "precision: the frequentist result with its prediction interval is the main reading."
        )
    bayes = " and the Bayesian result with its weakly informative prior on τ" if has_bayes else ""
    return (
        f"With {k_studies} stud{'y' if k_studies == 1 else 'ies'} the between-study variance is "
        f"barely estimable and frequentist intervals are fragile: lean on the prediction "
        f"interval{bayes}, and read the frequentist CI as one reading among them."
    )


def _analysis(a, results: dict, figures: dict, pooling: dict) -> dict:
    aid = a["id"]
    metric = a.get("metric", "log_hr")
    scale = Scale(metric)
    level = f"{float(pooling['level']) * 100:g}%"
    effects, pooled = results["effects"], results["pooled"]
    sens = (results.get("sensitivity") or {}).get(aid, {})
    gosh = results.get("gosh") or {}
    rows, _ = analysis_effects(effects, pooled, results["weights"], aid)
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
    n_studies = rows["study_id"].nunique() if k else 0
    by = a.get("subgroups")
    drawn = figures.get(aid) or {}
    figs = {kind: Markup(svg) for kind, svg in drawn.items() if isinstance(svg, str)}
    bayes = results.get("bayes")
    bayes = bayes[bayes["analysis_id"] == aid] if bayes is not None and len(bayes) else None
    return {
        "id": aid,
        "title": a.get("title") or aid,
        "outcome": fmt_text(a.get("outcome")),
        "treatment": class_label(a.get("treatment")),
        "control": class_label(a.get("control")),
        "metric": metric,
        "ratio": scale.name,
        "level": level,
        "subgroups": by,
        "k": k,
        "n_studies": n_studies,
        "summary": _summary(fit, scale, level),
        "reading": _reading(n_studies, bayes is not None and len(bayes) > 0),
        "bayes_main": _bayes_main(bayes, scale),
        "figures": figs,
        "pooled": pooled_table(pool, scale, level),
        "dependence": dependence_table(pool, scale, level, pooling),
        "bayes": bayes_table(bayes, scale, level),
        "hazard_based": hazard_based_table(sens.get("hazard_based"), scale, level),
        "subgroup_table": subgroup_table(mains, sens, by, scale, level) if by else None,
        "tests": tests_table(sens, scale, n_studies),
        "leave1study": _fit_table(
            sens.get("leave1study"),
            "Leave one study out: the multilevel model without all of a study's comparisons",
            scale,
            level,
            "Study omitted",
        )  # fmt: skip
        if fit is not None and str(fit.get("model")) == "rma.mv" and "leave1study" in sens
        else None,
        "leave1out": _fit_table(
            sens.get("leave1out"),
            "Leave-one-out: the pool without each comparison",
            scale,
            level,
            "Comparison omitted",
        )  # fmt: skip
        if "leave1out" in sens
        else None,
        "cumul": _fit_table(
            sens.get("cumul"),
            "Cumulative meta-analysis, comparisons added in order of year",
            scale,
            level,
            "Comparison added",
            year=True,
        )  # fmt: skip
        if "cumul" in sens
        else None,
        "influence": influence_table(sens.get("influence")) if "influence" in sens else None,
        "metareg": metareg_table(sens.get("metareg"), scale, level) if "metareg" in sens else None,
        "gosh": gosh_summary(gosh.get(aid), scale) if aid in gosh else "",
        "grade": grade_draft(rows, fit_ok, sens, scale),
        "audit": audit_trail(
            rows, results.get("derivations"), metric, float(pooling["level"]), drawn.get("km")
        ),
        "excluded": excluded_rows(results.get("excluded"), aid),
        "methods_used": sorted(set(rows["source_method"].astype(str))) if k else [],
    }


def render_report(
    *,
    config: dict,
    effects: pd.DataFrame,
    pooled: pd.DataFrame,
    weights: pd.DataFrame,
    studies: pd.DataFrame,
    figures: dict | None = None,
    versions: dict[str, str] | None = None,
    inputs: list[tuple[str, str, str]] | None = None,
    config_text: str = "",
    **results,
) -> str:
    """Return the report HTML; everything but the package's own SVG is autoescaped.

    The result tables as load_results reads them (``effects``, ``pooled``, ``weights``,
    ``studies`` and, where the run has them, ``excluded``, ``derivations``, ``arms``,
    ``sensitivity`` {analysis_id: {table name: DataFrame}}, ``gosh`` {analysis_id: df},
    ``bayes``, ...); ``figures``: {analysis_id: {kind: svg text}} (``km``: {study_id: svg});
    ``inputs``: (table, path as configured, SHA-256) per input file; ``config_text``: the
    config as run (YAML).
    """
    results |= {"effects": effects, "pooled": pooled, "weights": weights}
    excluded = results.get("excluded")
    arms = results.get("arms")
    env = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    pooling = {"method": "REML", "test": "knha", "level": 0.95, **(config.get("pooling") or {})}
    figures = figures or {}
    analyses = [_analysis(a, results, figures, pooling) for a in config.get("analyses", [])]
    chosen = effects["source_method"].astype(str).value_counts() if len(effects) else {}
    cite = Citer()
    methods = methods_section(config, {m: int(n) for m, n in sorted(dict(chosen).items())}, cite)
    for c in methods["caveats"]:
        hits = effects[effects["source_method"].isin(c["methods"])] if len(effects) else effects
        c["applies"] = sorted({f"{r['study_id']} ({r['source_method']})" for r in _records(hits)})
    nested = [a["title"] for a in analyses if a["summary"].get("multilevel")]
    if nested:
        methods["caveats"].append({"text": MULTILEVEL_CAVEAT, "methods": (), "applies": nested})
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
