"""Random-effects meta-regression equal to metafor's ``rma.uni(yi, vi, mods = X)``.

The intercept-only engine (``rma.py``, ``tau2.py``) covers pooling; this module adds
moderators: the seven tau^2 estimators as metafor computes them with a design
matrix X (its P matrix, trace formulas, Fisher scoring, ll0check, PM's search
range), the Wald-type and Knapp-Hartung tests of the coefficients, QM, QE, the
residual I^2/H^2 and the pseudo R^2. Formulas follow metafor 3.8 ``rma.uni``,
checked against tests/fixtures/moderators_metafor.json.

Arrays follow PyMARE's convention: y, v of shape (K, D) (D stacked datasets) and
a design X of shape (K, p) common to all of them, or (D, K, p) when each dataset
has its own (regtest's sei column). Everything is computed for all D datasets at
once from the QR decomposition of each sqrt(W) X, never forming a K x K P matrix:
with H the hat matrix of sqrt(W) X and r = y - X beta_W,

    y'Py = sum w r^2,   y'PPy = sum (w r)^2,   tr P = sum w (1 - h),
    tr PP = sum w^2 - 2 sum w^2 h + ||Q'WQ||_F^2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
from pymare.estimators.estimators import BaseEstimator
from pymare.stats import ensure_2d
from scipy import stats

from .rma import DOUBLE_EPS, METHODS, TESTS
from .tau2 import (
    FISHER_NOT_CONVERGED,
    PM_TAU2_MAX_LOW,
    THRESHOLD,
    pm_tau2_max,
    scoring_loop,
    solve_decreasing,
)

#: metafor's ``tol``: the ll0check's likelihood margin (fixtures: 1e-12).
TOL = 1e-12
#: metafor's ``evtol``: smallest eigenvalue of X'X of a full-rank design.
EVTOL = 1e-7
#: Tolerance of R's ``lm`` QR (dqrdc2) when it looks for redundant predictors.
LM_QR_TOL = 1e-7

TOO_MANY_PARAMETERS = (
    "Number of parameters to be estimated is larger than the number of observations."
)
NOT_FULL_RANK = "Model matrix not of full rank. Cannot fit model."
REDUNDANT_DROPPED = "Redundant predictors dropped from the model."
LOCAL_MAXIMUM = (
    "Fisher scoring algorithm may have gotten stuck at a local maximum.\n"
    "Setting tau^2 = 0. Check the profile likelihood plot with profile()."
)


class Tau2Fit(NamedTuple):
    """tau^2 per dataset, why the method failed (else None), and warnings (else None)."""

    tau2: np.ndarray
    error: np.ndarray
    warning: np.ndarray


class WLSFit(NamedTuple):
    """Weighted least squares of D datasets: the pieces the estimators need."""

    beta: np.ndarray  # (D, p)
    resid: np.ndarray  # (K, D), y - X beta
    rss: np.ndarray  # (D,), sum w r^2 = y'Py
    h: np.ndarray  # (K, D), diagonal of the hat matrix of sqrt(W) X
    q: np.ndarray  # (D, K, p)
    r: np.ndarray  # (D, p, p)


def _stack_x(X: np.ndarray, d: int) -> np.ndarray:
    """The design as (D, K, p): a common (K, p) X is broadcast, not copied."""
    X = np.asarray(X, dtype=float)
    if X.ndim == 2:
        return np.broadcast_to(X, (d, *X.shape))
    return X


def wls(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> WLSFit:
    """beta = (X'WX)^-1 X'Wy per dataset, through the QR of sqrt(W) X (metafor's ``.invcalc``)."""
    Xs = _stack_x(X, y.shape[1])
    sw = np.sqrt(w).T  # (D, K)
    q, r = np.linalg.qr(Xs * sw[:, :, None])
    qty = np.einsum("dkp,dk->dp", q, sw * y.T)
    beta = np.linalg.solve(r, qty[:, :, None])[:, :, 0]
    resid = y - np.einsum("dkp,dp->kd", Xs, beta)
    return WLSFit(beta, resid, (w * resid**2).sum(0), (q**2).sum(2).T, q, r)


def trace_p(w: np.ndarray, fit: WLSFit) -> np.ndarray:
    """tr P with P = W - W X (X'WX)^-1 X'W."""
    return (w * (1.0 - fit.h)).sum(0)


def trace_pp(w: np.ndarray, fit: WLSFit) -> np.ndarray:
    """tr PP = sum w^2 - 2 sum w^2 h + ||Q'WQ||_F^2."""
    qwq = np.einsum("dkp,kd,dkq->dpq", fit.q, w, fit.q)
    return (w**2).sum(0) - 2.0 * (w**2 * fit.h).sum(0) + (qwq**2).sum((1, 2))


def logdet_xwx(fit: WLSFit) -> np.ndarray:
    """log det(X'WX) = 2 sum log |diag R|."""
    return 2.0 * np.log(np.abs(np.diagonal(fit.r, axis1=1, axis2=2))).sum(1)


def _centered(y: np.ndarray) -> np.ndarray:
    """metafor estimates tau^2 from the mean-centred outcomes (``Ymc``)."""
    return y - y.mean(0)


def _done(tau2, error=None, warning=None) -> Tau2Fit:
    n = tau2.shape
    error = np.full(n, None, dtype=object) if error is None else error
    warning = np.full(n, None, dtype=object) if warning is None else warning
    return Tau2Fit(np.where(np.isnan(tau2), np.nan, np.maximum(0.0, tau2)), error, warning)


def tau2_he_mods(y, v, X) -> Tau2Fit:
    """HE: (y'Py - tr(PV)) / (k - p) with the unweighted P = I - X(X'X)^-1 X'."""
    k = y.shape[0]
    fit = wls(X, _centered(y), np.ones_like(y))
    p = fit.r.shape[-1]
    return _done(_he_untruncated(v, fit, k, p))


def _he_untruncated(v, fit: WLSFit, k: int, p: int) -> np.ndarray:
    return (fit.rss - (v * (1.0 - fit.h)).sum(0)) / (k - p)


def tau2_dl_mods(y, v, X) -> Tau2Fit:
    """DL: (y'Py - (k - p)) / tr P with W = 1/v."""
    k = y.shape[0]
    w = 1.0 / v
    fit = wls(X, _centered(y), w)
    p = fit.r.shape[-1]
    return _done((fit.rss - (k - p)) / trace_p(w, fit))


def tau2_sj_mods(y, v, X) -> Tau2Fit:
    """SJ: tau0^2 y'Py / (k - p) with W = 1/(v + tau0^2), tau0^2 = sum (y - ybar)^2 / k."""
    k = y.shape[0]
    yc = _centered(y)
    tau0 = (yc**2).sum(0) / k
    fit = wls(X, yc, 1.0 / (v + tau0))
    p = fit.r.shape[-1]
    return _done(tau0 * fit.rss / (k - p))


def _q_of_tau2(t, yc, v, X):
    """Generalized Q(tau^2) = y'P(tau^2)y (metafor ``.QE.func``), decreasing in tau^2."""
    return wls(X, yc, 1.0 / (v + t)).rss


def tau2_pm_mods(y, v, X) -> Tau2Fit:
    """PM: the root of Q(tau^2) = k - p on [0, max(100, 10 mad(y)^2)]; fails above it."""
    k, d = y.shape
    Xs = _stack_x(X, d)
    p = Xs.shape[-1]
    yc = _centered(y)
    target = float(k - p)
    tmax = pm_tau2_max(y)
    zero = _q_of_tau2(0.0, yc, v, Xs) < target
    fail = ~zero & (_q_of_tau2(tmax, yc, v, Xs) > target)
    search = ~zero & ~fail
    tau2 = np.zeros(d)
    if search.any():
        ys, vs, xs = yc[:, search], v[:, search], Xs[search]
        tau2[search] = solve_decreasing(
            lambda t: _q_of_tau2(t, ys, vs, xs), target, np.zeros(search.sum()), tmax[search]
        )
    tau2[fail] = np.nan
    return _done(tau2, np.where(fail, PM_TAU2_MAX_LOW, None).astype(object))


def _fisher_step(method, yc, v, X, tau2, k, p):
    w = 1.0 / (v + tau2)
    fit = wls(X, yc, w)
    if method == "ML":
        return (((w * fit.resid) ** 2).sum(0) - w.sum(0)) / (w**2).sum(0)
    if method == "REML":
        return (((w * fit.resid) ** 2).sum(0) - trace_p(w, fit)) / trace_pp(w, fit)
    return (fit.rss * k / (k - p) - k) / w.sum(0)  # EB


def log_likelihood_mods(method, yc, v, X, tau2) -> np.ndarray:
    """ML or REML log-likelihood as metafor's ll0check computes it (REMLf term omitted)."""
    k = yc.shape[0]
    fit = wls(X, yc, 1.0 / (v + tau2))
    p = fit.r.shape[-1]
    ll = -0.5 * np.log(v + tau2).sum(0) - 0.5 * fit.rss
    if method == "ML":
        return ll - 0.5 * k * np.log(2 * np.pi)
    return ll - 0.5 * (k - p) * np.log(2 * np.pi) - 0.5 * logdet_xwx(fit)


def fisher_scoring_mods(method: str, y, v, X) -> Tau2Fit:
    """metafor's Fisher scoring for ML, REML and EB with moderators, all datasets at once.

    Starts at max(0, untruncated HE); halves a step that would make tau^2
    negative; stops at |change| <= 1e-12 (a dataset still moving after 10,000
    steps has failed). For ML/REML, tau^2 is then set to 0 (with metafor's
    warning) when the likelihood at 0 is higher: Fisher scoring can stop at a
    local maximum.
    """
    k, d = y.shape
    Xs = _stack_x(X, d)
    p = Xs.shape[-1]
    yc = _centered(y)
    he = wls(Xs, yc, np.ones_like(y))
    tau2 = np.maximum(0.0, _he_untruncated(v, he, k, p))
    tau2, failed = scoring_loop(
        lambda idx, t: _fisher_step(method, yc[:, idx], v[:, idx], Xs[idx], t, k, p), tau2
    )
    warning = np.full(d, None, dtype=object)
    if method in ("ML", "REML"):
        ll0 = log_likelihood_mods(method, yc, v, Xs, 0.0)
        ll = log_likelihood_mods(method, yc, v, Xs, np.where(failed, 0.0, tau2))
        stuck = ~failed & (ll0 - ll > TOL) & (tau2 > THRESHOLD)
        tau2 = np.where(stuck, 0.0, tau2)
        warning[stuck] = LOCAL_MAXIMUM
    tau2 = np.where(failed, np.nan, tau2)
    return _done(tau2, np.where(failed, FISHER_NOT_CONVERGED, None).astype(object), warning)


TAU2_MODS_ESTIMATORS = {
    "DL": tau2_dl_mods,
    "HE": tau2_he_mods,
    "SJ": tau2_sj_mods,
    "PM": tau2_pm_mods,
    "ML": lambda y, v, X: fisher_scoring_mods("ML", y, v, X),
    "REML": lambda y, v, X: fisher_scoring_mods("REML", y, v, X),
    "EB": lambda y, v, X: fisher_scoring_mods("EB", y, v, X),
}


class MetaforModsEstimator(BaseEstimator):
    """Meta-regression with one of metafor's tau^2 estimators, in PyMARE's interface.

    The mods-capable counterpart of ``pymare_ext.MetaforTau2Estimator``:
    ``fit(y, v, X)`` with X the full design (intercept column included, as
    PyMARE passes it), (K, p) or (D, K, p); ``params_`` holds ``fe_params``
    (p, D), ``tau2`` (D,), ``inv_cov`` ((X'WX)^-1, p x p x D); ``errors_`` and
    ``warnings_`` metafor's messages per dataset.
    """

    method = "REML"

    def __init__(self, method: str | None = None):
        if method is not None:
            self.method = method
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}")

    def fit(self, y, v, X):
        """Estimate tau^2 per dataset, then the weighted least-squares coefficients."""
        self.dataset_ = None
        y, v = ensure_2d(y), ensure_2d(v)
        v = np.broadcast_to(v, y.shape).astype(float)
        X = np.ones((y.shape[0], 1)) if X is None else np.asarray(X, dtype=float)
        res = TAU2_MODS_ESTIMATORS[self.method](y, v, X)
        failed = np.isnan(res.tau2)
        fit = wls(X, y, 1.0 / (v + np.where(failed, 0.0, res.tau2)[None, :]))
        beta = fit.beta.T.copy()
        rinv = np.linalg.inv(fit.r)
        cov = np.einsum("dpr,dqr->pqd", rinv, rinv)
        beta[:, failed] = np.nan
        cov[..., failed] = np.nan
        self.params_ = {"fe_params": beta, "tau2": res.tau2, "inv_cov": cov, "dof": None}
        self.errors_ = res.error
        self.warnings_ = res.warning
        return self


def estimate_tau2_mods(method: str, y, v, X) -> Tau2Fit:
    """tau^2, failure reasons and warnings for D stacked datasets, through the estimator."""
    est = MetaforModsEstimator(method).fit(y, v, X)
    return Tau2Fit(np.asarray(est.params_["tau2"], float), est.errors_, est.warnings_)


# ---------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------


def redundant_columns(X: np.ndarray, tol: float = LM_QR_TOL) -> np.ndarray:
    """Columns R's ``lm`` would report as NA: nearly a combination of the columns before.

    Mirrors LINPACK dqrdc2's limited pivoting: a column whose norm after
    projecting out the kept columns falls below ``tol`` times its own norm is
    redundant.
    """
    X = np.asarray(X, dtype=float)
    keep: list[int] = []
    out = np.zeros(X.shape[1], dtype=bool)
    for j in range(X.shape[1]):
        col = X[:, j]
        if keep:
            qk, _ = np.linalg.qr(X[:, keep])
            res = col - qk @ (qk.T @ col)
        else:
            res = col
        norm = np.linalg.norm(col)
        if norm == 0 or np.linalg.norm(res) < tol * norm:
            out[j] = True
        else:
            keep.append(j)
    return out


def _is_intercept(col: np.ndarray) -> bool:
    return bool(np.all(col == 1.0))


@dataclass
class RMAModsResults:
    """One meta-regression per dataset, named as in metafor (``.`` -> ``_``).

    Coefficient arrays are (p, D) (PyMARE's convention), per-dataset values (D,).
    ``qm_df`` is m (the number of coefficients tested) and ``qm_df2`` is k - p
    under knha (QM is then an F statistic), NaN under z.
    """

    method: str
    test: str
    level: float
    k: int
    p: int
    terms: list[str]
    btt: np.ndarray
    int_only: bool
    beta: np.ndarray
    se: np.ndarray
    zval: np.ndarray
    pval: np.ndarray
    ci_lb: np.ndarray
    ci_ub: np.ndarray
    vb: np.ndarray
    tau2: np.ndarray
    qe: np.ndarray
    qep: np.ndarray
    qm: np.ndarray
    qm_df: int
    qm_df2: float
    qmp: np.ndarray
    i2: np.ndarray
    h2: np.ndarray
    r2: np.ndarray
    vt: np.ndarray
    s2w: np.ndarray
    error: np.ndarray = field(repr=False)
    warning: np.ndarray = field(repr=False)
    design_warnings: list[str] = field(default_factory=list)

    def to_frame(self, d: int | None = None) -> pd.DataFrame:
        """Per-term rows (``term, estimate, se, zval, pval, ci_lb, ci_ub``) plus the model's
        ``qm, qm_df, qm_df2, qmp, r2, tau2, qe, qep, i2, h2, k, method, test, error``;
        all datasets (with a ``dataset`` column) unless ``d`` picks one."""
        ds = range(self.beta.shape[1]) if d is None else [d]
        frames = []
        for j in ds:
            df = pd.DataFrame(
                {
                    "term": self.terms,
                    "estimate": self.beta[:, j],
                    "se": self.se[:, j],
                    "zval": self.zval[:, j],
                    "pval": self.pval[:, j],
                    "ci_lb": self.ci_lb[:, j],
                    "ci_ub": self.ci_ub[:, j],
                }
            )
            for name in ("qm", "qmp", "r2", "tau2", "qe", "qep", "i2", "h2"):
                df[name] = float(getattr(self, name)[j])
            df["qm_df"] = self.qm_df
            df["qm_df2"] = self.qm_df2
            df["k"] = self.k
            df["method"] = self.method
            df["test"] = self.test
            df["error"] = self.error[j]
            notes = [*self.design_warnings, *([self.warning[j]] if self.warning[j] else [])]
            df["warning"] = "\n".join(notes) if notes else None
            if d is None and self.beta.shape[1] > 1:
                df.insert(0, "dataset", j)
            frames.append(df)
        return pd.concat(frames, ignore_index=True)


def _as_2d(y, v):
    y = np.asarray(y, dtype=float)
    v = np.asarray(v, dtype=float)
    if y.ndim == 1:
        y, v = y[:, None], v[:, None]
    return y, np.broadcast_to(v, y.shape).astype(float)


def prepare_design(
    mods, k: int, intercept: bool = True, terms: list[str] | None = None
) -> tuple[np.ndarray, list[str], bool, list[str]]:
    """metafor's design handling: add the intercept, drop redundant predictors (warning),
    move an intercept column first, check p + 1 <= k and full rank.

    Returns X (K, p), term names, whether an intercept is included, and warnings.
    Raises ValueError with metafor's message where metafor stops.
    """
    if mods is None:
        M = np.zeros((k, 0))
    else:
        M = np.asarray(mods, dtype=float)
        M = M[:, None] if M.ndim == 1 else M
    if terms is None:
        terms = ["x"] if M.shape[1] == 1 else [f"x{j + 1}" for j in range(M.shape[1])]
    terms = list(terms)
    if M.shape[1] == 0 and not intercept:
        intercept = True
    if intercept:
        X = np.column_stack([np.ones(k), M])
        names = ["intrcpt", *terms]
    else:
        X, names = M, terms
    notes: list[str] = []
    red = redundant_columns(X)
    if red.any():
        notes.append(REDUNDANT_DROPPED)
        X = X[:, ~red]
        names = [n for n, r in zip(names, red, strict=True) if not r]
    is_int = np.array([_is_intercept(X[:, j]) for j in range(X.shape[1])])
    int_incl = bool(is_int.any())
    if int_incl:
        X = np.column_stack([np.ones(k), X[:, ~is_int]])
        names = ["intrcpt", *[n for n, i in zip(names, is_int, strict=True) if not i]]
    p = X.shape[1]
    if p + 1 > k:
        raise ValueError(TOO_MANY_PARAMETERS)
    if np.any(np.linalg.eigvalsh(X.T @ X) <= EVTOL):
        raise ValueError(NOT_FULL_RANK)
    return X, names, int_incl, notes


def rma_mods(
    y,
    v,
    mods=None,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    intercept: bool = True,
    terms: list[str] | None = None,
) -> RMAModsResults:
    """``rma.uni(yi, vi, mods = mods, method, test)`` for each column of y/v (K >= 2).

    ``mods`` (K,) or (K, m) holds the moderators without the intercept, which is
    added unless ``intercept=False``; ``terms`` names them (metafor: the column
    names). QM tests all coefficients but the intercept (metafor's default
    ``btt``; the intercept itself in an intercept-only model). R^2 is metafor's
    pseudo R^2, 100 max(0, (tau2_0 - tau2)/tau2_0) with tau2_0 of the
    intercept-only fit of the same method (NaN if that fit fails, 0 if
    tau2_0 = 0, NaN for an intercept-only model).
    """
    y, v = _as_2d(y, v)
    k, d = y.shape
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; expected one of {', '.join(TESTS)}")
    if k < 2:
        raise ValueError("rma_mods needs at least 2 studies per dataset")
    if np.any(v <= 0):
        raise ValueError("every sampling variance must be > 0")
    X, names, int_incl, notes = prepare_design(mods, k, intercept, terms)
    return fit_design(y, v, X, names, int_incl, method, test, level, notes)


def fit_design(
    y: np.ndarray,
    v: np.ndarray,
    X: np.ndarray,
    names: list[str],
    int_incl: bool,
    method: str,
    test: str,
    level: float,
    notes: list[str] | None = None,
    r2: bool = True,
) -> RMAModsResults:
    """Fit a checked design X ((K, p) or (D, K, p), intercept first if included)."""
    k, d = y.shape
    Xs = _stack_x(X, d)
    p = Xs.shape[-1]
    int_only = p == 1 and int_incl
    btt = np.arange(1, p) if (int_incl and not int_only) else np.arange(p)
    m = btt.size

    t2fit = estimate_tau2_mods(method, y, v, X)
    failed = np.isnan(t2fit.tau2)
    tau2 = np.where(failed, 0.0, t2fit.tau2)

    w = 1.0 / (v + tau2)
    fit = wls(Xs, y, w)
    beta = fit.beta  # (D, p)
    rinv = np.linalg.inv(fit.r)
    vb = np.einsum("dpr,dqr->dpq", rinv, rinv)
    if test == "knha":
        s2w = np.where(fit.rss <= DOUBLE_EPS, 0.0, fit.rss / (k - p))
        ddf = k - p
        crit = stats.t.isf((1 - level) / 2, ddf)
    else:
        s2w = np.ones(d)
        crit = stats.norm.isf((1 - level) / 2)
    vb = vb * s2w[:, None, None]
    se = np.sqrt(np.diagonal(vb, axis1=1, axis2=2))
    with np.errstate(divide="ignore", invalid="ignore"):
        zval = beta / se
    if test == "knha":
        pval = 2 * stats.t.sf(np.abs(zval), ddf)
    else:
        pval = 2 * stats.norm.sf(np.abs(zval))

    # QM = b' V^-1 b over btt; metafor's chol() fails (NA) when V is singular (s2w = 0).
    bb = beta[:, btt]
    vbb = vb[:, btt][:, :, btt]
    qm = np.full(d, np.nan)
    ok = s2w > 0
    if ok.any():
        qm[ok] = np.einsum("dp,dp->d", bb[ok], np.linalg.solve(vbb[ok], bb[ok][:, :, None])[..., 0])
    if test == "knha":
        qm = qm / m
        qm_df2 = float(k - p)
        qmp = stats.f.sf(qm, m, k - p)
    else:
        qm_df2 = np.nan
        qmp = stats.chi2.sf(qm, m)

    # Residual heterogeneity (W = 1/v, centred y as metafor) and the typical variance.
    w0 = 1.0 / v
    fe = wls(Xs, _centered(y), w0)
    qe = np.maximum(0.0, fe.rss)
    qep = stats.chi2.sf(qe, k - p)
    vt = (k - p) / trace_p(w0, fe)
    i2 = 100 * t2fit.tau2 / (vt + t2fit.tau2)
    h2 = t2fit.tau2 / vt + 1

    r2v = np.full(d, np.nan)
    if r2 and int_incl and not int_only:
        from .pymare_ext import estimate_tau2

        t0, err0 = estimate_tau2(method, y, v)
        ok0 = np.array([e is None for e in err0])
        with np.errstate(divide="ignore", invalid="ignore"):
            r2v = np.where(t0 == 0, 0.0, np.maximum(0.0, 100 * (t0 - t2fit.tau2) / t0))
        r2v = np.where(ok0, r2v, np.nan)

    res = RMAModsResults(
        method=method,
        test=test,
        level=level,
        k=k,
        p=p,
        terms=list(names),
        btt=btt,
        int_only=int_only,
        beta=beta.T.copy(),
        se=se.T.copy(),
        zval=zval.T.copy(),
        pval=pval.T.copy(),
        ci_lb=(beta - crit * se).T.copy(),
        ci_ub=(beta + crit * se).T.copy(),
        vb=vb,
        tau2=t2fit.tau2,
        qe=qe,
        qep=qep,
        qm=qm,
        qm_df=int(m),
        qm_df2=qm_df2,
        qmp=qmp,
        i2=i2,
        h2=h2,
        r2=r2v,
        vt=vt,
        s2w=s2w,
        error=t2fit.error,
        warning=t2fit.warning,
        design_warnings=list(notes or []),
    )
    if failed.any():
        for name in ("beta", "se", "zval", "pval", "ci_lb", "ci_ub"):
            getattr(res, name)[:, failed] = np.nan
        for name in ("qm", "qmp", "i2", "h2", "r2", "s2w"):
            arr = getattr(res, name).astype(float)
            arr[failed] = np.nan
            setattr(res, name, arr)
        res.vb[failed] = np.nan
    return res


# ---------------------------------------------------------------------------------------
# Meta-regression on one study-level column
# ---------------------------------------------------------------------------------------


def _is_categorical(x) -> bool:
    if isinstance(x, pd.Series):
        return not pd.api.types.is_numeric_dtype(x) or isinstance(x.dtype, pd.CategoricalDtype)
    if isinstance(x, pd.Categorical):
        return True
    arr = np.asarray(x)
    return arr.dtype.kind in "OUSb"


def factor_levels(x) -> list:
    """Levels in R's order: a pandas Categorical's own order, else sorted (R's ``factor``)."""
    if isinstance(x, pd.Series) and isinstance(x.dtype, pd.CategoricalDtype):
        return [c for c in x.cat.categories if c in set(x)]
    if isinstance(x, pd.Categorical):
        return [c for c in x.categories if c in set(x)]
    return sorted(set(np.asarray(x, dtype=object).tolist()))


def dummy_mods(x, name: str = "x") -> tuple[np.ndarray, list[str], list]:
    """Treatment-coded dummies (first level the reference), named ``{name}{level}`` as R."""
    levels = factor_levels(x)
    xs = np.asarray(x, dtype=object)
    M = (
        np.column_stack([(xs == lv).astype(float) for lv in levels[1:]])
        if len(levels) > 1
        else (np.zeros((len(xs), 0)))
    )
    return M, [f"{name}{lv}" for lv in levels[1:]], levels


def metareg(
    y,
    v,
    x,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    name: str = "x",
) -> pd.DataFrame:
    """Meta-regression on one study-level column: metafor's ``rma(yi, vi, mods = ~ x)``.

    A numeric ``x`` is a continuous moderator (term ``name``); strings, booleans
    or a pandas Categorical are a factor with treatment coding against the first
    level (terms ``{name}{level}``, as R names them). Returns one row per
    coefficient with ``term, estimate, se, zval, pval, ci_lb, ci_ub`` and the
    model's ``qm, qm_df, qm_df2, qmp, r2, tau2, qe, qep, i2, h2`` (``zval``/
    ``qm`` are t/F under knha). Raises ValueError where metafor stops (too few
    studies for the parameters, a design not of full rank); a tau^2 method that
    fails gives NaN rows with its reason in ``error``.
    """
    if _is_categorical(x):
        mods, terms, _ = dummy_mods(x, name)
    else:
        mods, terms = np.asarray(x, dtype=float), [name]
    res = rma_mods(y, v, mods, method, test, level, terms=terms)
    return res.to_frame()
