"""Leave-one-out, cumulative and influence analyses equal to metafor's.

metafor refits ``rma.uni`` once per omitted (or added) study. Here the refits of
one analysis are stacked and fitted by the engine (rma.py) in one call: the K
leave-one-out datasets are a (K - 1, K) array, the K cumulative datasets a padded
(K, K) one. Numbers follow metafor 3.8.1's ``leave1out.rma.uni``, ``cumul.rma.uni``
and ``influence.rma.uni`` for the intercept-only model, checked against
tests/fixtures/sensitivity_metafor.json.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .dist import chi2_cdf
from .rma import DOUBLE_EPS, RMAResults, check_method, rma

#: Columns of the leave-one-out and cumulative tables (metafor's names, '.' -> '_').
LIST_COLUMNS = ("estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "q", "qp", "tau2", "i2", "h2")
INFLUENCE_COLUMNS = (
    "rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "qe_del", "hat", "weight", "dfbs",
)  # fmt: skip


def check_data(y, v, method: str, test: str) -> tuple[np.ndarray, np.ndarray]:
    """1-d finite y, v > 0 and a known method and test, or ValueError saying which."""
    y = np.asarray(y, dtype=float)
    v = np.asarray(v, dtype=float)
    if y.ndim != 1 or y.shape != v.shape:
        raise ValueError("y and v must be 1-d arrays of the same length")
    check_method(method, test)
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


def refit_table(res: RMAResults) -> dict[str, np.ndarray]:
    """The columns metafor's refitting functions record, NaN throughout for a failed fit."""
    out = {
        "estimate": res.estimate, "se": res.se[0], "zval": res.zval[0], "pval": res.pval[0],
        "ci_lb": res.ci_lb[0], "ci_ub": res.ci_ub[0], "q": res.qe, "qp": res.qep,
        "tau2": res.tau2, "i2": res.i2, "h2": res.h2,
    }  # fmt: skip
    failed = res.fit.failed
    return {name: np.where(failed, np.nan, arr) for name, arr in out.items()}


def _frame(fit: dict, labels: list, columns=LIST_COLUMNS) -> pd.DataFrame:
    df = pd.DataFrame({"study_id": labels})
    for col in columns:
        df[col] = fit[col]
    return df


def require_model(y, v, method, test, level) -> RMAResults:
    """metafor's sensitivity functions take a fitted model: none when the fit fails."""
    res = rma(y, v, method, test, level)
    if res.error[0] is not None:
        raise ValueError(f"the {method} model cannot be fitted: {res.error[0]}")
    return res


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
    y, v = check_data(y, v, method, test)
    k = y.shape[0]
    labels = _labels(labels, k)
    if k == 1:
        raise ValueError("Stopped because k = 1.")
    require_model(y, v, method, test, level)
    ys, vs = leave_one_out_stack(y, v)
    return _frame(refit_table(rma(ys, vs, method, test, level)), labels)


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
    y, v = check_data(y, v, method, test)
    k = y.shape[0]
    labels = _labels(labels, k)
    require_model(y, v, method, test, level)
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
    prefix = (np.arange(k)[:, None] <= np.arange(k)[None, :]).astype(float)  # column i: i + 1
    res = rma(np.repeat(ys[:, None], k, 1), np.repeat(vs[:, None], k, 1), method, test, level,
              present=prefix)  # fmt: skip
    return _frame(refit_table(res), [labels[i] for i in perm])


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
    y, v = check_data(y, v, method, test)
    k = y.shape[0]
    labels = _labels(labels, k)
    if k == 1:
        raise ValueError("Stopped because k = 1.")
    full = require_model(y, v, method, test, level)
    mu, t2 = full.estimate[0], full.tau2[0]
    vb = full.vb[0, 0, 0]
    if not vb > 0:
        raise ValueError(
            "the leading minor of order 1 is not positive definite (metafor's influence() "
            "fails: the Knapp-Hartung variance of the model is 0)"
        )
    w = 1.0 / (v + t2)
    hat = w / w.sum()

    ys, vs = leave_one_out_stack(y, v)
    dele = rma(ys, vs, method, test, level)
    failed = dele.fit.failed
    mu_del, t2_del, s2w_del, vb_del, qe_del = (
        np.where(failed, np.nan, a)
        for a in (dele.estimate, dele.tau2, dele.s2w, dele.vb[:, 0, 0], dele.qe)
    )  # vb_del: the deletion fit's var(estimate)
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
        | (chi2_cdf(cook_d, 1) > 0.5)
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
            "qe_del": qe_del,
            "hat": hat,
            "weight": 100 * hat,
            "dfbs": dfbs,
            "inf": inf,
        }
    )
    return df
