"""The audit trail: how each comparison's number was derived from which reported figure,
with every alternative derivation beside it, and the excluded comparisons."""

from __future__ import annotations

import math

import pandas as pd
from markupsafe import Markup

from ..estimators.dist import norm_isf
from ..numbers import (
    DASH,
    Scale,
    finite,
    fmt_g,
    fmt_int,
    fmt_num,
    fmt_pct,
    fmt_ratio,
    fmt_text,
    missing,
    p_eq,
    ratio,
)
from .methods_text import method_info
from .tables import _comparison, _records

_DASH = DASH
_missing = missing


def _arm_text(r: dict, side: str) -> str:
    """'hepatic_resection (n = 58, events 40)': the arm's n and the events effects.csv gives
    (reported, or estimated by the method that derived the comparison)."""
    events = r.get("events_t" if side == "treatment" else "events_c")
    ev = (
        f", events {fmt_num(events, 1) if float(events) % 1 else fmt_int(events)}"
        if finite(events)
        else ""
    )
    return f"{fmt_text(r.get(f'{side}_arm'))} (n = {fmt_int(r.get(f'n_{side}'))}{ev})"


def _key(r: dict) -> tuple:
    return tuple(str(r.get(c)) for c in ("study_id", "treatment_arm", "control_arm"))


def _by_comparison(derivations: pd.DataFrame | None, rows: pd.DataFrame, metric: str) -> dict:
    """The analysis's derivations.csv records by comparison, read once (not per comparison)."""
    if derivations is None or not len(derivations) or not len(rows):
        return {}
    d = derivations[derivations["analysis_id"] == rows["analysis_id"].iloc[0]]
    if "metric" in d:
        d = d[d["metric"].astype(str) == metric]
    out: dict[tuple, list] = {}
    for a in _records(d):
        out.setdefault(_key(a), []).append(a)
    return out


def _formula(info, metric: str) -> str:
    if metric == "log_mr" and info.formula_mr:
        return info.formula_mr
    if metric == "rmst_diff" and getattr(info, "formula_rmst", ""):
        return info.formula_rmst
    return info.formula


def audit_trail(
    rows: pd.DataFrame,
    derivations: pd.DataFrame | None,
    metric: str,
    level: float,
    km: dict | None = None,
) -> list[dict]:
    """One entry per comparison: as reported, source, quote, method and formula, assumptions,
    result (its CI at the review's level); every alternative derivation side by side
    (results/derivations.csv) with the z of its difference from the chosen one, and the
    methods that had their inputs but failed; the proportional-hazards test and the
    reconstructed curves (``km``: {study_id: svg}) where a curve was digitized."""
    z = float(norm_isf((1 - level) / 2))
    scale = Scale(metric)
    km = km or {}
    out = []
    ratio_name = {"log_mr": "ratio", "rmst_diff": "RMST difference"}.get(metric, "HR")
    alternatives = _by_comparison(derivations, rows, metric)
    for r in _records(rows):
        info = method_info(r.get("source_method"))
        formula = _formula(info, metric)
        alts = []
        if alternatives:
            d = alternatives.get(_key(r), [])
            for a in d:
                chosen = str(a.get("chosen")).lower() in ("true", "1")
                ai = method_info(a.get("source_method"))
                status = fmt_text(a.get("status")) if not _missing(a.get("status")) else "ok"
                shift = _DASH
                if finite(a.get("yi")) and finite(r.get("yi")):
                    diff = float(a["yi"]) - float(r["yi"])
                    shift = (f"× {fmt_ratio(ratio(diff), 2)}" if scale.ratio
                             else f"{diff:+.2f} months")  # fmt: skip
                zdiff = a.get("z_vs_chosen")
                disagrees = str(a.get("disagrees")).lower() in ("true", "1")
                se = math.sqrt(a["vi"]) if finite(a.get("vi")) and a["vi"] > 0 else None
                alts.append(
                    {
                        "method": str(a.get("source_method")),
                        "label": ai.label,
                        "chosen": chosen,
                        "yi": fmt_g(a.get("yi")),
                        "vi": fmt_g(a.get("vi")),
                        "ci": scale.ci(
                            a.get("yi"),
                            a["yi"] - z * se if se else None,
                            a["yi"] + z * se if se else None,
                        ),
                        "shift": "chosen" if chosen else shift,
                        "z": "" if chosen or not finite(zdiff) else f"z = {fmt_num(zdiff, 2)}",
                        "disagrees": disagrees,
                        "status": status,
                        "assumptions": fmt_text(a.get("assumptions")) if status == "ok" else status,
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
                "ratio": ratio_name,
                "ci": scale.ci(
                    r.get("yi"),
                    r["yi"] - z * se if finite(se) else None,
                    r["yi"] + z * se if finite(se) else None,
                ),
                "weight": fmt_pct(r.get("weight")),
                "alternatives": alts if len(alts) > 1 else [],
                "disagreements": sum(a["disagrees"] for a in alts),
                "ph": _ph_text(r.get("ph_p")),
                "ph_flag": finite(r.get("ph_p")) and float(r["ph_p"]) < 0.05,
                "km": Markup(km[str(r.get("study_id"))]) if str(r.get("study_id")) in km else "",
            }
        )
    return out


def _ph_text(p) -> str:
    """The Grambsch-Therneau test of the reconstructed patients, as the audit trail says it."""
    if not finite(p):
        return ""
    verdict = (
        "the hazards are not proportional: the HR averages an effect that changes over time; "
        "read the RMST difference"
        if float(p) < 0.05
        else "no evidence against proportional hazards"
    )
    test = "Proportional-hazards test (Grambsch-Therneau, reconstructed patients)"
    return f"{test}: {p_eq(p)}; {verdict}."


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
