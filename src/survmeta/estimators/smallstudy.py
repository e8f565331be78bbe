"""Small-study tests as metafor 3.8 computes them: ``regtest`` (Egger), ``ranktest``
(Begg-Mazumdar) and ``trimfill`` (Duval-Tweedie), on the model's yi, vi, method and test.

Where metafor stops, these raise ValueError with metafor's message (trimfill; the
k-only conditions of regtest and ranktest) or, for a dataset of a stacked call,
return NaN with the message in ``error``. Checked against
tests/fixtures/moderators_metafor.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from . import dist
from .design import Moderators
from .moderators import EVTOL, LM_QR_TOL, prepare_design
from .rma import TOO_MANY_PARAMETERS, fit, rma


def _as_2d(y, v) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float)
    v = np.asarray(v, dtype=float)
    if y.ndim == 1:
        y, v = y[:, None], v[:, None]
    return y, np.broadcast_to(v, y.shape).astype(float)


REGTEST_NOT_FULL_RANK = (
    "Model matrix no longer of full rank after addition of predictor. Cannot fit model."
)
NOT_ENOUGH_OBS = "not enough finite observations"
TIES_WARNING = "Cannot compute exact p-value with ties"
SD_ZERO_WARNING = "the standard deviation is zero"
#: R's exact Kendall distribution (``C_pKendall``) divides by n!, which overflows past 170.
KENDALL_EXACT_MAX_N = 170


# ---------------------------------------------------------------------------------------
# regtest
# ---------------------------------------------------------------------------------------


def regtest(y, v, method: str = "REML", test: str = "z", level: float = 0.95) -> pd.DataFrame:
    """Egger's regression test, metafor's default ``regtest(res)``: model "rma", predictor "sei".

    Fits ``rma(yi, vi, mods = sei)`` with the model's method and test and tests the
    sei coefficient; ``est`` with ``ci_lb, ci_ub`` is the intercept, the limit
    estimate as sei -> 0. One row per dataset (columns of y/v): ``zval`` (t under
    knha), ``pval``, ``dfs`` (k - 2 under knha, else NaN), ``est, ci_lb, ci_ub``,
    plus ``slope, tau2, error``. Raises ValueError for k < 3 (metafor: k = 2 has
    more parameters than studies; k = 1 a redundant predictor); a dataset whose sei
    are all equal (metafor: not of full rank) or whose tau^2 method fails gets NaN.
    """
    y, v = _as_2d(y, v)
    k, d = y.shape
    if k == 1:
        raise ValueError(REGTEST_NOT_FULL_RANK)
    if k == 2:
        raise ValueError(TOO_MANY_PARAMETERS)
    sei = np.sqrt(v)
    X = np.stack([np.ones_like(sei.T), sei.T], axis=2)  # (D, K, 2)
    # lm()'s QR: sei is redundant when nothing is left of it once the intercept is out.
    resid = sei - sei.mean(0)
    redundant = np.linalg.norm(resid, axis=0) < LM_QR_TOL * np.linalg.norm(sei, axis=0)
    rank_def = np.linalg.eigvalsh(np.einsum("dkp,dkq->dpq", X, X)).min(1) <= EVTOL
    error = np.full(d, None, dtype=object)
    error[rank_def] = "Model matrix not of full rank. Cannot fit model."
    error[redundant] = REGTEST_NOT_FULL_RANK
    out = pd.DataFrame(
        {name: np.full(d, np.nan) for name in
         ("zval", "pval", "dfs", "est", "ci_lb", "ci_ub", "slope", "tau2")}
    )  # fmt: skip
    ok = ~(redundant | rank_def)
    if ok.any():
        design = Moderators(X[ok], ["intrcpt", "sei"])
        res = fit(y[:, ok], v[:, ok], method, design, r2=False).results(test, level)
        out.loc[ok, "zval"] = res.zval[1]
        out.loc[ok, "pval"] = res.pval[1]
        out.loc[ok, "dfs"] = res.dfs
        out.loc[ok, "est"] = res.beta[0]
        out.loc[ok, "ci_lb"] = res.ci_lb[0]
        out.loc[ok, "ci_ub"] = res.ci_ub[0]
        out.loc[ok, "slope"] = res.beta[1]
        out.loc[ok, "tau2"] = res.tau2
        error[ok] = res.error
    out["error"] = error
    out["method"] = method
    out["test"] = test
    return out


# ---------------------------------------------------------------------------------------
# ranktest
# ---------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def kendall_cdf(n: int) -> np.ndarray:
    """P(T <= q), q = 0..n(n-1)/2, for the number T of concordant pairs of n untied pairs.

    The Mahonian distribution by its recursion p_n(q) = (1/n) sum_{i<n} p_{n-1}(q - i),
    in probabilities (R's ``C_pKendall`` counts in doubles and divides by n!).
    """
    p = np.array([1.0])
    for m in range(2, n + 1):
        c = np.concatenate([[0.0], np.cumsum(p)])
        size = p.size + m - 1
        idx = np.arange(size)
        hi = np.minimum(idx, p.size - 1) + 1
        lo = np.clip(idx - m + 1, 0, None)
        p = (c[hi] - c[lo]) / m
    return np.minimum(np.cumsum(p), 1.0)


def _kendall_exact_p(tau: float, n: int) -> float:
    """cor.test(method = "kendall", exact = TRUE)'s two-sided p without ties."""
    if n > KENDALL_EXACT_MAX_N:
        return np.nan
    q = float(np.round((tau + 1) * n * (n - 1) / 4))
    cdf = kendall_cdf(n)

    def pk(qq):
        qq = np.floor(qq + 1e-7)
        if qq < 0:
            return 0.0
        if qq > n * (n - 1) / 2:
            return 1.0
        return float(cdf[int(qq)])

    p = 1 - pk(q - 1) if q > n * (n - 1) / 4 else pk(q)
    return min(2 * p, 1.0)


def _tie_counts(x: np.ndarray) -> np.ndarray:
    """Sizes of the groups of equal values (R's ``table(x[duplicated(x)]) + 1``)."""
    _, counts = np.unique(x, return_counts=True)
    return counts[counts > 1].astype(float)


def _kendall_normal_p(tau: float, x: np.ndarray, y: np.ndarray) -> float:
    """cor.test's normal approximation with the tie-corrected variance of S."""
    n = x.size
    xt, yt = _tie_counts(x), _tie_counts(y)
    t0 = n * (n - 1) / 2
    t1 = (xt * (xt - 1)).sum() / 2
    t2 = (yt * (yt - 1)).sum() / 2
    s = tau * np.sqrt((t0 - t1) * (t0 - t2))
    v0 = n * (n - 1) * (2 * n + 5)
    vt = (xt * (xt - 1) * (2 * xt + 5)).sum()
    vu = (yt * (yt - 1) * (2 * yt + 5)).sum()
    v1 = (xt * (xt - 1)).sum() * (yt * (yt - 1)).sum()
    v2 = (xt * (xt - 1) * (xt - 2)).sum() * (yt * (yt - 1) * (yt - 2)).sum()
    var_s = (v0 - vt - vu) / 18 + v1 / (2 * n * (n - 1))
    if n > 2:
        var_s += v2 / (9 * n * (n - 1) * (n - 2))
    z = s / np.sqrt(var_s)
    return float(2 * min(dist.norm_cdf(z), dist.norm_sf(z)))


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """R's ``cor(x, y, method = "kendall")`` (tau-b) per column of (K, D) arrays; NaN when
    x or y has no untied pair (R: "the standard deviation is zero")."""
    sx = np.sign(x[:, None, :] - x[None, :, :])
    sy = np.sign(y[:, None, :] - y[None, :, :])
    num = (sx * sy).sum((0, 1))
    den = np.sqrt((sx**2).sum((0, 1))) * np.sqrt((sy**2).sum((0, 1)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def ranktest(y, v) -> pd.DataFrame:
    """Begg and Mazumdar's rank correlation test, metafor ``ranktest(res)``.

    Kendall's tau between the standardized deviates (y - theta_FE)/sqrt(v - 1/sum w)
    and v, by ``cor.test(..., method = "kendall", exact = TRUE)``: the exact p
    when there are no ties (NaN beyond 170 studies, where R's exact distribution
    overflows), else the normal approximation with the tie-corrected variance (and
    R's warning). One row per dataset: ``tau, pval, warning``. k < 2 raises
    ValueError (R: "not enough finite observations").
    """
    y, v = _as_2d(y, v)
    k, d = y.shape
    if k < 2:
        raise ValueError(NOT_ENOUGH_OBS)
    w = 1.0 / v
    theta = (w * y).sum(0) / w.sum(0)
    ystar = (y - theta) / np.sqrt(v - 1.0 / w.sum(0))
    tau = kendall_tau_b(ystar, v)
    pval = np.full(d, np.nan)
    warning = np.full(d, None, dtype=object)
    for j in range(d):
        if np.isnan(tau[j]):
            warning[j] = SD_ZERO_WARNING
            continue
        ties = min(np.unique(ystar[:, j]).size, np.unique(v[:, j]).size) < k
        if ties:
            warning[j] = TIES_WARNING
            pval[j] = _kendall_normal_p(tau[j], ystar[:, j], v[:, j])
        else:
            pval[j] = _kendall_exact_p(tau[j], k)
    return pd.DataFrame({"tau": tau, "pval": pval, "warning": warning})


# ---------------------------------------------------------------------------------------
# trimfill
# ---------------------------------------------------------------------------------------

#: R's error when a condition is NA: metafor's trimfill hits it when the side model's
#: slope is NA (sqrt(vi) redundant) or Q0's k0 is NaN (square root of a negative).
R_NA_CONDITION = "missing value where TRUE/FALSE needed"


@dataclass
class TrimfillResult:
    """metafor's ``trimfill`` result: k0 and side, and the fit with the filled studies."""

    k0: int
    side: str
    se_k0: float
    p_k0: float
    estimator: str
    method: str
    test: str
    level: float
    k: int
    estimate: float
    se: float
    zval: float
    pval: float
    ci_lb: float
    ci_ub: float
    tau2: float
    i2: float
    h2: float
    qe: float
    qep: float
    filled: pd.DataFrame = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        """One row: ``k0, side, estimate, se, ci_lb, ci_ub, tau2`` and the rest."""
        names = (
            "k0 side estimate se zval pval ci_lb ci_ub tau2 i2 h2 qe qep k se_k0 p_k0 "
            "estimator method test level"
        ).split()
        return pd.DataFrame([{name: getattr(self, name) for name in names}])


def _pooled_mean(y: np.ndarray, v: np.ndarray, method: str) -> float:
    """The intercept-only estimate of ``method`` (metafor's k = 1 fit is the study itself)."""
    if y.size == 0:
        raise ValueError("Processing terminated since k = 0.")
    if y.size == 1:
        return float(y[0])
    res = fit(y, v, method)
    if res.error[0] is not None:
        raise ValueError(res.error[0])
    return float(res.wls.beta[0, 0])


def trimfill_side(y: np.ndarray, v: np.ndarray, method: str) -> str:
    """metafor's side: "right" when the slope of ``rma(yi, vi, mods = sqrt(vi))`` is < 0."""
    design = prepare_design(np.sqrt(v), y.size)
    if design.p < 2:  # sqrt(vi) dropped as redundant: metafor's beta[2] is NA
        raise ValueError(R_NA_CONDITION)
    res = fit(y, v, method, design, r2=False)
    if res.error[0] is not None:
        raise ValueError(res.error[0])
    return "right" if res.wls.beta[1, 0] < 0 else "left"


def trimfill(
    y,
    v,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    side: str | None = None,
    estimator: str = "L0",
    maxiter: int = 100,
    refit_as_model: bool = False,
) -> TrimfillResult:
    """Duval and Tweedie's trim and fill, metafor ``trimfill(res)`` (estimator L0 default).

    The side, unless given, is metafor's: "right" when the slope of
    ``rma(yi, vi, mods = sqrt(vi), method)`` is negative, else "left". Studies are
    trimmed and the model (``method``) refitted until k0 no longer changes; the k0
    mirror images 2 beta - y of the most extreme studies are then added and the
    model refitted. metafor's ``trimfill(res)`` does not pass the model's test and
    level on to that refit (it uses test "z" at 95%); ``refit_as_model=True`` uses
    them (R: ``trimfill(res, test = , level = )``). With k0 = 0 the result is the
    model itself. Raises ValueError where metafor stops (k = 1; k = 2, whose side
    model has more parameters than studies; all vi equal, where the side cannot
    be estimated; a tau^2 method failing in a refit; no convergence in ``maxiter``).
    """
    y = np.asarray(y, dtype=float).ravel()
    v = np.asarray(v, dtype=float).ravel()
    k = y.size
    if estimator not in ("L0", "R0", "Q0"):
        raise ValueError(f"unknown estimator {estimator!r}")
    if k == 1:
        raise ValueError("Stopped because k = 1.")
    if side is None:
        side = trimfill_side(y, v, method)
    elif side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', not {side!r}")

    ys = -y if side == "right" else y.copy()
    order = np.argsort(ys, kind="stable")
    ys, vs = ys[order], v[order]
    k0_prev, k0, it = -1, 0, 0
    while k0 != k0_prev:
        k0_prev = k0
        it += 1
        if it > maxiter:
            raise ValueError("Trim and fill algorithm did not converge.")
        beta = _pooled_mean(ys[: k - k0], vs[: k - k0], method)
        yc = ys - beta
        ranks = np.empty(k)
        ranks[np.argsort(np.abs(yc), kind="stable")] = np.arange(1, k + 1)
        signed = np.sign(yc) * ranks
        if estimator == "R0":
            neg = signed[signed < 0]
            if neg.size == 0:
                raise ValueError("Trim and fill: no study below the estimate (R0 undefined).")
            k0f = (k - np.max(-neg)) - 1
            se_k0 = np.sqrt(2 * max(0.0, k0f) + 2)
        else:
            sr = signed[signed > 0].sum()
            if estimator == "L0":
                k0f = (4 * sr - k * (k + 1)) / (2 * k - 1)
            else:
                disc = 2 * k**2 - 4 * sr + 0.25
                if disc < 0:
                    raise ValueError(R_NA_CONDITION)
                k0f = k - 0.5 - np.sqrt(disc)
            var_sr = (k * (k + 1) * (2 * k + 1) + 10 * k0f**3 + 27 * k0f**2 + 17 * k0f
                      - 18 * k * k0f**2 - 18 * k * k0f + 6 * k**2 * k0f) / 24  # fmt: skip
            with np.errstate(invalid="ignore"):
                if estimator == "L0":
                    se_k0 = 4 * np.sqrt(var_sr) / (2 * k - 1)
                else:
                    se_k0 = 2 * np.sqrt(var_sr) / np.sqrt((k - 0.5) ** 2 - k0f * (2 * k - k0f - 1))
        k0 = int(max(0, np.round(k0f)))
        se_k0 = float(np.nan if np.isnan(se_k0) else max(0.0, se_k0))  # R: max(0, NaN) = NaN

    if k0 > 0:
        fill = 2 * beta - ys[k - k0 :]
        fill_y = -fill if side == "right" else fill
        fill_v = vs[k - k0 :]
        filled = pd.DataFrame({"yi": fill_y, "vi": fill_v})
        rt, rl = (test, level) if refit_as_model else ("z", 0.95)
        res = rma(np.concatenate([y, fill_y]), np.concatenate([v, fill_v]), method, rt, rl)
    else:
        filled = pd.DataFrame({"yi": np.zeros(0), "vi": np.zeros(0)})
        rt, rl = test, level
        res = rma(y, v, method, test, level)
    if res.error[0] is not None:
        raise ValueError(res.error[0])
    p_k0 = np.nan
    if estimator == "R0":
        m = np.arange(-1, k0)  # metafor: 1 - sum(choose(m + 1, m + 1) * 0.5^(m + 2))
        p_k0 = float(1 - np.sum(0.5 ** (m + 2)))
    return TrimfillResult(
        k0=k0, side=side, se_k0=se_k0, p_k0=p_k0, estimator=estimator, method=method,
        test=rt, level=rl, k=k + k0, estimate=float(res.estimate[0]), se=float(res.se[0, 0]),
        zval=float(res.zval[0, 0]), pval=float(res.pval[0, 0]), ci_lb=float(res.ci_lb[0, 0]),
        ci_ub=float(res.ci_ub[0, 0]), tau2=float(res.tau2[0]), i2=float(res.i2[0]),
        h2=float(res.h2[0]), qe=float(res.qe[0]), qep=float(res.qep[0]), filled=filled,
    )  # fmt: skip
