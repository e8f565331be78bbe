"""What the figures and the report show, taken from the result tables (no plotting here).

Kept free of matplotlib, pymare and statsmodels so the report job can use it without
loading them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..numbers import finite  # noqa: F401  (re-exported: the figures' helpers use it)
from ..outputs import COLUMNS

#: Files ``results/sensitivity/<analysis_id>/<name>.csv`` (design.md, "Other analyses").
SENSITIVITY_NAMES = tuple(COLUMNS)
#: The row of ``subgroups.csv`` that holds the test for subgroup differences.
BETWEEN_LABEL = "subgroup differences"


def as_list(x) -> list:
    if x is None:
        return []
    return [str(v) for v in x] if isinstance(x, list | tuple) else [str(x)]


def class_label(classes) -> str:
    """An analysis's arm class(es) as words: ``liver_directed`` -> ``liver-directed``."""
    return " / ".join(c.replace("_", "-") for c in as_list(classes))


def arm_label(arm) -> str:
    """An arm id as words: ``hepatic_resection`` -> ``hepatic resection``."""
    return (
        ""
        if arm is None or (isinstance(arm, float) and math.isnan(arm))
        else str(arm).replace("_", " ")
    )


def _true(x) -> bool:
    return str(x).strip().lower() in ("true", "1", "1.0", "yes")


def main_rows(pooled: pd.DataFrame, analysis_id: str) -> dict[str, dict]:
    """The main method x test row of each subgroup (``all`` for the overall pool)."""
    if pooled is None or pooled.empty:
        return {}
    rows = pooled[pooled["analysis_id"] == analysis_id]
    rows = rows[rows["main"].map(_true)]
    return {str(r["subgroup"]): r for r in rows.to_dict("records")}


def pooled_estimate(row: dict | None) -> dict | None:
    """``row`` when it is a pooled estimate (k >= 2, status ok), else None."""
    if row is None or not finite(row.get("k")) or row["k"] < 2 or row.get("status") != "ok":
        return None
    return row


def main_row(pooled: pd.DataFrame, analysis_id: str, subgroup: str = "all") -> dict | None:
    """The analysis's main-method row when it is a pooled estimate (k >= 2, status ok)."""
    return pooled_estimate(main_rows(pooled, analysis_id).get(subgroup))


COMPARISON_KEY = ["analysis_id", "study_id", "treatment_arm", "control_arm"]


def comparison_rows(effects: pd.DataFrame, weights: pd.DataFrame, analysis_id: str) -> pd.DataFrame:
    """The analysis's comparison rows with their CI and weight (% of the main fit) from
    weights.csv."""
    rows = effects[effects["analysis_id"] == analysis_id]
    w = weights[weights["analysis_id"] == analysis_id][
        [*COMPARISON_KEY, "ci_lb", "ci_ub", "weight"]
    ]
    rows = rows.drop(columns=["ci_lb", "ci_ub", "weight"], errors="ignore")
    return rows.merge(w, on=COMPARISON_KEY, how="left")


def analysis_effects(
    effects: pd.DataFrame, pooled: pd.DataFrame, weights: pd.DataFrame, analysis_id: str
) -> tuple[pd.DataFrame, dict | None]:
    """The analysis's study rows with their CI and weight (% of the main fit), weights.csv,
    and its main pooled row when that is a pooled estimate."""
    return comparison_rows(effects, weights, analysis_id), main_row(pooled, analysis_id)


def between_test(subgroups: pd.DataFrame | None) -> dict | None:
    """The test for subgroup differences from ``subgroups.csv`` (its last row), or None."""
    if subgroups is None or subgroups.empty or "subgroup" not in subgroups:
        return None
    rows = subgroups[subgroups["subgroup"].astype(str) == BETWEEN_LABEL]
    return rows.iloc[0].to_dict() if len(rows) else None


def status_ok(df: pd.DataFrame | None) -> tuple[bool, str]:
    """Whether a one-row sensitivity table holds numbers, and metafor's reason if not."""
    if df is None:
        return False, "not run"
    if df.empty:
        return False, "no rows"
    st = df["status"].iloc[0] if "status" in df else "ok"
    st = "ok" if st is None or (isinstance(st, float) and math.isnan(st)) else str(st)
    return st == "ok", st


def read_table(path, columns=None) -> pd.DataFrame:
    """A result CSV as written by the workflow (blank cells are missing, nothing else is)."""
    from ..io import read_result  # the one reader of result tables

    return read_result(path, columns)


def sensitivity_tables(paths: Iterable) -> dict[str, dict[str, pd.DataFrame]]:
    """``results/sensitivity/<analysis_id>/<name>.csv`` files as {analysis_id: {name: df}}."""
    out: dict[str, dict[str, pd.DataFrame]] = {}
    for p in paths:
        p = Path(p)
        if p.suffix == ".csv" and p.stem in SENSITIVITY_NAMES:
            out.setdefault(p.parent.name, {})[p.stem] = read_table(p)
    return out


#: What the GOSH plot and the report's summary read of a GOSH table (a declined one: status).
GOSH_READ = ("k", "estimate", "i2", "status")


def gosh_tables(paths: Iterable, analysis_ids: Iterable[str]) -> dict[str, pd.DataFrame]:
    """``results/gosh/<analysis_id>.csv`` files as {analysis_id: df} (the GOSH_READ columns)."""
    ids = set(analysis_ids)
    return {Path(p).stem: read_table(p, GOSH_READ) for p in paths if Path(p).stem in ids}


#: How the report and the figures name a prior on tau (estimators/bayes.py's names).
PRIOR_NAMES = {"halfnormal": "half-normal", "halfcauchy": "half-Cauchy", "uniform": "uniform"}


def prior_label(prior, scale=None) -> str:
    """'half-normal(0.5)', 'half-Cauchy(1)', 'uniform(0, 2)' (the prior without a scale
    when it is not known)."""
    name = PRIOR_NAMES.get(str(prior), str(prior))
    if not finite(scale):
        return name
    s = f"{float(scale):g}"
    return f"{name}(0, {s})" if str(prior) == "uniform" else f"{name}({s})"


@dataclass
class TauCurve:
    """The posterior density of tau under one prior, as bayes_tau.csv holds it on a grid."""

    label: str
    tau: np.ndarray
    density: np.ndarray
    summary: dict = field(default_factory=dict)  # bayes.csv's row (subgroup all), if any


def tau_curves(
    bayes_tau: pd.DataFrame | None, bayes: pd.DataFrame | None, analysis_id: str
) -> list[TauCurve]:
    """The posterior densities of tau of an analysis's overall pool, one per prior in the
    config's order (the first is the main one).

    pool.bayes_tables writes one grid per prior, in that order, each rising from tau = 0.
    bayes_tau.csv names the prior's family; its scale comes from a ``scale`` column when
    the table has one, else from bayes.csv's rows of the analysis (subgroup ``all``), which
    are in the same order.
    """
    if bayes_tau is None or bayes_tau.empty:
        return []
    rows = bayes_tau[bayes_tau["analysis_id"] == analysis_id]
    if rows.empty:
        return []
    tau = rows["tau"].to_numpy(float)
    starts = [0, *np.flatnonzero(np.diff(tau) <= 0) + 1, len(tau)]
    summaries: list[dict] = []
    if bayes is not None and len(bayes):
        mine = bayes[(bayes["analysis_id"] == analysis_id) & (bayes["subgroup"] == "all")]
        summaries = mine.to_dict("records")
    curves = []
    for j, (a, b) in enumerate(zip(starts, starts[1:], strict=False)):
        block = rows.iloc[a:b]
        prior = block["prior"].iloc[0]
        summary = summaries[j] if j < len(summaries) else {}
        if summary and str(summary.get("prior")) != str(prior):
            summary = {}  # the tables disagree: no scale rather than a wrong one
        scale = block["scale"].iloc[0] if "scale" in block else summary.get("scale")
        curves.append(
            TauCurve(
                prior_label(prior, scale),
                block["tau"].to_numpy(float),
                block["density"].to_numpy(float),
                summary,
            )
        )
    return curves
