"""Pool each analysis (and subgroup) with every configured method and test.

One row per analysis x subgroup x method x test, as design.md's ``pooled.csv``. All
analyses and subgroups, of any size, are one padded stack (estimators/stack.py):
one engine call per tau^2 method, whatever the review's size; each test and the
tau^2 CI are computed from that fit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .dependence import MV_METHODS, MV_TESTS, multilevel, mv_method, mv_test
from .estimators.dist import norm_isf
from .estimators.rma import fit, profile_ci, qprofile_ci
from .estimators.stack import by_size, stack
from .outputs import (
    BAYES_COLUMNS,
    BAYES_SHRINKAGE_COLUMNS,
    BAYES_TAU_COLUMNS,
    POOLED_COLUMNS,
    POOLED_NAMES,
    VCOV_COLUMNS,
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


def bayes_tables(
    effects: pd.DataFrame, config: dict, univariate: pd.DataFrame | None = None
) -> dict[str, pd.DataFrame]:
    """bayes.csv, bayes_shrinkage.csv and bayes_tau.csv: every analysis and subgroup under
    every configured prior, one engine call per prior (estimators/bayes.py).

    The model is univariate (bayesmeta's): a multilevel analysis (dependence.py) is pooled
    from its comparisons with the shared arm split (``univariate``), as its univariate
    sensitivity rows are; ``dependence`` says which.
    """
    from .estimators.bayes import bayes_re

    level = float(config.get("pooling", {}).get("level", 0.95))
    dependence = config.get("dependence", "auto")
    split = effects.iloc[:0]
    if univariate is not None and len(univariate):
        split = univariate[univariate["multiarm"] == "split"]
    slots = []
    for analysis, subgroup, rows in _slots(effects, config):
        if multilevel(rows["study_id"], dependence):
            ids = set(rows["comparison_id"]) if "comparison_id" in rows else set()
            part = split[(split["analysis_id"] == analysis["id"])]
            rows = part[part["comparison_id"].isin(ids)] if ids else part
            slots.append((analysis, subgroup, rows, "split"))
        elif len(rows):
            slots.append((analysis, subgroup, rows, "none"))
    slots = [s for s in slots if len(s[2])]
    groups = by_size([len(s[2]) for s in slots])
    fits = []  # per prior: {slot: (BayesResults of its size group, column)}
    for prior in priors(config):
        fitted = {}
        for size, idx in groups:
            y, v, m = stack([(slots[j][2]["yi"].to_numpy(float),
                              slots[j][2]["vi"].to_numpy(float)) for j in idx], size)  # fmt: skip
            res = bayes_re(y, v, m, str(prior["tau"]), float(prior["scale"]), level)
            fitted |= {j: (res, c) for c, j in enumerate(idx)}
        fits.append(fitted)
    # Rows by analysis (and subgroup), then prior: the order does not depend on which other
    # analyses share the job (shards merge by analysis).
    rows, shrink, dens = [], [], []
    for j, (analysis, subgroup, r, dep) in enumerate(slots):
        for i, prior in enumerate(priors(config)):
            name, scale = str(prior["tau"]), float(prior["scale"])
            res, c = fits[i][j]
            row = {"analysis_id": analysis["id"], "subgroup": subgroup, "prior": name,
                   "scale": scale, "k": len(r), "status": "ok", "main": i == 0,
                   "dependence": dep}  # fmt: skip
            for col in BAYES_SUMMARIES:
                row[col] = float(getattr(res, col)[c])
            rows.append(row)
            shrink.append(pd.DataFrame({
                "analysis_id": analysis["id"], "subgroup": subgroup, "prior": name,
                "comparison_id": comparison_ids(r), "study_id": r["study_id"].to_numpy(),
                "mean": res.shr_mean[: len(r), c], "median": res.shr_median[: len(r), c],
                "ci_low": res.shr_ci_low[: len(r), c], "ci_high": res.shr_ci_high[: len(r), c],
            }))  # fmt: skip
        if subgroup != "all":
            continue
        # the analysis's density grid: up to 1.5 x its widest upper credible limit of tau
        top = max(max(float(f[j][0].tau_ci_high[f[j][1]]) for f in fits) * 1.5, 1e-3)
        grid = np.linspace(0.0, top, TAU_GRID)
        for i, prior in enumerate(priors(config)):
            res, c = fits[i][j]
            dens.append(pd.DataFrame({"analysis_id": analysis["id"], "prior": str(prior["tau"]),
                                      "scale": float(prior["scale"]), "tau": grid,
                                      "density": res.tau_density(grid)[:, c]}))  # fmt: skip
    out = pd.DataFrame(rows).reindex(columns=BAYES_COLUMNS)
    for col, src in (("hr_median", "mu_median"), ("hr_ci_low", "mu_ci_low"),
                     ("hr_ci_high", "mu_ci_high"), ("hr_pred_low", "pred_low"),
                     ("hr_pred_high", "pred_high")):  # fmt: skip
        out[col] = _exp(out[src])
    months = {a["id"] for a in config["analyses"] if a.get("metric") == "rmst_diff"}
    out.loc[out["analysis_id"].isin(months), [c for c in out if c.startswith("hr_")]] = np.nan
    done = {(a["id"], sg) for a, sg, _, _ in slots}
    empty = [(a, sg) for a, sg, _ in _slots(effects, config) if (a["id"], sg) not in done]
    if empty:  # k = 0: a row saying so per prior, in the analysis's place
        none = pd.DataFrame([{"analysis_id": a["id"], "subgroup": sg, "prior": p["tau"],
                              "scale": p["scale"], "k": 0, "main": i == 0,
                              "status": K0_STATUS} for a, sg in empty
                             for i, p in enumerate(priors(config))])  # fmt: skip
        out = pd.concat([out, none.reindex(columns=BAYES_COLUMNS)], ignore_index=True)
        rank = {a["id"]: n for n, a in enumerate(config["analyses"])}
        out = out.iloc[np.argsort(out["analysis_id"].map(rank).to_numpy(), kind="stable")]
        out = out.reset_index(drop=True)
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


def _row_head(analysis, subgroup, method, test, level, rows) -> dict:
    return {
        "analysis_id": analysis["id"],
        "subgroup": subgroup,
        "method": method,
        "test": test,
        "metric": analysis.get("metric", "log_hr"),
        "level": level,
        "k": len(rows),
        "k_studies": rows["study_id"].nunique(),
    }


def _uni_cells(slots, grid, level) -> dict:
    """Every univariate slot fitted with every (method, test): one stacked engine call per
    method and size group (stack.by_size), the tests and both tau^2 CIs from that fit.
    Returns {(method, test): {column: array over slots}}."""
    cells: dict[tuple[str, str], dict] = {}
    for size, idx in by_size([len(s[2]) for s in slots]):
        y, v, m = stack(
            [(slots[j][2]["yi"].to_numpy(float), slots[j][2]["vi"].to_numpy(float)) for j in idx],
            size,
        )
        for method in dict.fromkeys(mt for mt, _ in grid):
            model = fit(y, v, method, present=m)
            ci = qprofile_ci(model, level)
            pl_lb, pl_ub = profile_ci(model, level)
            for test in dict.fromkeys(t for mt, t in grid if mt == method):
                res = model.results(test, level)
                pred = res.predict()
                vals = contract_names({
                    "estimate": res.estimate, "se": res.se[0], "ci_lb": res.ci_lb[0],
                    "ci_ub": res.ci_ub[0], "pi_lb": pred.pi_lb, "pi_ub": pred.pi_ub,
                    "tau2": res.tau2, "tau2_ci_lb": ci.tau2_ci_lb, "tau2_ci_ub": ci.tau2_ci_ub,
                    "tau2_pl_lb": pl_lb, "tau2_pl_ub": pl_ub, "i2": res.i2, "h2": res.h2,
                    "qe": res.qe, "qe_df": res.qe_df, "qep": res.qep, "zval": res.zval[0],
                    "pval": res.pval[0], "dfs": res.dfs, "error": res.error,
                })  # fmt: skip
                cell = cells.setdefault((method, test), {})
                for name, arr in vals.items():
                    full = cell.setdefault(name, np.empty(len(slots), dtype=arr.dtype))
                    full[idx] = arr
    return cells


def _uni_rows(slots, grid, level, main, notes=None) -> list[dict]:
    """pooled.csv rows of the rma.uni slots (analysis, subgroup, rows, dependence);
    ``notes``: {slot index: text for its rows' notes column}."""
    cells = _uni_cells(slots, grid, level) if slots else {}
    out = []
    for j, (analysis, subgroup, rows, dep) in enumerate(slots):
        k = len(rows)
        for method, test in grid:
            row = _row_head(analysis, subgroup, method, test, level, rows)
            is_main = dep in main and (method, test) == grid[0]
            row.update(model="rma.uni", dependence=dep, main=is_main)
            if notes and j in notes:
                row["notes"] = notes[j]
            cell = cells[(method, test)]
            if k == 0:
                row["status"] = K0_STATUS
            elif k == 1:
                row.update({c: cell[c][j] for c in ("estimate", "se", "ci_low", "ci_high")})
                row.update(stat=cell["stat"][j], p=cell["p"][j], status=K1_STATUS)
            else:
                row.update({c: val[j] for c, val in cell.items() if c != "error"})
                error = cell["error"][j]
                row["status"] = "ok" if error is None else f"{method} failed: {error}"
                if method not in ("ML", "REML"):
                    row["tau2_pl_low"] = row["tau2_pl_high"] = np.nan
            out.append(row)
    return out


def _mv_rows(analysis, subgroup, rows, grid, pooling, level) -> tuple[list[dict], dict]:
    """pooled.csv rows of one multilevel slot: each REML/ML method with z, t and CR2, and the
    main fit (for the weights) when it could be made."""
    from .estimators.multilevel import rma_mv, robust_cr2
    from .estimators.vcov import sampling_covariance

    main_method, main_test = mv_method(pooling), mv_test(pooling.get("test", "knha"))
    methods = dict.fromkeys([main_method, *(mt for mt, _ in grid if mt in MV_METHODS)])
    V, _ = sampling_covariance(rows)
    y = rows["yi"].to_numpy(float)
    out, fits = [], {}
    for method in methods:
        try:
            mv = rma_mv(y, V, rows["study_id"].to_numpy(), method)
        except ValueError as why:
            mv, failure = None, f"rma.mv failed: {why}"
        fits[method] = mv
        for test in MV_TESTS:
            row = _row_head(analysis, subgroup, method, test, level, rows)
            row.update(model="rma.mv", dependence="multilevel",
                       main=(method, test) == (main_method, main_test))  # fmt: skip
            if mv is None:
                out.append({**row, "status": failure})
                continue
            res = mv.results("z" if test == "cr2" else test, level)
            pred = res.predict()
            vals = {
                "estimate": res.estimate, "se": res.se[0, 0], "ci_lb": res.ci_lb[0, 0],
                "ci_ub": res.ci_ub[0, 0], "pi_lb": pred.pi_lb[0], "pi_ub": pred.pi_ub[0],
                "qe": res.qe, "qe_df": res.qe_df, "qep": res.qep, "zval": res.zval[0, 0],
                "pval": res.pval[0, 0], "dfs": res.dfs, "sigma2_study": res.sigma2_study,
                "sigma2_comparison": res.sigma2_comparison,
            }  # fmt: skip
            row["status"], row["notes"] = "ok", "; ".join(res.notes)
            if test == "cr2":
                try:
                    rb = robust_cr2(mv, level)
                except ValueError as why:
                    vals = dict.fromkeys(ROBUST, np.nan) | {"estimate": res.estimate}
                    row["status"] = str(why)
                else:
                    vals |= {"se": rb.se[0], "ci_lb": rb.ci_lb[0], "ci_ub": rb.ci_ub[0],
                             "pi_lb": rb.pi_lb, "pi_ub": rb.pi_ub, "zval": rb.tval[0],
                             "pval": rb.pval[0], "dfs": rb.dfs[0]}  # fmt: skip
            out.append(row | contract_names(vals))
    return out, fits.get(main_method)


#: The values a CR2 row replaces (blank when the robust variance cannot be computed).
ROBUST = ("se", "ci_lb", "ci_ub", "pi_lb", "pi_ub", "zval", "pval", "dfs")


def contract_names(values: dict) -> dict:
    """The engine's values (metafor's names) under pooled.csv's column names."""
    return {POOLED_NAMES.get(name, name): v for name, v in values.items()}


def pool_tables(
    effects: pd.DataFrame, config: dict, univariate: pd.DataFrame | None = None
) -> dict[str, pd.DataFrame]:
    """pooled.csv, weights.csv and vcov.csv for every analysis in the config.

    ``univariate``: the effects of the multilevel analyses with their shared arms split and
    combined (the harmonize job's effects_univariate.csv), pooled as sensitivity rows.
    """
    pooling = config.get("pooling", {})
    level = float(pooling.get("level", 0.95))
    dependence = config.get("dependence", "auto")
    grid = method_grid(config)
    uni, mv_rows, fits, vcov = [], [], {}, []
    notes = {}  # slot -> the studies a univariate sensitivity row lost
    for analysis, subgroup, rows in _slots(effects, config):
        if not multilevel(rows["study_id"], dependence):
            uni.append((analysis, subgroup, rows, "none"))
            continue
        rws, mv = _mv_rows(analysis, subgroup, rows, grid, pooling, level)
        mv_rows += rws
        if subgroup == "all":
            fits[analysis["id"]] = mv
            vcov.append(_vcov(analysis["id"], rows))
            if univariate is not None and len(univariate):
                alt = univariate[univariate["analysis_id"] == analysis["id"]]
                for mode, part in alt.groupby("multiarm", sort=True):
                    lost = sorted(set(rows["study_id"]) - set(part["study_id"]))
                    if lost:
                        how = "split" if mode == "split" else "combined"
                        lost_ids = ", ".join(map(str, lost))
                        notes[len(uni)] = f"not estimable with the shared arms {how}: {lost_ids}"
                    uni.append((analysis, "all", part, str(mode)))
    pooled = pd.DataFrame(_uni_rows(uni, grid, level, ("none",), notes) + mv_rows)
    order = {(a["id"], i) for i, a in enumerate(config["analyses"])}
    rank = {aid: i for aid, i in order}
    pooled = (
        pooled.assign(_a=pooled["analysis_id"].map(rank), _s=pooled["subgroup"] != "all",
                      _m=~pooled["dependence"].isin(("none", "multilevel")))
        .sort_values(["_a", "_s", "subgroup", "_m"], kind="stable")
        .drop(columns=["_a", "_s", "_m"])
        .reset_index(drop=True)
        .reindex(columns=POOLED_COLUMNS)
    ) if len(pooled) else pd.DataFrame(columns=POOLED_COLUMNS)  # fmt: skip
    for col, src in (("hr", "estimate"), ("hr_ci_low", "ci_low"), ("hr_ci_high", "ci_high"),
                     ("hr_pi_low", "pi_low"), ("hr_pi_high", "pi_high")):  # fmt: skip
        pooled[col] = _exp(pooled[src])
    rmst = pooled["metric"] == "rmst_diff"  # months, not a ratio
    pooled.loc[rmst, ["hr", "hr_ci_low", "hr_ci_high", "hr_pi_low", "hr_pi_high"]] = np.nan
    return {
        "pooled": pooled,
        "weights": study_weights(effects, pooled, config, fits),
        "vcov": pd.concat(vcov, ignore_index=True).reindex(columns=VCOV_COLUMNS)
        if vcov
        else pd.DataFrame(columns=VCOV_COLUMNS),
    }


def _vcov(analysis_id: str, rows: pd.DataFrame) -> pd.DataFrame:
    from .estimators.vcov import sampling_covariance

    _, pairs = sampling_covariance(rows)
    return pairs.assign(analysis_id=analysis_id)


def pool(effects: pd.DataFrame, config: dict, univariate=None) -> pd.DataFrame:
    """The pooled table (pooled.csv) for every analysis in the config."""
    return pool_tables(effects, config, univariate)["pooled"]


def study_weights(
    effects: pd.DataFrame, pooled: pd.DataFrame, config: dict, fits: dict | None = None
) -> pd.DataFrame:
    """Each comparison's CI at the review's level and its weight in its analysis's main model
    (percent, metafor's ``weights(res)``): w = 1/(v + tau^2) of the overall rma.uni fit, or
    the diagonal of M^-1 of a multilevel fit (``fits``: analysis id -> MVFit); a k = 1
    analysis: 100; a failed fit: none."""
    level = float(config.get("pooling", {}).get("level", 0.95))
    crit = float(norm_isf((1 - level) / 2))
    fits = fits or {}
    main = pooled[pooled["main"].astype(bool) & (pooled["subgroup"] == "all")]
    main = main.set_index("analysis_id")
    frames = []
    for analysis in config["analyses"]:
        aid = analysis["id"]
        rows = effects[effects["analysis_id"] == aid]
        vi = rows["vi"].to_numpy(float)
        if aid in fits:
            mv = fits[aid]
            w = np.diag(np.linalg.inv(mv.M)) if mv is not None else np.full(len(rows), np.nan)
        else:
            tau2 = main.loc[aid, "tau2"] if aid in main.index else np.nan
            w = 1.0 / (vi + (0.0 if np.isnan(tau2) else tau2))
        weight = 100 * w / w.sum() if len(rows) else w
        if len(rows) >= 2 and aid in main.index and main.loc[aid, "status"] != "ok":
            weight = np.full(len(rows), np.nan)
        sei = np.sqrt(vi)
        yi = rows["yi"].to_numpy(float)
        frames.append(rows.assign(sei=sei, ci_lb=yi - crit * sei, ci_ub=yi + crit * sei,
                                  weight=weight))  # fmt: skip
    out = pd.concat(frames, ignore_index=True) if frames else effects.iloc[:0]
    return out.reindex(columns=WEIGHT_COLUMNS)
