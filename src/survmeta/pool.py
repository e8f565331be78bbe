"""Pool each analysis (and subgroup) with every configured method and test.

One row per analysis x subgroup x method x test, as design.md's ``pooled.csv``.
Datasets of equal k are stacked and fitted together (PyMARE's mould), so the
cost grows with the number of distinct k, not of analyses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .estimators.pymare_ext import estimate_tau2
from .estimators.rma import rma

POOLED_COLUMNS = [
    "analysis_id",
    "subgroup",
    "method",
    "test",
    "main",
    "metric",
    "level",
    "k",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "pi_low",
    "pi_high",
    "tau2",
    "tau2_ci_low",
    "tau2_ci_high",
    "i2",
    "h2",
    "q",
    "q_df",
    "q_p",
    "stat",
    "p",
    "hr",
    "hr_ci_low",
    "hr_ci_high",
    "hr_pi_low",
    "hr_pi_high",
    "status",
]


def method_grid(config: dict) -> list[tuple[str, str]]:
    """(method, test) pairs: the main one first, then the sensitivity grid."""
    pooling = config.get("pooling", {})
    main = (pooling.get("method", "REML"), pooling.get("test", "knha"))
    sens = config.get("sensitivity") or {}
    grid = [main]
    for m in sens.get("methods", [main[0]]):
        for t in sens.get("tests", [main[1]]):
            if (m, t) not in grid:
                grid.append((m, t))
    return grid


def datasets(effects: pd.DataFrame, analysis: dict) -> list[tuple[str, pd.DataFrame]]:
    """("all", rows) and one (value, rows) per subgroup of the analysis."""
    rows = effects[effects["analysis_id"] == analysis["id"]]
    out = [("all", rows)]
    by = analysis.get("subgroups")
    if by:
        for value, grp in rows.groupby(by, sort=True):
            out.append((str(value), grp))
    return out


def _single(y: float, v: float, level: float) -> dict:
    se = np.sqrt(v)
    crit = stats.norm.isf((1 - level) / 2)
    z = y / se
    return {
        "estimate": y,
        "se": se,
        "ci_low": y - crit * se,
        "ci_high": y + crit * se,
        "stat": z,
        "p": 2 * stats.norm.sf(abs(z)),
        "status": "k = 1: the single study's own estimate, not pooled",
    }


def pool(effects: pd.DataFrame, config: dict) -> pd.DataFrame:
    """The pooled table for every analysis in the config."""
    level = float(config.get("pooling", {}).get("level", 0.95))
    grid = method_grid(config)
    slots = []  # (analysis, subgroup, y, v)
    for analysis in config["analyses"]:
        for subgroup, rows in datasets(effects, analysis):
            slots.append(
                (analysis, subgroup, rows["yi"].to_numpy(float), rows["vi"].to_numpy(float))
            )

    fits: dict[tuple[int, str, str], dict] = {}
    by_k: dict[int, list[int]] = {}
    for i, (_, _, y, _) in enumerate(slots):
        if len(y) >= 2:
            by_k.setdefault(len(y), []).append(i)
    for idx in by_k.values():
        y = np.column_stack([slots[i][2] for i in idx])
        v = np.column_stack([slots[i][3] for i in idx])
        for method in dict.fromkeys(m for m, _ in grid):
            tau2 = estimate_tau2(method, y, v)
            for test in dict.fromkeys(t for m, t in grid if m == method):
                res = rma(y, v, method, test, level, tau2=tau2)
                for j, i in enumerate(idx):
                    fits[(i, method, test)] = res.row(j)

    rows = []
    for i, (analysis, subgroup, y, v) in enumerate(slots):
        for method, test in grid:
            row = {
                "analysis_id": analysis["id"],
                "subgroup": subgroup,
                "method": method,
                "test": test,
                "main": (method, test) == grid[0],
                "metric": analysis.get("metric", "log_hr"),
                "level": level,
                "k": len(y),
            }
            if len(y) == 0:
                row["status"] = "k = 0: no study could be estimated"
            elif len(y) == 1:
                row.update(_single(y[0], v[0], level))
            else:
                fit = fits[(i, method, test)]
                error = fit.pop("error")
                row.update(fit)
                row["status"] = "ok" if error is None else f"{method} failed: {error}"
            rows.append(row)
    out = pd.DataFrame(rows, columns=POOLED_COLUMNS)
    for col, src in (
        ("hr", "estimate"),
        ("hr_ci_low", "ci_low"),
        ("hr_ci_high", "ci_high"),
        ("hr_pi_low", "pi_low"),
        ("hr_pi_high", "pi_high"),
    ):
        out[col] = np.exp(out[src].astype(float))
    return out


def study_weights(vi: np.ndarray, tau2: float) -> np.ndarray:
    """Random-effects weights in percent, w = 1/(v + tau^2), as forest plots show them."""
    w = 1.0 / (np.asarray(vi, dtype=float) + (0.0 if np.isnan(tau2) else tau2))
    return 100 * w / w.sum()
