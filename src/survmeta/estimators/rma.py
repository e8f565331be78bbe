"""The random-effects model, metafor's ``rma.uni``: one engine for every fit of the package.

:func:`fit` estimates tau^2 (tau2.py) and the weighted least-squares coefficients for
D stacked datasets of any sizes (stack.py) and any design (design.py: the pooled
estimate, or moderators); :meth:`ModelFit.results` adds a test (z, t, knha, adhoc)
at a level; :meth:`RMAResults.predict` and :meth:`RMAResults.confint` compute the
prediction interval and the Q-profile CI of tau^2 when asked. The overall pool,
subgroups, meta-regression, leave-one-out, cumulative and influence analyses,
trim-and-fill, permutation tests, GOSH and the small-study tests all fit through
here. k = 0 and k = 1 are handled here and nowhere else.

Names are metafor's (lower case, ``.`` -> ``_``): beta, se, zval (the t statistic
under t, knha and adhoc), pval, ci_lb, ci_ub, dfs, tau2, qe, qep, i2, h2, qm, qmp,
pi_lb, pi_ub. Formulas: methods.md sections 2 and 5, metafor 3.8.1's ``rma.uni``,
``predict.rma`` and ``confint.rma.uni``; checked against the fixtures in tests/fixtures/.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import dist
from .design import Intercept, Moderators, WLSFit
from .stack import Data, as_data
from .tau2 import (
    METHODS,
    TAU2_ESTIMATORS,
    Tau2Fit,
    generalized_q,
    log_likelihood,
    solve_decreasing,
)

TESTS = ("z", "t", "knha", "adhoc")
#: R's .Machine$double.eps: metafor's threshold for a zero Knapp-Hartung residual.
DOUBLE_EPS = 2.220446049250313e-16
K0 = "Processing terminated since k = 0."
TOO_MANY_PARAMETERS = (
    "Number of parameters to be estimated is larger than the number of observations."
)


def check_method(method: str, test: str | None = None) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    if test is not None and test not in TESTS:
        raise ValueError(f"unknown test {test!r}; expected one of {', '.join(TESTS)}")


@dataclass
class ModelFit:
    """tau^2 and the coefficients of D datasets; every test is computed from it on request."""

    method: str
    data: Data
    design: object
    tau2: np.ndarray
    error: np.ndarray
    warning: np.ndarray
    wls: WLSFit
    vb0: np.ndarray  # (X'WX)^-1, (D, p, p)
    qe: np.ndarray
    qep: np.ndarray
    vt: np.ndarray
    i2: np.ndarray
    h2: np.ndarray
    r2: np.ndarray

    @property
    def k(self) -> np.ndarray:
        return self.data.k

    @property
    def p(self) -> int:
        return self.design.p

    @property
    def failed(self) -> np.ndarray:
        return np.array([e is not None for e in self.error], dtype=bool)

    def results(self, test: str = "z", level: float = 0.95) -> RMAResults:
        """The model's tests at ``level`` (metafor's ``rma.uni(..., test, level)`` output)."""
        check_method(self.method, test)
        k, p = self.k, self.p
        single = k <= 1  # metafor: "Setting argument test="z" since k=1."
        df_t = np.where(single | (test == "z"), np.nan, k - p)
        s2w = np.ones(self.data.d)
        if test in ("knha", "adhoc"):
            rss = self.wls.rss
            with np.errstate(divide="ignore", invalid="ignore"):
                s2w = np.where(rss <= DOUBLE_EPS, 0.0, rss / (k - p))
            if test == "adhoc":
                s2w = np.maximum(s2w, 1.0)
            s2w = np.where(single, 1.0, s2w)
        vb = self.vb0 * s2w[:, None, None]
        beta = self.wls.beta
        se, zval, pval, crit = wald(beta, vb, df_t, level)
        btt = _btt(self.design)
        bb = beta[btt].T
        vbb = vb[:, btt][:, :, btt]
        qm = np.full(self.data.d, np.nan)
        ok = (s2w > 0) & np.isfinite(bb).all(1)
        if ok.any():
            sol = np.linalg.solve(vbb[ok], bb[ok][:, :, None])[..., 0]
            qm[ok] = np.einsum("dp,dp->d", bb[ok], sol)
        m = btt.size
        if test == "z":
            qm_df2 = np.full(self.data.d, np.nan)
            qmp = dist.chi2_sf(qm, m)
        else:
            qm = qm / m
            qm_df2 = (k - p).astype(float)
            qmp = dist.f_sf(qm, m, qm_df2)

        res = RMAResults(
            method=self.method, test=test, level=level, k=k.astype(int), p=p,
            terms=list(self.design.terms), btt=btt, beta=beta.copy(), se=se, zval=zval,
            pval=pval, ci_lb=beta - crit * se, ci_ub=beta + crit * se, dfs=df_t, vb=vb,
            s2w=s2w, tau2=self.tau2, qe=self.qe, qep=self.qep, qe_df=(k - p).astype(float),
            i2=self.i2, h2=self.h2, vt=self.vt, qm=qm, qm_df=m, qm_df2=qm_df2, qmp=qmp,
            r2=self.r2, error=self.error, warning=self.warning, fit=self, crit=crit,
        )  # fmt: skip
        failed = self.failed
        if failed.any():
            for name in ("beta", "se", "zval", "pval", "ci_lb", "ci_ub"):
                getattr(res, name)[:, failed] = np.nan
            res.vb[failed] = np.nan
            for name in ("qm", "qmp", "s2w"):
                getattr(res, name)[failed] = np.nan
        return res


def wald(beta, vb, dfs, level: float):
    """se, test statistic, two-sided p and critical value of each coefficient (p, D).

    A t distribution with ``dfs`` degrees of freedom where ``dfs`` is a number, the
    normal where it is NaN: the one place every model's tests are computed.
    """
    se = np.sqrt(np.diagonal(vb, axis1=1, axis2=2)).T
    with np.errstate(divide="ignore", invalid="ignore"):
        zval = beta / se
    alpha = 1.0 - level
    use_t = ~np.isnan(dfs)
    pval = np.where(use_t, 2 * dist.t_sf(np.abs(zval), dfs), 2 * dist.norm_sf(np.abs(zval)))
    crit = np.where(use_t, dist.t_isf(alpha / 2, dfs), dist.norm_isf(alpha / 2))
    return se, zval, pval, crit


def _btt(design) -> np.ndarray:
    """metafor's default coefficients to test: all but the intercept (the intercept alone
    in an intercept-only model)."""
    p = design.p
    return np.arange(1, p) if (design.intercept and p > 1) else np.arange(p)


@dataclass
class Prediction:
    """``predict(res)`` of an intercept-only model: pred, se, ci and the prediction interval."""

    pred: np.ndarray
    se: np.ndarray
    ci_lb: np.ndarray
    ci_ub: np.ndarray
    pi_lb: np.ndarray
    pi_ub: np.ndarray


@dataclass
class Tau2CI:
    """``confint(res)``: the Q-profile CI of tau^2 and the I^2, H^2 bounds it implies."""

    tau2_ci_lb: np.ndarray
    tau2_ci_ub: np.ndarray
    i2_ci_lb: np.ndarray
    i2_ci_ub: np.ndarray
    h2_ci_lb: np.ndarray
    h2_ci_ub: np.ndarray


@dataclass
class RMAResults:
    """One model per dataset, named as in metafor. Coefficients are (p, D), the rest (D,)."""

    method: str
    test: str
    level: float
    k: np.ndarray
    p: int
    terms: list[str]
    btt: np.ndarray
    beta: np.ndarray
    se: np.ndarray
    zval: np.ndarray
    pval: np.ndarray
    ci_lb: np.ndarray
    ci_ub: np.ndarray
    dfs: np.ndarray
    vb: np.ndarray
    s2w: np.ndarray
    tau2: np.ndarray
    qe: np.ndarray
    qep: np.ndarray
    qe_df: np.ndarray
    i2: np.ndarray
    h2: np.ndarray
    vt: np.ndarray
    qm: np.ndarray
    qm_df: int
    qm_df2: np.ndarray
    qmp: np.ndarray
    r2: np.ndarray
    error: np.ndarray
    warning: np.ndarray
    fit: ModelFit = field(repr=False)
    crit: np.ndarray = field(repr=False)
    notes: tuple = ()  # metafor's warnings about the design (e.g. redundant predictors dropped)

    def __post_init__(self):
        self.notes = tuple(self.fit.design.notes)

    @property
    def estimate(self) -> np.ndarray:
        """The intercept (the pooled estimate of an intercept-only model), per dataset."""
        return self.beta[0]

    def predict(self) -> Prediction:
        """metafor's ``predict(res)`` for the intercept-only model: the test's critical value
        and se, sqrt(se^2 + tau^2) for the prediction interval (tau^2 = 0 when k = 1)."""
        se = self.se[0]
        pred = self.beta[0]
        pi_se = np.sqrt(se**2 + np.where(self.k <= 1, 0.0, self.tau2))
        return Prediction(
            pred, se, self.ci_lb[0], self.ci_ub[0], pred - self.crit * pi_se,
            pred + self.crit * pi_se,
        )  # fmt: skip

    def confint(self, level: float | None = None) -> Tau2CI:
        """metafor's ``confint(res)``: the Q-profile CI of tau^2 (methods.md section 2)."""
        return qprofile_ci(self.fit, self.level if level is None else level)

    def confint_pl(self, level: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """metafor's ``confint(res, type = "PL")``: the profile-likelihood CI of tau^2."""
        return profile_ci(self.fit, self.level if level is None else level)

    def column(self, name: str, term: int = 0) -> np.ndarray:
        """A (D,) array: a coefficient's value (``term``) or a per-model value."""
        arr = getattr(self, name)
        return arr[term] if arr.ndim == 2 and name != "vb" else arr


def fit(
    y,
    v,
    method: str = "REML",
    design=None,
    present=None,
    tau2: Tau2Fit | None = None,
    r2: bool = True,
) -> ModelFit:
    """Estimate tau^2 with ``method`` and the coefficients, for each column of y/v.

    ``design``: :class:`~.design.Intercept` (default) or :class:`~.design.Moderators`;
    ``present``: the (K, D) mask of ragged stacks; ``tau2``: a precomputed
    :class:`~.tau2.Tau2Fit` for the datasets with k > p (to reuse one estimate). A
    dataset with k = 0 fails ("k = 0"); with k = 1 the intercept-only model is the
    study itself (tau^2 = 0, no estimation, metafor's ``k1``); a design with as many
    coefficients as studies fails with metafor's message. Every sampling variance must
    be > 0 (callers check and say where).
    """
    check_method(method)
    data = as_data(y, v, present)
    design = Intercept() if design is None else design
    d, k, p = data.d, data.k, design.p
    tau = np.zeros(d)
    error = np.full(d, None, dtype=object)
    warning = np.full(d, None, dtype=object)
    error[k <= 0] = K0
    error[(k > 0) & (k <= p) & ~((k == 1) & (p == 1))] = TOO_MANY_PARAMETERS
    est = np.flatnonzero(k > p)
    if est.size:
        if tau2 is None:
            tau2 = TAU2_ESTIMATORS[method](data.take(est), design.take(est))
        tau[est], error[est], warning[est] = tau2.tau2, tau2.error, tau2.warning
    failed = np.array([e is not None for e in error], dtype=bool)
    tau = np.where(failed, np.nan, tau)
    w = data.masked(1.0 / (data.v + np.where(failed, 0.0, tau)))
    with np.errstate(divide="ignore", invalid="ignore"):  # k = 0 columns: NaN, reported above
        wls = design.wls(data.y, w)
        vb0 = design.vb(wls)

    # Residual heterogeneity with W = 1/v (metafor: QE, QEp, vt, I^2, H^2); k <= p: 0, 1, 0, 1
    qe, qep = np.zeros(d), np.ones(d)
    vt, i2, h2 = np.zeros(d), np.zeros(d), np.ones(d)
    if est.size:
        sub, dsub = data.take(est), design.take(est)
        fe = dsub.wls(dsub.center(sub), sub.masked(1.0 / sub.v))
        df = sub.k - p
        qe[est] = np.maximum(0.0, fe.rss)
        qep[est] = dist.chi2_sf(qe[est], df)
        vt[est] = df / dsub.trace_p(fe)
        t = tau[est]
        i2[est] = 100 * t / (vt[est] + t)
        h2[est] = t / vt[est] + 1
    i2 = np.where(failed, np.nan, i2)
    h2 = np.where(failed, np.nan, h2)
    qe = np.where(k <= 0, np.nan, qe)
    qep = np.where(k <= 0, np.nan, qep)

    r2v = np.full(d, np.nan)
    if r2 and design.intercept and design.p > 1 and est.size:
        sub = data.take(est)
        t0 = TAU2_ESTIMATORS[method](sub, Intercept())
        ok0 = np.array([e is None for e in t0.error])
        with np.errstate(divide="ignore", invalid="ignore"):
            val = np.where(t0.tau2 == 0, 0.0, np.maximum(0.0, 100 * (t0.tau2 - tau[est]) / t0.tau2))
        r2v[est] = np.where(ok0, val, np.nan)
    return ModelFit(method, data, design, tau, error, warning, wls, vb0, qe, qep, vt, i2, h2, r2v)


def rma(
    y,
    v,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    design=None,
    present=None,
) -> RMAResults:
    """``rma.uni(yi, vi, method, test, level)`` (with ``design``: ``mods``) for each column."""
    check_method(method, test)
    return fit(y, v, method, design, present).results(test, level)


def qprofile_ci(model: ModelFit, level: float) -> Tau2CI:
    """Q-profile CI for tau^2 (metafor ``confint``, type "QP"), all datasets at once.

    Searched on [0, max(100, 10 tau2_hat)] as metafor does; a bound beyond the search
    range is reported as the range's end, as metafor reports it. Datasets with k <= p
    or a failed tau^2 get NaN.
    """
    data, design = model.data, model.design
    d = data.d
    lb = np.full(d, np.nan)
    ub = np.full(d, np.nan)
    cols = np.flatnonzero((model.k > model.p) & ~model.failed)
    if cols.size:
        sub, dsub = data.take(cols), design.take(cols)
        df = sub.k - dsub.p
        alpha = 1.0 - level
        crit_u = dist.chi2_isf(alpha / 2, df)  # Q at the lower bound
        crit_l = dist.chi2_ppf(alpha / 2, df)  # Q at the upper bound
        tmax = np.maximum(100.0, 10.0 * model.tau2[cols])
        q_min = generalized_q(0.0, sub, dsub)
        q_max = generalized_q(tmax, sub, dsub)
        lo, hi = np.full(cols.size, np.nan), np.full(cols.size, np.nan)

        def root(mask, crit):
            idx = np.flatnonzero(mask)
            s, ds = sub.take(idx), dsub.take(idx)
            return solve_decreasing(
                lambda t: generalized_q(t, s, ds), crit[idx], np.zeros(idx.size), tmax[idx]
            )

        both_zero = q_min < crit_l
        lo[both_zero] = hi[both_zero] = 0.0
        ub_cap = ~both_zero & (q_max > crit_l)
        hi[ub_cap] = tmax[ub_cap]
        ub_root = ~both_zero & ~ub_cap
        if ub_root.any():
            hi[ub_root] = root(ub_root, crit_l)
        both_cap = q_max > crit_u
        lo[both_cap] = hi[both_cap] = tmax[both_cap]
        lb_zero = ~both_cap & ~both_zero & (q_min < crit_u)
        lo[lb_zero] = 0.0
        lb_root = ~both_cap & ~both_zero & ~lb_zero
        if lb_root.any():
            lo[lb_root] = root(lb_root, crit_u)
        lb[cols], ub[cols] = lo, hi
    vt = model.vt
    with np.errstate(divide="ignore", invalid="ignore"):
        return Tau2CI(lb, ub, 100 * lb / (vt + lb), 100 * ub / (vt + ub), 1 + lb / vt, 1 + ub / vt)


def profile_ci(model: ModelFit, level: float) -> tuple[np.ndarray, np.ndarray]:
    """The profile-likelihood CI of tau^2 (metafor ``confint(type = "PL")``), ML and REML.

    The bounds solve -2 (ll(tau^2) - ll(tau2_hat)) = qchisq(level, 1) with ll the model's
    (restricted) log-likelihood, on [0, tau2_hat] and [tau2_hat, tau2max], tau2max =
    max(100, 10 tau2_hat): a lower bound is 0 where the profile at 0 is inside, an upper
    bound tau2max where the profile never crosses (metafor marks it ">"). NaN for
    other methods, failed fits and k <= p.
    """
    d = model.data.d
    lb, ub = np.full(d, np.nan), np.full(d, np.nan)
    if model.method not in ("ML", "REML"):
        return lb, ub
    cols = np.flatnonzero((model.k > model.p) & ~model.failed)
    if not cols.size:
        return lb, ub
    sub, dsub = model.data.take(cols), model.design.take(cols)
    that = model.tau2[cols]
    target = dist.chi2_isf(1.0 - level, 1)
    ll_hat = log_likelihood(model.method, sub, dsub, that)

    def dev(t, idx):
        s, ds = sub.take(idx), dsub.take(idx)
        return -2.0 * (log_likelihood(model.method, s, ds, t) - ll_hat[idx])

    tmax = np.maximum(100.0, 10.0 * that)
    all_idx = np.arange(cols.size)
    lo, hi = np.zeros(cols.size), tmax.copy()
    low_root = np.flatnonzero(dev(np.zeros(cols.size), all_idx) >= target)
    if low_root.size:  # the deviance falls from >= target at 0 to 0 at tau2_hat
        lo[low_root] = solve_decreasing(
            lambda t: dev(t, low_root), target, np.zeros(low_root.size), that[low_root]
        )
    up_root = np.flatnonzero(dev(tmax, all_idx) >= target)
    if up_root.size:  # and rises from 0 at tau2_hat to >= target at tau2max
        hi[up_root] = solve_decreasing(
            lambda t: -dev(t, up_root), -target, that[up_root], tmax[up_root]
        )
    lb[cols], ub[cols] = lo, hi
    return lb, ub


__all__ = [
    "METHODS", "TESTS", "ModelFit", "RMAResults", "Prediction", "Tau2CI", "fit", "rma",
    "qprofile_ci", "Intercept", "Moderators",
]  # fmt: skip
