"""Forest plots for every analysis: the main fit's pooled row beside its studies."""

from __future__ import annotations

import pandas as pd

from ..harmonize.comparisons import as_list
from ..pool import study_weights


def main_row(pooled: pd.DataFrame, analysis_id: str, subgroup: str = "all") -> dict | None:
    """The analysis's main-method row, or None when there was no pooled estimate."""
    rows = pooled[
        (pooled["analysis_id"] == analysis_id)
        & (pooled["subgroup"] == subgroup)
        & pooled["main"].astype(bool)
    ]
    if rows.empty or rows.iloc[0]["k"] < 2 or rows.iloc[0]["status"] != "ok":
        return None
    return rows.iloc[0].to_dict()


def analysis_effects(effects: pd.DataFrame, pooled: pd.DataFrame, analysis_id: str):
    """The analysis's study rows with their random-effects weights (% of the main fit)."""
    rows = effects[effects["analysis_id"] == analysis_id].copy()
    fit = main_row(pooled, analysis_id)
    rows["weight"] = study_weights(rows["vi"].to_numpy(), fit["tau2"]) if fit else float("nan")
    return rows, fit


def forest_plots(effects: pd.DataFrame, pooled: pd.DataFrame, analyses: list[dict]) -> dict:
    """SVG text per analysis id."""
    from .forest import forest_svg

    out = {}
    for a in analyses:
        rows, fit = analysis_effects(effects, pooled, a["id"])
        out[a["id"]] = forest_svg(
            rows,
            fit,
            a.get("title", a["id"]),
            " / ".join(as_list(a["treatment"])).replace("_", " "),
            " / ".join(as_list(a["control"])).replace("_", " "),
            metric=a.get("metric", "log_hr"),
        )
    return out
