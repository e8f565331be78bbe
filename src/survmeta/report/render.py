"""Render the reviewer's report: one self-contained HTML file (jinja2, everything escaped).

The template only lays out what this module prepares: every number is formatted here, every
table is a :class:`Table` of text cells, and jinja2's autoescaping shows any markup in a
citation, quote or note as text. The only unescaped content is the SVG that
``survmeta.figures`` drew (whose text matplotlib escapes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from ..figures.data import (
    BETWEEN_LABEL,
    analysis_effects,
    arm_events,
    arm_label,
    class_label,
    finite,
    main_rows,
    status_ok,
)
from .grade import grade_draft
from .methods_text import Citer, method_info, methods_section

_DASH = "–"
_TEMPLATES = Path(__file__).parent / "templates"
_TESTS = {"z": "z", "knha": "Hartung-Knapp-Sidik-Jonkman"}


# ---------------------------------------------------------------- number formats


def _missing(x) -> bool:
    if x is None:
        return True
    if isinstance(x, str):
        return not x.strip()
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def fmt_num(x, digits: int = 3) -> str:
    """3 decimals, or 3 significant digits for small values so tau² ~ 0.001 stays visible."""
    if _missing(x):
        return _DASH
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if v == 0 or abs(v) >= 0.1:
        return f"{v:.{digits}f}"
    return f"{v:.{digits}g}"


def fmt_g(x, digits: int = 6) -> str:
    """Significant digits, for the audit trail's yi and vi (enough to recompute by hand)."""
    if _missing(x):
        return _DASH
    try:
        return f"{float(x):.{digits}g}"
    except (TypeError, ValueError):
        return str(x)


def fmt_int(x) -> str:
    if _missing(x):
        return _DASH
    try:
        return str(int(float(x)))
    except (TypeError, ValueError):
        return str(x)


def fmt_p(x) -> str:
    if _missing(x):
        return _DASH
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    return "< 0.001" if v < 0.001 else f"{v:.3f}"


def p_eq(x) -> str:
    """'p = 0.109' or 'p < 0.001'."""
    v = fmt_p(x)
    return f"p {v}" if v.startswith("<") else f"p = {v}"


def fmt_pct(x, digits: int = 1) -> str:
    return _DASH if not finite(x) else f"{float(x):.{digits}f}%"


def fmt_text(x) -> str:
    return _DASH if _missing(x) else str(x)


def fmt_ci(est, lo, hi) -> str:
    """'0.304 [0.0568, 1.626]' (numbers as given, e.g. pooled.csv's hr columns)."""
    return _DASH if _missing(est) else f"{fmt_num(est)} [{fmt_num(lo)}, {fmt_num(hi)}]"


def _exp(x):
    return math.exp(float(x)) if finite(x) else None


def fmt_ci_log(est, lo, hi) -> str:
    """The ratio and its CI from log-scale values."""
    return fmt_ci(_exp(est), _exp(lo), _exp(hi))


def fmt_interval(lo, hi) -> str:
    return _DASH if _missing(lo) else f"[{fmt_num(lo)}, {fmt_num(hi)}]"


# ---------------------------------------------------------------- tables


@dataclass
class Table:
    """A table as text: the template adds <th scope>, numeric alignment and row classes."""

    caption: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    numeric: set[int] = field(default_factory=set)
    row_class: list[str] = field(default_factory=list)
    note: str = ""
    id: str = ""

    def add(self, cells: list, cls: str = "") -> None:
        self.rows.append([c if isinstance(c, str | list) else fmt_text(c) for c in cells])
        self.row_class.append(cls)


def _status(x) -> str:
    return "ok" if _missing(x) else str(x)


def _is_ok(row: dict) -> bool:
    return _status(row.get("status")) == "ok"


def _comparison(r: dict) -> str:
    """'Study: treatment arm vs control arm' (arm ids as words)."""
    return (
        f"{r.get('study_id')}: {arm_label(r.get('treatment_arm'))} vs "
        f"{arm_label(r.get('control_arm'))}"
    )


def _records(df: pd.DataFrame | None) -> list[dict]:
    if df is None or df.empty:
        return []
    return df.astype(object).where(df.notna(), None).to_dict("records")


# ---------------------------------------------------------------- per-analysis parts


def pooled_table(pool: pd.DataFrame, ratio: str, level: str, pooling: dict) -> Table:
    """Every method x test of the overall pool, the main analysis first (sensitivity table)."""
    t = Table(
        "Pooled estimates by tau² estimator and test (main analysis first, marked ★)",
        [
            "Method",
            "Test",
            "k",
            f"{ratio} [{level} CI]",
            f"{level} prediction interval",
            "tau² [CI]",
            "I²",
            "H²",
            "Q (df, p)",
            "Test of effect",
            "Status",
        ],
        numeric={2, 3, 4, 5, 6, 7, 8, 9},
        note="Overall pool (subgroup 'all') of results/pooled.csv; tau² (with its Q-profile CI) "
        "and Q on the log scale. Test of effect: t (Hartung-Knapp-Sidik-Jonkman, k − 1 df) or z.",
    )
    rows = _records(pool[pool["subgroup"].astype(str) == "all"]) if len(pool) else []
    main = (str(pooling["method"]), str(pooling["test"]))
    rows.sort(key=lambda r: (str(r["method"]), str(r["test"])) != main)
    for r in rows:
        is_main = (str(r["method"]), str(r["test"])) == main
        q = (
            _DASH
            if _missing(r.get("q"))
            else f"{fmt_num(r['q'])} ({fmt_int(r.get('q_df'))}, {fmt_p(r.get('q_p'))})"
        )
        tau2 = fmt_num(r.get("tau2"))
        if not _missing(r.get("tau2_ci_low")):
            tau2 += f" {fmt_interval(r.get('tau2_ci_low'), r.get('tau2_ci_high'))}"
        stat = _DASH
        if not _missing(r.get("stat")):
            name = "t" if str(r.get("test")) == "knha" else "z"
            stat = f"{name} = {fmt_num(r['stat'])}, {p_eq(r.get('p'))}"
        t.add(
            [
                f"{r['method']}{' ★' if is_main else ''}",
                str(r["test"]),
                fmt_int(r.get("k")),
                fmt_ci(r.get("hr"), r.get("hr_ci_low"), r.get("hr_ci_high")),
                fmt_interval(r.get("hr_pi_low"), r.get("hr_pi_high")),
                tau2,
                fmt_pct(r.get("i2")),
                fmt_num(r.get("h2")),
                q,
                stat,
                _status(r.get("status")),
            ],
            "main" if is_main else "",
        )
    return t


def subgroup_table(mains: dict[str, dict], sens: dict, by: str, ratio: str, level: str) -> Table:
    t = Table(
        f"Subgroups by {by} (each with its own tau², main method and test)",
        ["Subgroup", "k", f"{ratio} [{level} CI]", "tau²", "I²", "Q (df, p)", "Status"],
        numeric={1, 2, 3, 4, 5},
    )
    for g, r in sorted((g, r) for g, r in mains.items() if g != "all"):
        q = (
            _DASH
            if _missing(r.get("q")) or (finite(r.get("k")) and r["k"] < 2)
            else (f"{fmt_num(r['q'])} ({fmt_int(r.get('q_df'))}, {fmt_p(r.get('q_p'))})")
        )
        t.add(
            [
                g,
                fmt_int(r.get("k")),
                fmt_ci(r.get("hr"), r.get("hr_ci_low"), r.get("hr_ci_high")),
                fmt_num(r.get("tau2")),
                fmt_pct(r.get("i2")),
                q,
                _status(r.get("status")),
            ]
        )
    notes = []
    sg = sens.get("subgroups")
    if sg is not None and "subgroup" in sg:
        b = sg[sg["subgroup"].astype(str) == BETWEEN_LABEL]
        if len(b):
            b = b.iloc[0]
            if finite(b.get("q_between")):
                notes.append(
                    f"Test for subgroup differences (separate tau²): Q = "
                    f"{fmt_num(b['q_between'])}, df = {fmt_int(b.get('df_between'))}, "
                    f"{p_eq(b.get('p_between'))}."
                )
            else:
                notes.append(f"Test for subgroup differences: {_status(b.get('status'))}.")
    else:
        notes.append("Test for subgroup differences: not available (subgroups.csv missing).")
    common = sens.get("subgroups_common")
    if common is not None and len(common):
        c = common.iloc[0]
        if finite(c.get("qm")):
            notes.append(
                f"Common-tau² model (meta-regression on {by}): QM = {fmt_num(c['qm'])}, "
                f"{p_eq(c.get('qmp'))}."
            )
    t.note = " ".join(notes)
    return t


def _fit_table(df: pd.DataFrame | None, caption: str, ratio: str, first: str, year=False):
    """leave1out / cumul: one refit per row."""
    heads = (
        [first]
        + (["Year"] if year else [])
        + [f"{ratio} [95% CI]", "p", "tau²", "I²", "Q (p)", "Status"]
    )
    off = 1 + year
    t = Table(caption, heads, numeric={off, off + 1, off + 2, off + 3, off + 4})
    for r in _records(df):
        ci = fmt_ci_log(r.get("estimate"), r.get("ci_lb"), r.get("ci_ub"))
        q = _DASH if _missing(r.get("q")) else f"{fmt_num(r['q'])} ({fmt_p(r.get('qp'))})"
        t.add(
            [_comparison(r)]
            + ([fmt_int(r.get("year"))] if year else [])
            + [
                ci,
                fmt_p(r.get("pval")),
                fmt_num(r.get("tau2")),
                fmt_pct(r.get("i2")),
                q,
                _status(r.get("status")),
            ]
        )
    return t


def influence_table(df: pd.DataFrame | None) -> Table:
    t = Table(
        "Influence diagnostics (metafor influence(); ‘yes’ = influential by metafor's criteria)",
        [
            "Comparison",
            "rstudent",
            "DFFITS",
            "Cook's d",
            "cov. ratio",
            "tau² deleted",
            "Q deleted",
            "hat",
            "weight",
            "Influential",
            "Status",
        ],
        numeric=set(range(1, 9)),
    )
    for r in _records(df):
        inf = r.get("inf")
        infl = _DASH if inf is None else ("yes" if str(inf).lower() in ("true", "1") else "no")
        t.add(
            [
                _comparison(r),
                fmt_num(r.get("rstudent")),
                fmt_num(r.get("dffits")),
                fmt_num(r.get("cook_d")),
                fmt_num(r.get("cov_r")),
                fmt_num(r.get("tau2_del")),
                fmt_num(r.get("qe_del")),
                fmt_num(r.get("hat")),
                fmt_pct(r.get("weight")),
                infl,
                _status(r.get("status")),
            ],
            "flag" if infl == "yes" else "",
        )
    return t


def tests_table(sens: dict, ratio: str, k: int) -> Table:
    """Egger, Begg, trim-and-fill and the permutation test in one table."""
    t = Table(
        "Small-study effects and robustness tests (main method and test)",
        ["Test", "Statistic", "p", "Estimate", "Status"],
        numeric={1, 2},
    )

    def row(name, df, stat, p, est):
        ok, why = status_ok(df)
        if not ok:
            t.add([name, _DASH, _DASH, _DASH, why])
            return
        r = df.iloc[0].to_dict()
        t.add([name, stat(r), fmt_p(r.get(p)) if p else _DASH, est(r), "ok"])

    row(
        "Egger's regression test (predictor: SE)",
        sens.get("regtest"),
        lambda r: (
            f"t = {fmt_num(r['zval'])}, df = {fmt_int(r['dfs'])}"
            if finite(r.get("dfs"))
            else f"z = {fmt_num(r.get('zval'))}"
        ),
        "pval",
        lambda r: (
            f"limit estimate {ratio} {fmt_ci_log(r.get('est'), r.get('ci_lb'), r.get('ci_ub'))}"
        ),
    )
    row(
        "Begg's rank correlation test",
        sens.get("ranktest"),
        lambda r: f"Kendall's tau = {fmt_num(r.get('tau'))}",
        "pval",
        lambda r: _DASH,
    )
    row(
        "Trim-and-fill (L0)",
        sens.get("trimfill"),
        lambda r: f"k0 = {fmt_int(r.get('k0'))} ({fmt_text(r.get('side'))} side)",
        None,
        lambda r: (
            f"adjusted {ratio} {fmt_ci_log(r.get('estimate'), r.get('ci_lb'), r.get('ci_ub'))}"
        ),
    )
    row(
        "Permutation test of the overall effect",
        sens.get("permutest"),
        lambda r: (
            f"{fmt_int(r.get('iter'))} "
            f"{'permutations (exact)' if str(r.get('exact')).lower() == 'true' else 'iterations'}"
        ),
        "pval",
        lambda r: _DASH,
    )
    if k < 10:
        t.note = (
            f"With {k} comparison{'s' * (k != 1)} the funnel-plot tests have little power "
            "(Sterne et al. 2011 recommend at least 10); read them as descriptive."
        )
    return t


def metareg_table(df: pd.DataFrame | None, ratio: str) -> Table:
    t = Table(
        "Meta-regression (one moderator at a time; coefficients on the log scale)",
        [
            "Moderator",
            "Term",
            "Coefficient",
            f"exp (× {ratio})",
            "SE",
            "Statistic",
            "p",
            "95% CI",
            "QM (p)",
            "R²",
            "Status",
        ],
        numeric=set(range(2, 10)),
    )
    for r in _records(df):
        t.add(
            [
                fmt_text(r.get("moderator")),
                fmt_text(r.get("term")),
                fmt_num(r.get("estimate")),
                fmt_num(_exp(r.get("estimate"))),
                fmt_num(r.get("se")),
                fmt_num(r.get("zval")),
                fmt_p(r.get("pval")),
                fmt_interval(r.get("ci_lb"), r.get("ci_ub")),
                f"{fmt_num(r.get('qm'))} ({fmt_p(r.get('qmp'))})",
                fmt_pct(r.get("r2")),
                _status(r.get("status")),
            ]
        )
    return t


def gosh_summary(gosh: pd.DataFrame | None, metric: str) -> str:
    if gosh is None or gosh.empty:
        return ""
    est = pd.to_numeric(gosh["estimate"], errors="coerce").dropna()
    i2 = pd.to_numeric(gosh["i2"], errors="coerce").dropna()
    if est.empty:
        return f"{len(gosh)} subsets; no estimates."
    favour = (est > 0) if metric == "log_mr" else (est < 0)
    word = "above" if metric == "log_mr" else "below"
    return (
        f"{len(gosh)} subsets of comparisons. Their pooled estimates range from "
        f"{math.exp(est.min()):.2f} to {math.exp(est.max()):.2f} ({favour.mean():.0%} {word} 1); "
        f"I² from {i2.min():.0f}% to {i2.max():.0f}%."
    )


def _arm_text(r: dict, side: str) -> str:
    """'hepatic_resection (n = 58, events 40)': the arm as the study reported it."""
    events = r.get(f"events_{side}")
    ev = f", events {fmt_int(events)}" if finite(events) else ""
    return f"{fmt_text(r.get(f'{side}_arm'))} (n = {fmt_int(r.get(f'n_{side}'))}{ev})"


def audit_trail(rows: pd.DataFrame, derivations: pd.DataFrame | None, metric: str) -> list[dict]:
    """One entry per comparison: as reported, source, quote, method and formula, assumptions,
    result; and every alternative derivation side by side (results/derivations.csv)."""
    z = NormalDist().inv_cdf(0.975)
    out = []
    ratio = "ratio" if metric == "log_mr" else "HR"
    for r in _records(rows):
        info = method_info(r.get("source_method"))
        formula = info.formula_mr if metric == "log_mr" and info.formula_mr else info.formula
        alts = []
        if derivations is not None and len(derivations):
            d = derivations[
                (derivations["analysis_id"] == r.get("analysis_id"))
                & (derivations["study_id"].astype(str) == str(r.get("study_id")))
                & (derivations["treatment_arm"].astype(str) == str(r.get("treatment_arm")))
                & (derivations["control_arm"].astype(str) == str(r.get("control_arm")))
            ]
            if "metric" in d:
                d = d[d["metric"].astype(str) == metric]
            for a in _records(d):
                chosen = str(a.get("chosen")).lower() in ("true", "1")
                ai = method_info(a.get("source_method"))
                shift = (
                    f"× {math.exp(float(a['yi']) - float(r['yi'])):.2f}"
                    if finite(a.get("yi")) and finite(r.get("yi"))
                    else _DASH
                )
                se = math.sqrt(a["vi"]) if finite(a.get("vi")) and a["vi"] > 0 else None
                alts.append(
                    {
                        "method": str(a.get("source_method")),
                        "label": ai.label,
                        "chosen": chosen,
                        "yi": fmt_g(a.get("yi")),
                        "vi": fmt_g(a.get("vi")),
                        "ci": fmt_ci_log(
                            a.get("yi"),
                            a["yi"] - z * se if se else None,
                            a["yi"] + z * se if se else None,
                        ),
                        "shift": "chosen" if chosen else shift,
                        "assumptions": fmt_text(a.get("assumptions")),
                        "flags": fmt_text(a.get("flags")) if not _missing(a.get("flags")) else "",
                    }
                )
            alts.sort(key=lambda a: not a["chosen"])
        se = r.get("sei")
        out.append(
            {
                "id": f"{r.get('analysis_id')}-{len(out) + 1}",
                "title": _comparison(r),
                "study_id": fmt_text(r.get("study_id")),
                "treatment": _arm_text(r, "treatment"),
                "control": _arm_text(r, "control"),
                "reported": fmt_text(r.get("reported")),
                "source": fmt_text(r.get("source")),
                "quote": fmt_text(r.get("quote")),
                "method": fmt_text(r.get("source_method")),
                "method_label": info.label,
                "formula": formula,
                "caveat": info.caveat,
                "assumptions": [
                    s.strip() for s in str(r.get("assumptions") or "").split(";") if s.strip()
                ],
                "flags": fmt_text(r.get("flags")) if not _missing(r.get("flags")) else "",
                "yi": fmt_g(r.get("yi")),
                "vi": fmt_g(r.get("vi")),
                "sei": fmt_g(se),
                "ratio": ratio,
                "ci": fmt_ci_log(
                    r.get("yi"),
                    r["yi"] - z * se if finite(se) else None,
                    r["yi"] + z * se if finite(se) else None,
                ),
                "weight": fmt_pct(r.get("weight")),
                "alternatives": alts if len(alts) > 1 else [],
            }
        )
    return out


def excluded_rows(excluded: pd.DataFrame | None, aid: str | None) -> list[dict]:
    """Excluded comparisons (of one analysis when the table says which) with the reasons split."""
    if excluded is None or excluded.empty:
        return []
    df = excluded
    if aid is not None and "analysis_id" in df:
        df = df[df["analysis_id"] == aid]
    out = []
    for r in _records(df):
        reason = fmt_text(r.get("reason"))
        head, _, rest = reason.partition(": ")
        parts = [p.strip() for p in rest.split("; ")] if rest and head == "not estimable" else []
        out.append(
            {
                "comparison": _comparison(r),
                "outcome": fmt_text(r.get("outcome")),
                "reason": reason if not parts else "Not estimable by any method:",
                "parts": parts,
            }
        )
    return out


def _summary(fit: dict | None, ratio: str, level: str) -> dict:
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
        "pi": fmt_interval(fit.get("hr_pi_low"), fit.get("hr_pi_high")),
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
    ratio = "Ratio of medians" if metric == "log_mr" else "HR"
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
        "ratio": ratio,
        "level": level,
        "subgroups": by,
        "k": k,
        "n_studies": rows["study_id"].nunique() if k else 0,
        "summary": _summary(fit, ratio, level),
        "figures": figs,
        "pooled": pooled_table(pool, ratio, level, pooling),
        "subgroup_table": subgroup_table(mains, sens, by, ratio, level) if by else None,
        "tests": tests_table(sens, ratio, k),
        "leave1out": _fit_table(
            sens.get("leave1out"),
            "Leave-one-out: the pool without each comparison",
            ratio,
            "Comparison omitted",
        )
        if "leave1out" in sens
        else None,
        "cumul": _fit_table(
            sens.get("cumul"),
            "Cumulative meta-analysis, comparisons added in order of year",
            ratio,
            "Comparison added",
            year=True,
        )
        if "cumul" in sens
        else None,
        "influence": influence_table(sens.get("influence")) if "influence" in sens else None,
        "metareg": metareg_table(sens.get("metareg"), ratio) if "metareg" in sens else None,
        "gosh": gosh_summary(gosh.get(aid), metric) if aid in gosh else "",
        "grade": grade_draft(rows, fit_ok, sens),
        "audit": audit_trail(rows, derivations, metric),
        "excluded": excluded_rows(excluded, aid),
        "methods_used": sorted(set(rows["source_method"].astype(str))) if k else [],
    }


def study_table(studies: pd.DataFrame, arms: pd.DataFrame | None, effects: pd.DataFrame) -> Table:
    """Design, risk of bias, population notes and arms of every study (and any extra column)."""
    skip = {"study_id", "citation", "doi", "year", "source", "quote"}
    cols = ["design", "risk_of_bias", "notes"]
    cols = [c for c in cols if c in studies] + [
        c for c in studies if c not in skip and c not in cols
    ]
    names = {"risk_of_bias": "Risk of bias", "notes": "Population and notes"}
    heads = [names.get(c, c.replace("_", " ").capitalize()) for c in cols]
    t = Table(
        "Included studies",
        [
            "Study",
            "Citation",
            "Year",
            *heads,
            "Arms: class, modality, outcome, n (events)",
            "Analyses",
        ],
        numeric={2},
        id="study-table",
    )
    for r in _records(studies):
        sid = str(r.get("study_id"))
        arm_list: list[str] = []
        if arms is not None and len(arms):
            for a in _records(arms[arms["study_id"].astype(str) == sid]):
                ev = "" if _missing(a.get("events")) else f" ({fmt_int(a.get('events'))})"
                arm_list.append(
                    f"{a.get('arm_id')}: {a.get('arm_class')}, {a.get('modality')}, "
                    f"{a.get('outcome')}, n = {fmt_int(a.get('n'))}{ev}"
                )
        used = sorted(set(effects.loc[effects["study_id"].astype(str) == sid, "analysis_id"]))
        citation = fmt_text(r.get("citation"))
        if not _missing(r.get("doi")):
            citation += f" doi:{r.get('doi')}"
        cells = [fmt_text(r.get(c)) for c in cols]
        t.add(
            [
                sid,
                citation,
                fmt_int(r.get("year")),
                *cells,
                arm_list or _DASH,
                ", ".join(used) or "none (all comparisons excluded)",
            ]
        )
    return t


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
