"""Random-effects pooling equal to metafor's ``rma.uni``, ``predict`` and ``confint``.

:func:`rma` fits D datasets of the same size K at once (y, v of shape (K, D)); the
pooling stage groups analyses by k and calls it once per group. Formulas:
methods.md section 2, checked against fixtures made by tests/fixtures/pooling_metafor.R.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from .tau2 import generalized_q, solve_decreasing

METHODS = ("DL", "REML", "ML", "PM", "SJ", "HE", "EB")
TESTS = ("z", "knha")

#: R's .Machine$double.eps: metafor's threshold for a zero Knapp-Hartung residual.
DOUBLE_EPS = 2.220446049250313e-16


@dataclass
class RMAResults:
    """One random-effects fit per dataset (arrays of length D), named as in metafor."""

    method: str
    test: str
    level: float
    k: int
    estimate: np.ndarray
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    stat: np.ndarray
    p: np.ndarray
    pi_low: np.ndarray
    pi_high: np.ndarray
    tau2: np.ndarray
    tau2_ci_low: np.ndarray
    tau2_ci_high: np.ndarray
    i2: np.ndarray
    h2: np.ndarray
    i2_ci_low: np.ndarray
    i2_ci_high: np.ndarray
    h2_ci_low: np.ndarray
    h2_ci_high: np.ndarray
    q: np.ndarray
    q_df: int
    q_p: np.ndarray
    error: np.ndarray = field(repr=False)

    def row(self, d: int) -> dict:
        """The d-th fit as a flat dict (for tables)."""
        out = {"method": self.method, "test": self.test, "k": self.k, "q_df": self.q_df}
        for name in (
            "estimate se ci_low ci_high pi_low pi_high tau2 tau2_ci_low tau2_ci_high "
            "i2 h2 q q_p stat p"
        ).split():
            out[name] = float(getattr(self, name)[d])
        out["error"] = self.error[d]
        return out


def typical_variance(v: np.ndarray) -> np.ndarray:
    """metafor's ``vt``: s^2 = (k - 1) sum w / ((sum w)^2 - sum w^2), w = 1/v."""
    k = v.shape[0]
    w = 1.0 / v
    sw = w.sum(0)
    return (k - 1) * sw / (sw**2 - (w**2).sum(0))


def qprofile_tau2_ci(
    y: np.ndarray, v: np.ndarray, tau2_hat: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Q-profile CI for tau^2 (metafor ``confint``, type "QP"), all datasets at once.

    Searched on [0, max(100, 10 tau2_hat)] as metafor does; a bound beyond the
    search range is reported as the range's end, as metafor reports it.
    """
    k = y.shape[0]
    alpha = 1.0 - level
    crit_u = stats.chi2.isf(alpha / 2, k - 1)  # Q at the lower bound
    crit_l = stats.chi2.ppf(alpha / 2, k - 1)  # Q at the upper bound
    tmax = np.maximum(100.0, 10.0 * np.nan_to_num(tau2_hat))
    q_min = generalized_q(0.0, y, v)
    q_max = generalized_q(tmax, y, v)
    lb = np.full(y.shape[1], np.nan)
    ub = np.full(y.shape[1], np.nan)

    def root(mask, crit):
        """Q(tau^2) = crit on [0, tmax] for the datasets in ``mask``."""
        ys, vs = y[:, mask], v[:, mask]
        lo = np.zeros(mask.sum())
        return solve_decreasing(lambda t: generalized_q(t, ys, vs), crit, lo, tmax[mask])

    both_zero = q_min < crit_l
    lb[both_zero] = 0.0
    ub[both_zero] = 0.0
    ub_cap = ~both_zero & (q_max > crit_l)
    ub[ub_cap] = tmax[ub_cap]
    ub_root = ~both_zero & ~ub_cap
    ub[ub_root] = root(ub_root, crit_l)
    both_cap = q_max > crit_u
    lb[both_cap] = tmax[both_cap]
    ub[both_cap] = tmax[both_cap]
    lb_zero = ~both_cap & ~both_zero & (q_min < crit_u)
    lb[lb_zero] = 0.0
    lb_root = ~both_cap & ~both_zero & ~lb_zero
    lb[lb_root] = root(lb_root, crit_u)
    return lb, ub


def rma(
    y: np.ndarray,
    v: np.ndarray,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    tau2: tuple[np.ndarray, np.ndarray] | None = None,
) -> RMAResults:
    """Fit the random-effects model to each column of ``y``/``v`` (K >= 2 studies).

    ``tau2`` may pass a precomputed (tau2, errors) pair (e.g. to reuse one tau^2
    fit for both tests); otherwise it is estimated through the PyMARE estimator
    for ``method``.
    """
    y = np.asarray(y, dtype=float)
    v = np.asarray(v, dtype=float)
    if y.ndim == 1:
        y, v = y[:, None], v[:, None]
    k, d = y.shape
    if k < 2:
        raise ValueError("rma needs at least 2 studies per dataset")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; expected one of {', '.join(TESTS)}")
    if tau2 is None:
        from .pymare_ext import estimate_tau2

        tau2 = estimate_tau2(method, y, v)
    t2, error = tau2
    failed = np.array([e is not None for e in error])

    w = 1.0 / (v + t2)
    sw = w.sum(0)
    mu = (w * y).sum(0) / sw
    if test == "z":
        se = np.sqrt(1.0 / sw)
        crit = stats.norm.isf((1 - level) / 2)
        stat = mu / se
        p = 2 * stats.norm.sf(np.abs(stat))
    else:
        rss = (w * (y - mu) ** 2).sum(0)
        s2w = np.where(rss <= DOUBLE_EPS, 0.0, rss / (k - 1))
        se = np.sqrt(s2w / sw)
        crit = stats.t.isf((1 - level) / 2, k - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = mu / se
        p = 2 * stats.t.sf(np.abs(stat), k - 1)
    pi_se = np.sqrt(se**2 + t2)

    q = np.maximum(0.0, generalized_q(0.0, y, v))
    vt = typical_variance(v)
    tau2_lb, tau2_ub = qprofile_tau2_ci(y, v, t2, level)
    res = RMAResults(
        method=method,
        test=test,
        level=level,
        k=k,
        estimate=mu,
        se=se,
        ci_low=mu - crit * se,
        ci_high=mu + crit * se,
        stat=stat,
        p=p,
        pi_low=mu - crit * pi_se,
        pi_high=mu + crit * pi_se,
        tau2=t2,
        tau2_ci_low=tau2_lb,
        tau2_ci_high=tau2_ub,
        i2=100 * t2 / (vt + t2),
        h2=1 + t2 / vt,
        i2_ci_low=100 * tau2_lb / (vt + tau2_lb),
        i2_ci_high=100 * tau2_ub / (vt + tau2_ub),
        h2_ci_low=1 + tau2_lb / vt,
        h2_ci_high=1 + tau2_ub / vt,
        q=q,
        q_df=k - 1,
        q_p=stats.chi2.sf(q, k - 1),
        error=error,
    )
    if failed.any():
        for name in (
            "estimate se ci_low ci_high stat p pi_low pi_high tau2 tau2_ci_low tau2_ci_high "
            "i2 h2 i2_ci_low i2_ci_high h2_ci_low h2_ci_high"
        ).split():
            arr = getattr(res, name).astype(float)
            arr[failed] = np.nan
            setattr(res, name, arr)
    return res
