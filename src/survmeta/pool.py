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
from .outputs import (
    BAYES_COLUMNS,
    BAYES_SHRINKAGE_COLUMNS,
    BAYES_TAU_COLUMNS,
    POOLED_COLUMNS,
    WEIGHT_COLUMNS,
)

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


DEFAULT_PRIORS = ({"tau": "halfnormal", "scale": 0.5},)
#: The posterior summaries bayes.csv takes from the engine's BayesResults.
BAYES_SUMMARIES = (
    "mu_mean mu_sd mu_median mu_ci_low mu_ci_high tau_median tau_ci_low tau_ci_high pred_low "
    "pred_high p_mu_below_0"
).split()
#: Points of the tau grid written for the density plot.
TAU_GRID = 121


def priors(config: dict) -> list[dict]:
    """The configured priors on tau, the main one first (methods.md section 5)."""
    return list((config.get("bayes") or {}).get("priors") or DEFAULT_PRIORS)


def _slots(effects: pd.DataFrame, config: dict) -> list[tuple]:
    """(analysis, subgroup, rows) of every analysis and subgroup, in output order."""
    return [
        (analysis, subgroup, rows)
        for analysis in config["analyses"]
        for subgroup, rows in datasets(effects, analysis)
    ]


def bayes_tables(effects: pd.DataFrame, config: dict) -> dict[str, pd.DataFrame]:
    """bayes.csv, bayes_shrinkage.csv and bayes_tau.csv: every analysis and subgroup under
    every configured prior, one engine call per prior (estimators/bayes.py)."""
    from .estimators.bayes import bayes_re

    level = float(config.get("pooling", {}).get("level", 0.95))
    slots = [s for s in _slots(effects, config) if len(s[2])]
    y, v, m = stack([(r["yi"].to_numpy(float), r["vi"].to_numpy(float)) for *_, r in slots])
    rows, shrink, dens = [], [], []
    for i, prior in enumerate(priors(config)):
        name, scale = str(prior["tau"]), float(prior["scale"])
        res = bayes_re(y, v, m, name, scale, level) if slots else None
        for j, (analysis, subgroup, r) in enumerate(slots):
            row = {"analysis_id": analysis["id"], "subgroup": subgroup, "prior": name,
                   "scale": scale, "k": len(r), "status": "ok", "main": i == 0}  # fmt: skip
            for col in BAYES_SUMMARIES:
                row[col] = float(getattr(res, col)[j])
            rows.append(row)
            shr = pd.DataFrame({
                "analysis_id": analysis["id"], "subgroup": subgroup, "prior": name,
                "comparison_id": comparison_ids(r), "study_id": r["study_id"].to_numpy(),
                "mean": res.shr_mean[: len(r), j], "median": res.shr_median[: len(r), j],
                "ci_low": res.shr_ci_low[: len(r), j], "ci_high": res.shr_ci_high[: len(r), j],
            })  # fmt: skip
            shrink.append(shr)
        overall = [j for j, s in enumerate(slots) if s[1] == "all"]
        if overall:
            top = max(float(np.nanmax(res.tau_ci_high[overall])) * 1.5, 1e-3)
            grid = np.linspace(0.0, top, TAU_GRID)
            density = res.tau_density(grid)
            for j in overall:
                dens.append(pd.DataFrame({"analysis_id": slots[j][0]["id"], "prior": name,
                                          "tau": grid, "density": density[:, j]}))  # fmt: skip
    out = pd.DataFrame(rows).reindex(columns=BAYES_COLUMNS)
    for col, src in (("hr_median", "mu_median"), ("hr_ci_low", "mu_ci_low"),
                     ("hr_ci_high", "mu_ci_high"), ("hr_pred_low", "pred_low"),
                     ("hr_pred_high", "pred_high")):  # fmt: skip
        out[col] = _exp(out[src])
    empty = [(a, sg) for a, sg, r in _slots(effects, config) if not len(r)]
    if empty:  # k = 0: a row saying so per prior
        none = pd.DataFrame([{"analysis_id": a["id"], "subgroup": sg, "prior": p["tau"],
                              "scale": p["scale"], "k": 0, "main": i == 0,
                              "status": K0_STATUS} for a, sg in empty
                             for i, p in enumerate(priors(config))])  # fmt: skip
        out = pd.concat([out, none.reindex(columns=BAYES_COLUMNS)], ignore_index=True)
    return {
        "bayes": out,
        "shrinkage": pd.concat(shrink, ignore_index=True).reindex(columns=BAYES_SHRINKAGE_COLUMNS)
        if shrink
        else pd.DataFrame(columns=BAYES_SHRINKAGE_COLUMNS),
        "tau": pd.concat(dens, ignore_index=True).reindex(columns=BAYES_TAU_COLUMNS)
        if dens
        else pd.DataFrame(columns=BAYES_TAU_COLUMNS),
    }


def comparison_ids(rows: pd.DataFrame) -> np.ndarray:
    """effects.csv's comparison_id (study:treatment-vs-control where an older table lacks it)."""
    if "comparison_id" in rows:
        return rows["comparison_id"].to_numpy()
    return (rows["study_id"].astype(str) + ":" + rows["treatment_arm"].astype(str) + "-"
            + rows["control_arm"].astype(str)).to_numpy()  # fmt: skip


def _exp(s: pd.Series) -> pd.Series:
    """exp of log-scale values; beyond the floating-point range (|x| > 709) left blank."""
    x = s.astype(float)
    with np.errstate(over="ignore"):
        return np.exp(x.where(x.abs() <= 709))


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
        out[col] = _exp(out[src])
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
