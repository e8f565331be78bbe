"""Between-study variance (tau^2) estimators, each written once, as metafor's ``rma.uni``.

Every estimator takes stacked datasets (:class:`~.stack.Data`, D columns, any
sizes) and a design (:mod:`.design`: the intercept-only model or moderators) and
returns a :class:`Tau2Fit` with one tau^2 per dataset. A dataset for which the
method fails gets ``nan`` and the reason metafor gives, never another method's
value. The caller (rma.py) guarantees k > p in every column.

The algorithms and their stopping rules are metafor 3.8.1's (``rma.uni``), run
with ``control = list(tol = 1e-12, threshold = 1e-12, maxiter = 10000)``;
formulas in methods.md sections 2 and 5.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .dist import chi2_ppf
from .stack import Data

#: Stopping rule of the Fisher scoring and root searches (metafor ``threshold`` / ``tol``).
THRESHOLD = 1e-12
#: metafor's ``tol``: the ll0check's likelihood margin.
TOL = 1e-12
MAXITER = 10_000

PM_TAU2_MAX_LOW = (
    "Value of 'tau2.max' too low. Try increasing 'tau2.max' or switch to another 'method'."
)
FISHER_NOT_CONVERGED = "Fisher scoring algorithm did not converge."
LOCAL_MAXIMUM = (
    "Fisher scoring algorithm may have gotten stuck at a local maximum.\n"
    "Setting tau^2 = 0. Check the profile likelihood plot with profile()."
)


class Tau2Fit(NamedTuple):
    """tau^2 per dataset, why the method failed (else None), and metafor's warning (else None)."""

    tau2: np.ndarray
    error: np.ndarray
    warning: np.ndarray


def _none(d: int) -> np.ndarray:
    return np.full(d, None, dtype=object)


def _done(tau2, error=None, warning=None) -> Tau2Fit:
    """Truncate at 0 as metafor does (``max(tau2.min, tau2)``); NaN stays NaN."""
    d = tau2.shape[0]
    tau2 = np.where(np.isnan(tau2), np.nan, np.maximum(0.0, tau2))
    return Tau2Fit(
        tau2, _none(d) if error is None else error, _none(d) if warning is None else warning
    )


def generalized_q(tau2, data: Data, design) -> np.ndarray:
    """Q(tau^2) = y'P(tau^2)y with W = 1/(v + tau^2) (metafor ``.QE.func``), decreasing in tau^2."""
    w = data.masked(1.0 / (data.v + tau2))
    return design.wls(design.center(data), w).rss


def solve_decreasing(f, target, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Root of the decreasing function ``f(x) = target`` in [lo, hi], per column.

    Vectorized bisection to machine precision: all D searches advance together.
    The caller guarantees ``f(lo) >= target >= f(hi)``; ``target`` may be a scalar
    or one per column.
    """
    lo = np.array(lo, dtype=float)
    hi = np.array(hi, dtype=float)
    target = np.broadcast_to(np.asarray(target, dtype=float), lo.shape)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        above = f(mid) > target
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
        if np.all(hi - lo <= 1e-15 * np.maximum(1.0, hi)):
            break
    return 0.5 * (lo + hi)


def _he_untruncated(data: Data, design) -> np.ndarray:
    """(y'P0 y - tr(P0 V)) / (k - p) with the unweighted P0 = I - X(X'X)^-1 X'."""
    w = np.ones_like(data.y) if data.m is None else data.m
    fit = design.wls(design.center(data), w)
    return (fit.rss - design.sum(data.masked(data.v) * (1.0 - design.hat(fit)))) / (
        data.k - design.p
    )


def tau2_he(data: Data, design) -> Tau2Fit:
    """Hedges' (Cochran's ANOVA-type) estimator, metafor ``method = "HE"``."""
    return _done(_he_untruncated(data, design))


def _fe_fit(data: Data, design):
    """The fixed-effects fit (W = 1/v) of the centred outcomes."""
    return design.wls(design.center(data), data.masked(1.0 / data.v))


def tau2_dl(data: Data, design) -> Tau2Fit:
    """DerSimonian-Laird: (y'Py - (k - p)) / tr P with W = 1/v."""
    fit = _fe_fit(data, design)
    return _done((fit.rss - (data.k - design.p)) / design.trace_p(fit))


def tau2_hs(data: Data, design) -> Tau2Fit:
    """Hunter-Schmidt: (y'Py - k) / sum w with W = 1/v (metafor ``method = "HS"``)."""
    fit = _fe_fit(data, design)
    return _done((fit.rss - data.k) / fit.sw)


def tau2_hsk(data: Data, design) -> Tau2Fit:
    """Hunter-Schmidt with the small-sample factor: (k/(k - p) y'Py - k) / sum w (``"HSk"``)."""
    fit = _fe_fit(data, design)
    k = data.k
    return _done((k / (k - design.p) * fit.rss - k) / fit.sw)


def tau2_sj(data: Data, design) -> Tau2Fit:
    """Sidik-Jonkman: tau0^2 y'Py / (k - p) with W = 1/(v + tau0^2), tau0^2 = sum(y - ybar)^2/k."""
    yc = data.centered()
    tau0 = design.sum(yc * yc) / data.k
    fit = design.wls(design.center(data), data.masked(1.0 / (data.v + tau0)))
    return _done(tau0 * fit.rss / (data.k - design.p))


def pm_tau2_max(data: Data) -> np.ndarray:
    """Upper end of metafor's PM search: max(100, 10 * mad(y)^2)."""
    return np.maximum(100.0, 10.0 * data.mad() ** 2)


def _q_root(data: Data, design, target: np.ndarray) -> Tau2Fit:
    """The root of Q(tau^2) = target on [0, tau2.max] (Paule-Mandel's search).

    0 when Q(0) < target; a failure, as in metafor, when the root lies above tau2.max.
    """
    tmax = pm_tau2_max(data)
    zero = generalized_q(0.0, data, design) < target
    fail = ~zero & (generalized_q(tmax, data, design) > target)
    search = np.flatnonzero(~zero & ~fail)
    tau2 = np.zeros(data.d)
    if search.size:
        sub, dsub = data.take(search), design.take(search)
        tau2[search] = solve_decreasing(
            lambda t: generalized_q(t, sub, dsub),
            target[search],
            np.zeros(search.size),
            tmax[search],
        )
    tau2[fail] = np.nan
    return _done(tau2, np.where(fail, PM_TAU2_MAX_LOW, None).astype(object))


def tau2_pm(data: Data, design) -> Tau2Fit:
    """Paule-Mandel: the root of Q(tau^2) = k - p (metafor ``method = "PM"``)."""
    return _q_root(data, design, (data.k - design.p).astype(float))


def tau2_pmm(data: Data, design) -> Tau2Fit:
    """Median-unbiased Paule-Mandel: the root of Q(tau^2) = qchisq(0.5, k - p) (``"PMM"``)."""
    return _q_root(data, design, chi2_ppf(0.5, data.k - design.p))


def _fisher_step(method: str, data: Data, design, tau2: np.ndarray) -> np.ndarray:
    """One Fisher scoring step of metafor's ML, REML or EB iteration (``adj``)."""
    w = data.masked(1.0 / (data.v + tau2))
    fit = design.wls(design.center(data), w)
    if method == "EB":
        k = data.k
        return (fit.rss * k / (k - design.p) - k) / fit.sw
    wr = w * fit.resid
    ypy2 = design.sum(wr * wr)
    if method == "ML":
        return (ypy2 - fit.sw) / design.sum(w * w)
    tr_p, tr_pp = design.traces(fit)
    return (ypy2 - tr_p) / tr_pp


def log_likelihood(method: str, data: Data, design, tau2) -> np.ndarray:
    """ML or REML log-likelihood as metafor's ll0check computes it (``REMLf`` term omitted)."""
    vt = data.v + tau2
    w = data.masked(1.0 / vt)
    fit = design.wls(design.center(data), w)
    ll = -0.5 * design.sum(data.masked(np.log(vt))) - 0.5 * fit.rss
    if method == "ML":
        return ll - 0.5 * data.k * np.log(2 * np.pi)
    return ll - 0.5 * (data.k - design.p) * np.log(2 * np.pi) - 0.5 * design.logdet(fit)


def scoring_run(method, data: Data, design, tau2, steps, max_steps):
    """Advance metafor's Fisher scoring, every dataset at once: (tau^2, steps, converged).

    Each dataset steps until |change| <= 1e-12 or until it has taken ``max_steps``
    steps in all (``steps`` counts those already taken, so a run can be continued:
    gosh.py finishes its slow subsets together). A step that would make tau^2
    negative is halved (from tau^2 = 0 metafor halves a negative step until it
    underflows to -0.0: the same as no step); a step that is infinite (the
    information underflows) cannot be halved back and fails the dataset. A dataset
    leaves the working arrays as soon as it stops, so a few slow ones cost little.
    """
    tau2 = np.array(tau2, dtype=float)
    steps = np.array(steps, dtype=int)
    converged = np.zeros(tau2.size, dtype=bool)
    work = np.flatnonzero(steps < max_steps)
    sub, dsub = data.take(work), design.take(work)
    t, st = tau2[work], steps[work]
    while work.size:
        adj = _fisher_step(method, sub, dsub, t)
        adj[np.isnan(adj) | ((t == 0) & (adj < 0))] = 0.0
        diverged = ~np.isfinite(adj)
        adj[diverged] = 0.0
        new = t + adj
        neg = new < 0
        while neg.any():
            adj[neg] /= 2.0
            new = t + adj
            neg = new < 0
        moved = (np.abs(new - t) > THRESHOLD) | diverged
        t = new
        st += 1
        st[diverged] = max_steps
        stop = ~moved | (st >= max_steps)
        if stop.any():
            idx = work[stop]
            tau2[idx], steps[idx], converged[idx] = t[stop], st[stop], ~moved[stop]
            keep = np.flatnonzero(~stop)
            work, t, st = work[keep], t[keep], st[keep]
            sub, dsub = sub.take(keep), dsub.take(keep)
    return tau2, steps, converged


def scoring_start(data: Data, design) -> np.ndarray:
    """metafor's starting value: max(0, the untruncated HE estimate)."""
    return np.maximum(0.0, _he_untruncated(data, design))


def scoring_finish(method, data: Data, design, tau2, converged) -> Tau2Fit:
    """NaN where scoring did not converge; for ML/REML metafor's ll0check: tau^2 = 0 (with its
    warning) when the likelihood at 0 is higher, as scoring can stop at a local maximum."""
    warning = _none(data.d)
    if method in ("ML", "REML"):
        t = np.where(converged, tau2, 0.0)
        ll0 = log_likelihood(method, data, design, 0.0)
        ll = log_likelihood(method, data, design, t)
        stuck = converged & (ll0 - ll > TOL) & (t > THRESHOLD)
        tau2 = np.where(stuck, 0.0, tau2)
        warning[stuck] = LOCAL_MAXIMUM
    tau2 = np.where(converged, tau2, np.nan)
    error = np.where(converged, None, FISHER_NOT_CONVERGED).astype(object)
    return _done(tau2, error, warning)


def fisher_scoring(method: str, data: Data, design) -> Tau2Fit:
    """metafor's Fisher scoring for ML, REML and EB (methods.md section 2)."""
    start = scoring_start(data, design)
    tau2, _, conv = scoring_run(method, data, design, start, np.zeros(data.d, int), MAXITER + 1)
    return scoring_finish(method, data, design, tau2, conv)


def tau2_ml(data: Data, design) -> Tau2Fit:
    """Maximum likelihood, metafor ``method = "ML"``."""
    return fisher_scoring("ML", data, design)


def tau2_reml(data: Data, design) -> Tau2Fit:
    """Restricted maximum likelihood, metafor ``method = "REML"``."""
    return fisher_scoring("REML", data, design)


def tau2_eb(data: Data, design) -> Tau2Fit:
    """Empirical Bayes (Morris), metafor ``method = "EB"``: its own iteration, no fallback."""
    return fisher_scoring("EB", data, design)


#: metafor's method name -> estimator. The order is the order of the sensitivity grid.
TAU2_ESTIMATORS = {
    "DL": tau2_dl,
    "REML": tau2_reml,
    "ML": tau2_ml,
    "PM": tau2_pm,
    "SJ": tau2_sj,
    "HE": tau2_he,
    "EB": tau2_eb,
    "HS": tau2_hs,
    "HSk": tau2_hsk,
    "PMM": tau2_pmm,
}
METHODS = tuple(TAU2_ESTIMATORS)
