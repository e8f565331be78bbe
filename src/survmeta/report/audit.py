"""The audit trail: how each comparison's number was derived from which reported figure,
with every alternative derivation beside it, and the excluded comparisons."""

from __future__ import annotations

import math

import pandas as pd

from ..estimators.dist import norm_isf
from ..numbers import (
    DASH,
    finite,
    fmt_ci_log,
    fmt_g,
    fmt_int,
    fmt_pct,
    fmt_ratio,
    fmt_text,
    missing,
    ratio,
)
from .methods_text import method_info
from .tables import _comparison, _records

_DASH = DASH
_missing = missing


def _arm_text(r: dict, side: str) -> str:
    """'hepatic_resection (n = 58, events 40)': the arm as the study reported it."""
    events = r.get(f"events_{side}")
    ev = f", events {fmt_int(events)}" if finite(events) else ""
    return f"{fmt_text(r.get(f'{side}_arm'))} (n = {fmt_int(r.get(f'n_{side}'))}{ev})"


def audit_trail(
    rows: pd.DataFrame, derivations: pd.DataFrame | None, metric: str, level: float
) -> list[dict]:
    """One entry per comparison: as reported, source, quote, method and formula, assumptions,
    result (its CI at the review's level); and every alternative derivation side by side
    (results/derivations.csv)."""
    z = float(norm_isf((1 - level) / 2))
    out = []
    ratio_name = "ratio" if metric == "log_mr" else "HR"
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
                    f"× {fmt_ratio(ratio(float(a['yi']) - float(r['yi'])), 2)}"
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
                "ratio": ratio_name,
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
