"""Between-study variance (tau^2) estimators, as metafor's ``rma.uni`` computes them.

Every function takes ``y`` and ``v`` of shape (K, D): D independent datasets of K
studies each, stacked along the second axis as PyMARE does, and returns a
:class:`Tau2Fit` with one tau^2 per dataset. A dataset for which the method fails
gets ``nan`` and the reason metafor gives, never another method's value.

The algorithms and their stopping rules follow metafor 3.8 (``rma.uni``), run
with ``control = list(tol = 1e-12, threshold = 1e-12, maxiter = 10000)``; see
methods.md section 2. Only the intercept-only model is needed here.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: Stopping rule of the Fisher scoring and root searches (metafor ``threshold`` / ``tol``).
THRESHOLD = 1e-12
MAXITER = 10_000

PM_TAU2_MAX_LOW = (
    "Value of 'tau2.max' too low. Try increasing 'tau2.max' or switch to another 'method'."
)
FISHER_NOT_CONVERGED = "Fisher scoring algorithm did not converge."


class Tau2Fit(NamedTuple):
    """tau^2 per dataset and, where the method failed, why (else None)."""

    tau2: np.ndarray
    error: np.ndarray


def _ok(tau2: np.ndarray) -> Tau2Fit:
    return Tau2Fit(np.maximum(0.0, tau2), np.full(tau2.shape, None, dtype=object))


def weighted_mean(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    return (w * y).sum(0) / w.sum(0)


def generalized_q(tau2: np.ndarray, y: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Q(tau^2) = sum w (y - mu_w)^2 with w = 1/(v + tau^2) (metafor ``.QE.func``)."""
    w = 1.0 / (v + tau2)
    mu = weighted_mean(y, w)
    return (w * (y - mu) ** 2).sum(0)


def solve_decreasing(f, target: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Root of the decreasing function ``f(x) = target`` in [lo, hi], per column.

    Vectorized bisection to machine precision: all D searches advance together,
    so the Q-profile bounds of every dataset cost one loop of array operations.
    Callers guarantee ``f(lo) >= target >= f(hi)``.
    """
    lo = np.array(lo, dtype=float)
    hi = np.array(hi, dtype=float)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        above = f(mid) > target
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
        if np.all(hi - lo <= 1e-15 * np.maximum(1.0, hi)):
            break
    return 0.5 * (lo + hi)


def hedges_untruncated(y: np.ndarray, v: np.ndarray) -> np.ndarray:
    """HE: sum (y - ybar)^2 / (k - 1) - sum v / k, before truncation at zero."""
    k = y.shape[0]
    return ((y - y.mean(0)) ** 2).sum(0) / (k - 1) - v.sum(0) / k


def tau2_he(y: np.ndarray, v: np.ndarray) -> Tau2Fit:
    """Hedges' (Cochran's ANOVA-type) estimator, metafor ``method = "HE"``."""
    return _ok(hedges_untruncated(y, v))


def tau2_dl(y: np.ndarray, v: np.ndarray) -> Tau2Fit:
    """DerSimonian-Laird: (Q - (k - 1)) / (sum w - sum w^2 / sum w), w = 1/v."""
    k = y.shape[0]
    w = 1.0 / v
    q = generalized_q(0.0, y, v)
    return _ok((q - (k - 1)) / (w.sum(0) - (w**2).sum(0) / w.sum(0)))


def tau2_sj(y: np.ndarray, v: np.ndarray) -> Tau2Fit:
    """Sidik-Jonkman: one step from tau0^2 = sum (y - ybar)^2 / k."""
    k = y.shape[0]
    tau0 = ((y - y.mean(0)) ** 2).sum(0) / k
    return _ok(tau0 * generalized_q(tau0, y, v) / (k - 1))


def pm_tau2_max(y: np.ndarray) -> np.ndarray:
    """Upper end of metafor's PM search: max(100, 10 * mad(y)^2), R's mad (1.4826)."""
    med = np.median(y, axis=0)
    mad = 1.4826 * np.median(np.abs(y - med), axis=0)
    return np.maximum(100.0, 10.0 * mad**2)


def tau2_pm(y: np.ndarray, v: np.ndarray) -> Tau2Fit:
    """Paule-Mandel: the root of Q(tau^2) = k - 1 on [0, tau2.max].

    0 when Q(0) < k - 1; a failure, as in metafor, when the root lies above
    tau2.max.
    """
    k = y.shape[0]
    target = float(k - 1)
    tmax = pm_tau2_max(y)
    q0 = generalized_q(0.0, y, v)
    qmax = generalized_q(tmax, y, v)
    zero = q0 < target
    fail = ~zero & (qmax > target)
    search = ~zero & ~fail
    tau2 = np.zeros(y.shape[1])
    if search.any():
        ys, vs = y[:, search], v[:, search]
        tau2[search] = solve_decreasing(
            lambda t: generalized_q(t, ys, vs), target, np.zeros(search.sum()), tmax[search]
        )
    tau2[fail] = np.nan
    error = np.where(fail, PM_TAU2_MAX_LOW, None).astype(object)
    return Tau2Fit(tau2, error)


def traces_p(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """tr(P) and tr(P^2) for P = W - w w' / S (S = sum w), free of cancellation.

    The textbook sums (S - sum w^2 / S, ...) cancel catastrophically when one
    weight dominates (a study with a tiny variance), where metafor, forming P
    itself, does not. Per element: P_ii = w_i s_i / S with s_i = S - w_i, and
    P_ij = -w_i w_j / S; the off-diagonal sum of squares is accumulated over the
    weights in increasing order, so no large terms cancel.
    """
    sw = w.sum(0)
    s_other = np.maximum(sw - w, 0.0)
    tr_p = (w * s_other).sum(0) / sw
    w2 = np.sort(w, axis=0) ** 2
    below = np.zeros_like(w2)  # sum of the smaller squared weights
    below[1:] = np.cumsum(w2[:-1], axis=0)
    tr_pp = (((w * s_other) ** 2).sum(0) + 2.0 * (w2 * below).sum(0)) / sw**2
    return tr_p, tr_pp


def _fisher_step(method: str, y: np.ndarray, v: np.ndarray, tau2: np.ndarray) -> np.ndarray:
    """One Fisher scoring step of metafor's ML, REML or EB iteration."""
    k = y.shape[0]
    w = 1.0 / (v + tau2)
    sw = w.sum(0)
    r = y - (w * y).sum(0) / sw
    if method == "ML":
        return ((w**2 * r**2).sum(0) - sw) / (w**2).sum(0)
    if method == "REML":
        tr_p, tr_pp = traces_p(w)
        return ((w**2 * r**2).sum(0) - tr_p) / tr_pp
    # EB
    return ((w * r**2).sum(0) * k / (k - 1) - k) / sw


def log_likelihood(method: str, y: np.ndarray, v: np.ndarray, tau2) -> np.ndarray:
    """ML or REML log-likelihood of the intercept-only model (metafor's ll0 check)."""
    k = y.shape[0]
    w = 1.0 / (v + tau2)
    sw = w.sum(0)
    rss = (w * (y - (w * y).sum(0) / sw) ** 2).sum(0)
    ll = -0.5 * np.log(v + tau2).sum(0) - 0.5 * rss
    if method == "ML":
        return ll - 0.5 * k * np.log(2 * np.pi)
    return ll - 0.5 * (k - 1) * np.log(2 * np.pi) - 0.5 * np.log(sw)


def scoring_loop(step, tau2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """metafor's Fisher-scoring iteration, every column at once: (tau^2, failed).

    ``step(idx, t)`` gives the adjustment for the columns ``idx`` at tau^2 = ``t``.
    A step that would make tau^2 negative is halved; a column stops when it moves
    by <= 1e-12 and has failed when still moving after 10,000 steps, or when a
    step is infinite (a variance so small that the information underflows: it
    cannot be halved back to >= 0).
    """
    tau2 = np.array(tau2, dtype=float)
    active = np.ones(tau2.shape, dtype=bool)
    diverged = np.zeros(active.shape, dtype=bool)
    for _ in range(MAXITER + 1):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        t = tau2[idx]
        adj = step(idx, t)
        adj = np.where(np.isnan(adj), 0.0, adj)
        inf = ~np.isfinite(adj)
        adj = np.where(inf, 0.0, adj)
        # From tau^2 = 0 metafor halves a negative step until it underflows to -0.0:
        # the same as no step, without the ~1,075 halvings.
        adj = np.where((t == 0) & (adj < 0), 0.0, adj)
        neg = t + adj < 0
        while neg.any():
            adj = np.where(neg, adj / 2.0, adj)
            neg = t + adj < 0
        new = t + adj
        tau2[idx] = new
        active[idx] = np.abs(new - t) > THRESHOLD
        diverged[idx[inf]] = True
        active[idx[inf]] = False
    return tau2, active | diverged


def fisher_scoring(method: str, y: np.ndarray, v: np.ndarray) -> Tau2Fit:
    """metafor's Fisher scoring for ML, REML and EB, all datasets at once.

    Starts at max(0, untruncated HE); halves a step that would make tau^2
    negative; stops when |change| <= 1e-12. A dataset still moving after
    10,000 steps has failed (EB can oscillate for ever). For ML and REML the
    result is then replaced by 0 when the likelihood at 0 is higher (metafor's
    ``ll0check``): Fisher scoring can stop at a local maximum.
    """
    tau2 = np.maximum(0.0, hedges_untruncated(y, v))
    tau2, failed = scoring_loop(lambda idx, t: _fisher_step(method, y[:, idx], v[:, idx], t), tau2)
    if method in ("ML", "REML"):
        ll0 = log_likelihood(method, y, v, 0.0)
        ll = log_likelihood(method, y, v, tau2)
        stuck = ~failed & (ll0 - ll > THRESHOLD) & (tau2 > THRESHOLD)
        tau2 = np.where(stuck, 0.0, tau2)
    tau2 = np.where(failed, np.nan, np.maximum(0.0, tau2))
    error = np.where(failed, FISHER_NOT_CONVERGED, None).astype(object)
    return Tau2Fit(tau2, error)


def tau2_ml(y: np.ndarray, v: np.ndarray) -> Tau2Fit:
    """Maximum likelihood, metafor ``method = "ML"``."""
    return fisher_scoring("ML", y, v)


def tau2_reml(y: np.ndarray, v: np.ndarray) -> Tau2Fit:
    """Restricted maximum likelihood, metafor ``method = "REML"``."""
    return fisher_scoring("REML", y, v)


def tau2_eb(y: np.ndarray, v: np.ndarray) -> Tau2Fit:
    """Empirical Bayes (Morris), metafor ``method = "EB"``: its own iteration, no fallback."""
    return fisher_scoring("EB", y, v)


TAU2_ESTIMATORS = {
    "DL": tau2_dl,
    "REML": tau2_reml,
    "ML": tau2_ml,
    "PM": tau2_pm,
    "SJ": tau2_sj,
    "HE": tau2_he,
    "EB": tau2_eb,
}
