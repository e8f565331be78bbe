"""Pool each analysis (and subgroup) with every configured method and test.

One row per analysis x subgroup x method x test, as design.md's ``pooled.csv``. All
analyses and subgroups, of any size, are one padded stack (estimators/stack.py):
one engine call per tau^2 method, whatever the review's size; each test and the
tau^2 CI are computed from that fit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .estimators.dist import norm_isf
from .estimators.rma import fit, qprofile_ci
from .estimators.stack import stack
from .outputs import POOLED_COLUMNS, WEIGHT_COLUMNS

K0_STATUS = "k = 0: no study could be estimated"
K1_STATUS = "k = 1: the single study's own estimate, not pooled"


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


def pool(effects: pd.DataFrame, config: dict) -> pd.DataFrame:
    """The pooled table for every analysis in the config."""
    level = float(config.get("pooling", {}).get("level", 0.95))
    grid = method_grid(config)
    slots = [
        (analysis, subgroup, rows["yi"].to_numpy(float), rows["vi"].to_numpy(float))
        for analysis in config["analyses"]
        for subgroup, rows in datasets(effects, analysis)
    ]
    y, v, m = stack([(s[2], s[3]) for s in slots])
    k = m.sum(0).astype(int)
    cells: dict[tuple[str, str], dict] = {}
    for method in dict.fromkeys(mt for mt, _ in grid):
        model = fit(y, v, method, present=m)
        ci = qprofile_ci(model, level)
        for test in dict.fromkeys(t for mt, t in grid if mt == method):
            res = model.results(test, level)
            pred = res.predict()
            cells[(method, test)] = {
                "estimate": res.estimate, "se": res.se[0], "ci_low": res.ci_lb[0],
                "ci_high": res.ci_ub[0], "pi_low": pred.pi_lb, "pi_high": pred.pi_ub,
                "tau2": res.tau2, "tau2_ci_low": ci.tau2_ci_lb, "tau2_ci_high": ci.tau2_ci_ub,
                "i2": res.i2, "h2": res.h2, "q": res.qe, "q_df": res.qe_df, "q_p": res.qep,
                "stat": res.zval[0], "p": res.pval[0], "error": res.error,
            }  # fmt: skip
    rows = []
    for j, (analysis, subgroup, _, _) in enumerate(slots):
        for method, test in grid:
            row = {
                "analysis_id": analysis["id"],
                "subgroup": subgroup,
                "method": method,
                "test": test,
                "main": (method, test) == grid[0],
                "metric": analysis.get("metric", "log_hr"),
                "level": level,
                "k": int(k[j]),
            }
            cell = cells[(method, test)]
            if k[j] == 0:
                row["status"] = K0_STATUS
            elif k[j] == 1:
                row.update({c: cell[c][j] for c in ("estimate", "se", "ci_low", "ci_high")})
                row.update(stat=cell["stat"][j], p=cell["p"][j], status=K1_STATUS)
            else:
                row.update({c: val[j] for c, val in cell.items() if c != "error"})
                error = cell["error"][j]
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


def study_weights(effects: pd.DataFrame, pooled: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Each comparison's CI at the review's level and its weight in its analysis's main model
    (percent, metafor's ``weights(res)``): w = 1/(v + tau^2) of the overall main fit (a k = 1
    analysis: 100; a failed fit: none)."""
    level = float(config.get("pooling", {}).get("level", 0.95))
    crit = float(norm_isf((1 - level) / 2))
    main = pooled[pooled["main"] & (pooled["subgroup"] == "all")].set_index("analysis_id")
    frames = []
    for analysis in config["analyses"]:
        rows = effects[effects["analysis_id"] == analysis["id"]]
        vi = rows["vi"].to_numpy(float)
        tau2 = main.loc[analysis["id"], "tau2"] if analysis["id"] in main.index else np.nan
        w = 1.0 / (vi + (0.0 if np.isnan(tau2) else tau2))
        weight = 100 * w / w.sum() if len(rows) else w
        if len(rows) >= 2 and main.loc[analysis["id"], "status"] != "ok":
            weight = np.full(len(rows), np.nan)
        sei = np.sqrt(vi)
        yi = rows["yi"].to_numpy(float)
        frames.append(rows.assign(sei=sei, ci_lb=yi - crit * sei, ci_ub=yi + crit * sei,
                                  weight=weight))  # fmt: skip
    out = pd.concat(frames, ignore_index=True) if frames else effects.iloc[:0]
    return out.reindex(columns=WEIGHT_COLUMNS)
