"""Leave-one-out, cumulative and influence analyses equal to metafor's.

metafor refits ``rma.uni`` once per omitted (or added) study. Here the refits of
one analysis are stacked into one (K', D) array and fitted in one vectorized
call: all K leave-one-out datasets are a (K - 1, K) array, so ``leave1out`` and
``influence`` cost one tau^2 fit. ``cumul`` needs one call per prefix size.

The refits go through :func:`fit_lean`, which computes only what these tables
show (no Q-profile CI, the expensive part of :func:`survmeta.estimators.rma.rma`).
Numbers follow metafor 3.8.1's ``leave1out.rma.uni``, ``cumul.rma.uni`` and
``influence.rma.uni`` for the intercept-only random-effects model, checked
against tests/fixtures/sensitivity_metafor.json.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .rma import DOUBLE_EPS, METHODS, TESTS
from .tau2 import TAU2_ESTIMATORS

#: Columns of the leave-one-out and cumulative tables (metafor's names, '.' -> '_').
LIST_COLUMNS = ("estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "q", "qp", "tau2", "i2", "h2")
INFLUENCE_COLUMNS = (
    "rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "qe_del", "hat", "weight", "dfbs",
)  # fmt: skip


def _check(y, v, method: str, test: str) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float)
    v = np.asarray(v, dtype=float)
    if y.ndim != 1 or y.shape != v.shape:
        raise ValueError("y and v must be 1-d arrays of the same length")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; expected one of {', '.join(TESTS)}")
    if not np.all(np.isfinite(y)) or not np.all(np.isfinite(v)):
        raise ValueError("y and v must be finite")
    if np.any(v <= 0):
        raise ValueError("every sampling variance v must be > 0")
    return y, v


def _labels(labels, k: int) -> list:
    """Study labels; metafor's default slab is 1..k."""
    if labels is None:
        return list(range(1, k + 1))
    labels = list(labels)
    if len(labels) != k:
        raise ValueError(f"{len(labels)} labels for {k} studies")
    return labels


def fit_lean(
    y: np.ndarray,
    v: np.ndarray,
    method: str,
    test: str = "z",
    level: float = 0.95,
    *,
    tests: bool = True,
) -> dict[str, np.ndarray]:
    """The intercept-only fit of every column of ``y``/``v`` (K, D), without the tau^2 CI.

    Returns arrays of length D: estimate, se, zval, pval, ci_lb, ci_ub, q, qp,
    tau2, i2, h2 (as in metafor's ``rma.uni``), ``s2w`` (the Knapp-Hartung
    factor, 1 under the z test), ``sw`` (sum of the weights) and ``error``
    (metafor's reason where tau^2 could not be estimated, else None; every
    number of such a fit is NaN, as metafor's refitting functions record NA).
    With ``tests=False`` the test statistics (se, zval, pval, CI) are skipped.

    K = 1 is fitted as metafor does: tau^2 = 0, Q = 0, Q p = 1, I^2 = 0,
    H^2 = 1, and the z test whatever ``test`` says.
    """
    k, d = y.shape
    out: dict[str, np.ndarray] = {}
    if k == 1:
        t2 = np.zeros(d)
        error = np.full(d, None, dtype=object)
        test = "z"
    else:
        fit = TAU2_ESTIMATORS[method](y, v)
        t2, error = fit.tau2, fit.error
    failed = np.array([e is not None for e in error], dtype=bool)
    t2 = np.where(failed, 0.0, t2)

    w = 1.0 / (v + t2)
    sw = w.sum(0)
    mu = (w * y).sum(0) / sw
    if test == "z":
        s2w = np.ones(d)
    else:
        rss = (w * (y - mu) ** 2).sum(0)
        s2w = np.where(rss <= DOUBLE_EPS, 0.0, rss / (k - 1))
    out["estimate"] = mu
    out["tau2"] = t2
    out["s2w"] = s2w
    out["sw"] = sw
    if tests:
        se = np.sqrt(s2w / sw)
        with np.errstate(divide="ignore", invalid="ignore"):
            zval = mu / se
        alpha = 1.0 - level
        if test == "z":
            pval = 2 * stats.norm.sf(np.abs(zval))
            crit = stats.norm.isf(alpha / 2)
        else:
            pval = 2 * stats.t.sf(np.abs(zval), k - 1)
            crit = stats.t.isf(alpha / 2, k - 1)
        out.update(se=se, zval=zval, pval=pval, ci_lb=mu - crit * se, ci_ub=mu + crit * se)

    if k == 1:
        out.update(q=np.zeros(d), qp=np.ones(d), i2=np.zeros(d), h2=np.ones(d))
    else:
        w0 = 1.0 / v
        sw0 = w0.sum(0)
        mu0 = (w0 * y).sum(0) / sw0
        q = np.maximum(0.0, (w0 * (y - mu0) ** 2).sum(0))
        vt = (k - 1) * sw0 / (sw0**2 - (w0**2).sum(0))
        out.update(q=q, i2=100 * t2 / (vt + t2), h2=1 + t2 / vt)
        if tests:
            out["qp"] = stats.chi2.sf(q, k - 1)
    if failed.any():
        for name, arr in out.items():
            out[name] = np.where(failed, np.nan, arr)
    out["error"] = error
    return out


def _frame(fit: dict, labels: list, columns=LIST_COLUMNS) -> pd.DataFrame:
    df = pd.DataFrame({"study_id": labels})
    for col in columns:
        df[col] = fit[col]
    return df


def _require_model(y, v, method, test, level) -> dict:
    """metafor's sensitivity functions take a fitted model: none when the fit fails."""
    full = fit_lean(y[:, None], v[:, None], method, test, level)
    if full["error"][0] is not None:
        raise ValueError(f"the {method} model cannot be fitted: {full['error'][0]}")
    return full


def leave_one_out_stack(y: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The K leave-one-out datasets as (K - 1, K) arrays: column j omits study j."""
    k = y.shape[0]
    r = np.arange(k - 1)[:, None]
    idx = r + (r >= np.arange(k)[None, :])
    return y[idx], v[idx]


def leave1out(
    y,
    v,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    labels: Sequence | None = None,
) -> pd.DataFrame:
    """metafor's ``leave1out(res)``: the model refitted without each study in turn.

    One row per omitted study (``study_id``), columns :data:`LIST_COLUMNS`;
    ``zval`` is metafor's ``tval`` under ``test="knha"``. A refit that fails
    (e.g. PM's tau2.max too low) is a row of NaN, as metafor gives NA. Like
    metafor: k = 1 is refused; k = 2 refits single studies (z test, tau^2 = 0).
    """
    y, v = _check(y, v, method, test)
    k = y.shape[0]
    labels = _labels(labels, k)
    if k == 1:
        raise ValueError("Stopped because k = 1.")
    _require_model(y, v, method, test, level)
    ys, vs = leave_one_out_stack(y, v)
    return _frame(fit_lean(ys, vs, method, test, level), labels)


def cumul(
    y,
    v,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    labels: Sequence | None = None,
    order=None,
) -> pd.DataFrame:
    """metafor's ``cumul(res, order=order)``: the model refitted as studies are added.

    ``order`` holds a sort key per study (e.g. the year), not a permutation:
    studies are added by increasing key, ties in their original order (R's
    stable ``order()``); None keeps the given order. Row i is the fit of the
    first i studies (row 1: that study alone, z test, as metafor). Columns as
    :func:`leave1out`; ``study_id`` names the study added.
    """
    y, v = _check(y, v, method, test)
    k = y.shape[0]
    labels = _labels(labels, k)
    _require_model(y, v, method, test, level)
    if order is None:
        perm = np.arange(k)
    else:
        key = np.asarray(order)
        if key.shape != (k,):
            raise ValueError(
                f"Length of the 'order' argument ({key.size}) does not correspond to the "
                f"size of the original dataset ({k})."
            )
        perm = np.argsort(key, kind="stable")
    ys, vs = y[perm], v[perm]
    fits = [fit_lean(ys[:i, None], vs[:i, None], method, test, level) for i in range(1, k + 1)]
    merged = {c: np.concatenate([f[c] for f in fits]) for c in LIST_COLUMNS}
    return _frame(merged, [labels[i] for i in perm])


def influence(
    y,
    v,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    labels: Sequence | None = None,
) -> pd.DataFrame:
    """metafor's ``influence(res)``: case-deletion diagnostics, one row per study.

    Columns rstudent, dffits, cook_d, cov_r, tau2_del, qe_del, hat, weight,
    dfbs (metafor's DFBETAS of the intercept) and ``inf``: True where metafor
    marks the study influential ("*"): |dffits| > 3 sqrt(1/(k-1)),
    pchisq(cook_d, 1) > 0.5, hat > 3/k or |dfbs| > 1. The deletion fits
    carry the model's test (s2w, the Knapp-Hartung factor, enters every
    statistic under ``knha``); a failed deletion fit leaves NaN except hat and
    weight. k = 1 is refused, and so (as metafor's chol() fails) is a knha
    model whose Knapp-Hartung variance is 0.
    """
    y, v = _check(y, v, method, test)
    k = y.shape[0]
    labels = _labels(labels, k)
    if k == 1:
        raise ValueError("Stopped because k = 1.")
    full = _require_model(y, v, method, test, level)
    mu, t2 = full["estimate"][0], full["tau2"][0]
    vb = full["s2w"][0] / full["sw"][0]
    if not vb > 0:
        raise ValueError(
            "the leading minor of order 1 is not positive definite (metafor's influence() "
            "fails: the Knapp-Hartung variance of the model is 0)"
        )
    w = 1.0 / (v + t2)
    hat = w / w.sum()

    ys, vs = leave_one_out_stack(y, v)
    dele = fit_lean(ys, vs, method, test, level, tests=False)
    mu_del, t2_del, s2w_del = dele["estimate"], dele["tau2"], dele["s2w"]
    vb_del = s2w_del / dele["sw"]  # the deletion fit's var(estimate)
    resid = y - mu_del
    resid = np.where(np.abs(resid) < 100 * DOUBLE_EPS, 0.0, resid)
    with np.errstate(divide="ignore", invalid="ignore"):
        rstudent = resid / np.sqrt(v * s2w_del + vb_del + t2_del * s2w_del)
        dfb = mu - mu_del
        dffits = dfb / np.sqrt(s2w_del * hat * (t2_del + v))
        # metafor's vb.del: 1 / sum over all k studies of 1 / (v + tau2_del)
        vb_all = 1.0 / (1.0 / (v[:, None] + t2_del[None, :])).sum(0)
        dfbs = dfb / np.sqrt(s2w_del * vb_all)
        cook_d = dfb**2 / vb
        cov_r = vb_del / vb
    inf = (
        (np.abs(dffits) > 3 * np.sqrt(1 / (k - 1)))
        | (stats.chi2.cdf(cook_d, 1) > 0.5)
        | (hat > 3 / k)
        | (np.abs(dfbs) > 1)
    )
    df = pd.DataFrame(
        {
            "study_id": labels,
            "rstudent": rstudent,
            "dffits": dffits,
            "cook_d": cook_d,
            "cov_r": cov_r,
            "tau2_del": t2_del,
            "qe_del": dele["q"],
            "hat": hat,
            "weight": 100 * hat,
            "dfbs": dfbs,
            "inf": inf,
        }
    )
    return df
