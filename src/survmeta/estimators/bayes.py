"""Bayesian random-effects meta-analysis (the normal-normal model of R's bayesmeta).

Model (Röver 2020, J Stat Softw 93(6); methods.md section 5)::

    y_i ~ N(theta_i, v_i),  theta_i ~ N(mu, tau^2),  mu flat on the real line,
    tau ~ half-normal(s) | half-Cauchy(s) | uniform(0, s).

With mu integrated out, the marginal posterior of tau is

    p(tau | y) ∝ p(tau) (prod w_i)^(1/2) (sum w_i)^(-1/2) exp(-1/2 sum w_i (y_i - mu_hat)^2),

w_i = 1/(v_i + tau^2), mu_hat(tau) = sum w_i y_i / sum w_i, and conditionally on tau every
quantity of interest is normal:

    mu | tau, y          ~ N(mu_hat, 1/sum w)
    theta_new | tau, y   ~ N(mu_hat, 1/sum w + tau^2)                    (prediction)
    theta_i | tau, y     ~ N(B_i mu_hat + (1 - B_i) y_i, (1 - B_i) v_i + B_i^2 / sum w),
                           B_i = v_i / (v_i + tau^2)                      (shrinkage)

Every reported number is therefore a one-dimensional integral over tau of a normal
density, CDF or moment. They are computed here by deterministic quadrature, not by
sampling, and for D datasets at once (all analyses, subgroups and priors of a review in
one pass):

1. tau is integrated on x = log(tau). On that axis every tail decays at least
   exponentially (p(tau) is finite at 0, so the density in x falls like e^x on the left;
   on the right the half-Cauchy posterior density tau^-(k+1) becomes e^(-kx), the
   others fall faster), so a finite x-range holds all but a negligible mass.
2. A coarse log-grid locates, per dataset, where the integrand (density times 1 + tau^m,
   m the highest finite moment needed) exceeds 1e-16 of its maximum. That range is
   covered by 16 Gauss-Legendre panels of 16 nodes, equally wide in u with
   x = c + w sinh(u) (c, w: centre and width of the mass), so that the peak gets fine
   panels and the long tails decay double-exponentially in u (:class:`_Axis`).
3. Moments are weighted sums over the nodes; quantiles of tau invert its CDF (partial
   panel integrals) and quantiles of mu, the predictive and the shrinkage estimates
   invert the normal-mixture CDF sum_j W_j Phi((q - m_j)/s_j) by bracketed Newton
   iterations, vectorized over every dataset, study and probability.

The result agrees with an independent adaptive-quadrature reference
(tests/fixtures/bayes_reference.py, 90 cases, k = 1..30) to about 1e-12; the required
accuracy is 1e-6.

Moments that do not exist are never reported as numbers. Under the half-Cauchy prior
p(tau | y) has a tau^-(k+1) tail (the likelihood decays like tau^-(k-1)), so E[tau] is
infinite at k = 1, the mean of mu (a scale mixture with scales ~ tau) is undefined at
k = 1 and its sd infinite at k <= 2. They are reported as nan (undefined) or inf.

bayesmeta itself approximates the mixtures over tau by a discrete grid (Röver & Friede
2017); its mu and predictive summaries agree with the exact integrals here only to
1e-4..1e-3, its tau summaries to about 7 digits. Intervals here are equal-tailed
(bayesmeta's ``interval.type = "central"``; its default is the shortest interval).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import special

from .design import Intercept
from .stack import Data
from .tau2 import log_likelihood

#: tau priors and what their scale means (density up to a constant, tau >= 0).
PRIORS = {
    "halfnormal": "half-normal with scale s: p(tau) ∝ exp(-tau^2 / (2 s^2))",
    "halfcauchy": "half-Cauchy with scale s: p(tau) ∝ 1 / (1 + (tau / s)^2)",
    "uniform": "uniform on [0, s]",
}

_GRID_POINTS = 400  # coarse log-grid that locates the mass
_PANELS = 16  # composite Gauss-Legendre panels (in u, see _Axis)
_NODES = 16  # nodes per panel
_TAIL = np.log(1e16)  # integrand below max * 1e-16 is left out
_NODES_X, _NODES_W = np.polynomial.legendre.leggauss(_NODES)


@dataclass(frozen=True)
class BayesResults:
    """Posterior summaries for D datasets (arrays of length D; shrinkage arrays (K, D)).

    ``k`` is the number of studies per dataset. Intervals are equal-tailed at ``level``.
    Moments that do not exist are ``nan`` (undefined) or ``inf`` (infinite).
    """

    prior: str
    scale: float
    level: float
    k: np.ndarray
    mu_mean: np.ndarray
    mu_sd: np.ndarray
    mu_median: np.ndarray
    mu_ci_low: np.ndarray
    mu_ci_high: np.ndarray
    tau_median: np.ndarray
    tau_ci_low: np.ndarray
    tau_ci_high: np.ndarray
    tau_mean: np.ndarray
    pred_low: np.ndarray
    pred_high: np.ndarray
    p_mu_below_0: np.ndarray
    shr_mean: np.ndarray
    shr_median: np.ndarray
    shr_ci_low: np.ndarray
    shr_ci_high: np.ndarray
    _data: tuple = field(repr=False, compare=False)
    _log_norm: np.ndarray = field(repr=False, compare=False)

    def tau_density(self, grid) -> np.ndarray:
        """Posterior density of tau at the points of ``grid``: shape (len(grid), D).

        Normalized over tau (not log tau), zero for tau < 0 and, under the uniform
        prior, for tau > s. Meant for the small density plot beside each result.
        """
        tau = np.asarray(grid, dtype=float).reshape(-1)
        y, v, present = self._data
        inside = tau >= 0
        if self.prior == "uniform":
            inside &= tau <= self.scale
        t = np.where(inside, tau, 0.0)[:, None] * np.ones(y.shape[1])
        logp = _log_post(t, y, v, present, self.prior, self.scale)
        return np.where(inside[:, None], np.exp(logp - self._log_norm), 0.0)


def bayes_re(
    y,
    v,
    present=None,
    prior: str = "halfnormal",
    scale: float = 0.5,
    level: float = 0.95,
) -> BayesResults:
    """Bayesian random-effects meta-analysis of D stacked datasets (bayesmeta's model).

    ``y`` and ``v`` are (K, D) arrays of estimates and sampling variances (a 1-d array
    is one dataset). ``present`` is an optional (K, D) 0/1 mask for ragged stacking:
    rows with 0 are padding, ignored entirely (their shrinkage results are nan).
    Every dataset needs k >= 1 present study. ``prior`` is one of :data:`PRIORS` with
    scale ``scale`` (> 0) on tau; mu has a flat prior. Raises ValueError on bad input.
    """
    y, v, present = _check(y, v, present, prior, scale, level)
    k = present.sum(0).astype(int)
    alpha = (1.0 - level) / 2.0
    probs = np.array([0.5, alpha, 1.0 - alpha])

    axis, x, g, log_norm, weight = _quadrature(y, v, present, prior, scale, k)
    tau = np.exp(x)  # (N, D)
    mu_hat, var_mu = _conditional_mu(tau, y, v, present)
    sd_mu = np.sqrt(var_mu)

    mu_mean = (weight * mu_hat).sum(0)
    mu_var = (weight * (var_mu + (mu_hat - mu_mean) ** 2)).sum(0)
    tau_mean = (weight * tau).sum(0)
    p_below = (weight * special.ndtr(-mu_hat / sd_mu)).sum(0)

    mu_q = _mixture_quantiles(weight, mu_hat, sd_mu, probs)
    pred_q = _mixture_quantiles(weight, mu_hat, np.sqrt(var_mu + tau**2), probs[1:])
    tau_q = _tau_quantiles(axis, x, g, y, v, present, prior, scale, log_norm, probs)

    # shrinkage, for the present studies only: (N, M) over the M present (i, d) pairs
    i, j = np.nonzero(present)
    b = v[i, j] / (v[i, j] + tau[:, j] ** 2)
    shr_m = b * mu_hat[:, j] + (1.0 - b) * y[i, j]
    shr_s = np.sqrt((1.0 - b) * v[i, j] + b**2 * var_mu[:, j])
    shr_mean = np.full(y.shape, np.nan)
    shr_q = np.full((3,) + y.shape, np.nan)
    shr_mean[i, j] = (weight[:, j] * shr_m).sum(0)
    shr_q[:, i, j] = _mixture_quantiles(weight[:, j], shr_m, shr_s, probs)

    if prior == "halfcauchy":  # tau^-(k+1) posterior tail (module docstring)
        mu_mean = np.where(k == 1, np.nan, mu_mean)
        mu_var = np.where(k <= 2, np.inf, mu_var)
        tau_mean = np.where(k == 1, np.inf, tau_mean)

    return BayesResults(
        prior=prior,
        scale=float(scale),
        level=float(level),
        k=k,
        mu_mean=mu_mean,
        mu_sd=np.sqrt(mu_var),
        mu_median=mu_q[0],
        mu_ci_low=mu_q[1],
        mu_ci_high=mu_q[2],
        tau_median=tau_q[0],
        tau_ci_low=tau_q[1],
        tau_ci_high=tau_q[2],
        tau_mean=tau_mean,
        pred_low=pred_q[0],
        pred_high=pred_q[1],
        p_mu_below_0=p_below,
        shr_mean=shr_mean,
        shr_median=shr_q[0],
        shr_ci_low=shr_q[1],
        shr_ci_high=shr_q[2],
        _data=(y, v, present),
        _log_norm=log_norm,
    )


def _check(y, v, present, prior, scale, level):
    """Validated float arrays (K, D); ValueError naming what was expected otherwise."""
    if prior not in PRIORS:
        raise ValueError(f"unknown tau prior {prior!r}; allowed values: {', '.join(PRIORS)}")
    try:
        ok = bool(np.isfinite(float(scale)) and float(scale) > 0)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            f"tau prior scale must be a finite number > 0, got {scale!r}; "
            "allowed values: any positive number (e.g. 0.5 or 1.0 on the log-HR scale)"
        )
    if not (0.0 < float(level) < 1.0):
        raise ValueError(f"level must lie strictly between 0 and 1, got {level!r}")
    y = np.asarray(y, dtype=float)
    v = np.asarray(v, dtype=float)
    if y.ndim == 1:
        y, v = y[:, None], v[:, None]
        present = None if present is None else np.asarray(present)[:, None]
    if y.ndim != 2 or y.shape != v.shape:
        raise ValueError(f"y and v must have the same shape (K, D), got {y.shape}, {v.shape}")
    if present is None:
        present = np.ones(y.shape)
    present = np.asarray(present, dtype=float)
    if present.shape != y.shape or not np.isin(present, (0.0, 1.0)).all():
        raise ValueError("present must be a 0/1 array of the same shape as y")
    on = present == 1
    if (present.sum(0) < 1).any():
        col = int(np.flatnonzero(present.sum(0) < 1)[0])
        raise ValueError(f"dataset {col} has no study (k = 0); at least one is needed")
    if not np.isfinite(y[on]).all():
        raise ValueError("every present y must be a finite number")
    if not (np.isfinite(v[on]).all() and (v[on] > 0).all()):
        raise ValueError("every present v must be a finite number > 0")
    # padding rows get harmless values; their weight is zeroed by `present`
    return np.where(on, y, 0.0), np.where(on, v, 1.0), present


def _log_prior(tau, prior, scale):
    if prior == "halfnormal":
        return -0.5 * (tau / scale) ** 2
    if prior == "halfcauchy":
        return -np.log1p((tau / scale) ** 2)
    return np.where(tau <= scale * (1 + 1e-12), 0.0, -np.inf)


def _at_tau(tau, y, v, present) -> Data:
    """The D datasets repeated at each of the N values of tau (N, D): one (K, N*D) stack."""
    n, d = tau.shape
    k = y.shape[0]

    def rep(a):
        return np.broadcast_to(a[:, None, :], (k, n, d)).reshape(k, n * d)

    m = rep(present)
    return Data(rep(y), rep(v), m, m.sum(0))


def _conditional_mu(tau, y, v, present):
    """mu_hat(tau) and 1/sum w at tau of shape (N, D): the engine's weighted mean."""
    data = _at_tau(tau, y, v, present)
    fit = Intercept().wls(data.y, data.masked(1.0 / (data.v + (tau**2).ravel())))
    return fit.beta[0].reshape(tau.shape), (1.0 / fit.sw).reshape(tau.shape)


def _log_post(tau, y, v, present, prior, scale):
    """Unnormalized log p(tau | y) at tau of shape (N, D) (module docstring).

    With mu flat and integrated out, p(y | tau) is the restricted likelihood of the
    random-effects model: the engine's REML log-likelihood at tau^2 (tau2.py), up to a
    constant per dataset.
    """
    data = _at_tau(tau, y, v, present)
    ll = log_likelihood("REML", data, Intercept(), (tau**2).ravel())
    return _log_prior(tau, prior, scale) + ll.reshape(tau.shape)


def _moment_order(prior, k):
    """Highest power of tau whose posterior mean is finite and needed (mu's variance)."""
    if prior != "halfcauchy":
        return np.full(k.shape, 2)
    return np.minimum(k - 1, 2)


class _Axis:
    """Composite Gauss-Legendre panels in u, mapped to x = log tau by x = c + w sinh(u).

    The sinh map puts fine panels where the mass of x is (centre c, width w) and
    stretches the tails, where the integrand decays exponentially in x and so
    double-exponentially in u: few nodes then reach 1e-12 even for the heavy
    half-Cauchy tail.
    """

    def __init__(self, c, w, a, b):
        self.c, self.w = c, w
        self.ua = np.arcsinh((a - c) / w)
        self.h = (np.arcsinh((b - c) / w) - self.ua) / _PANELS  # panel width in u

    def columns(self, j):
        """The axis of the datasets (columns) j."""
        sub = object.__new__(_Axis)
        sub.c, sub.w, sub.ua, sub.h = self.c[j], self.w[j], self.ua[j], self.h[j]
        return sub

    def x(self, u):
        return self.c + self.w * np.sinh(u)

    def dx(self, u):
        return self.w * np.cosh(u)

    def nodes(self, left, right):
        """GL nodes u on [left, right] per column, and weights in the measure dx."""
        u = left[None] + 0.5 * (right - left)[None] * (_NODES_X[:, None] + 1.0)
        return u, 0.5 * (right - left)[None] * _NODES_W[:, None] * self.dx(u)

    def all_nodes(self):
        """All panels' nodes u, x and weights g (dx measure): (P * n, D) each."""
        lefts = self.ua + self.h * np.arange(_PANELS)[:, None]  # (P, D)
        u = lefts[:, None, :] + 0.5 * self.h * (_NODES_X[None, :, None] + 1.0)
        u = u.reshape(-1, lefts.shape[1])
        g = np.tile(0.5 * self.h * _NODES_W[:, None], (_PANELS, 1)) * self.dx(u)
        return u, self.x(u), g


def _quadrature(y, v, present, prior, scale, k):
    """The quadrature over x = log tau for each dataset.

    Returns the axis, the nodes x, the raw weights g (measure dx), the log normalizer
    of p(tau | y) and the normalized node weights W (sum 1 per column), all (N, D).
    """
    d = y.shape[1]
    on = present == 1
    vmin = np.where(on, v, np.inf).min(0)
    vmax = np.where(on, v, 0.0).max(0)
    spread = np.where(on, y, -np.inf).max(0) - np.where(on, y, np.inf).min(0)
    lo = np.log(1e-14 * np.minimum(np.sqrt(vmin), scale))
    if prior == "uniform":
        hi = np.full(d, np.log(scale))
    else:
        hi = np.log(1e17 * np.maximum.reduce([np.sqrt(vmax), np.full(d, scale), spread]))
    xg = lo + np.linspace(0.0, 1.0, _GRID_POINTS)[:, None] * (hi - lo)
    tg = np.exp(xg)
    lf = _log_post(tg, y, v, present, prior, scale) + xg  # density in x
    lh = lf + np.log1p(tg ** _moment_order(prior, k))  # ... times 1 + tau^m
    keep = lh >= lh.max(0) - _TAIL
    idx = np.arange(_GRID_POINTS)[:, None]
    first = np.where(keep, idx, _GRID_POINTS).min(0)
    last = np.where(keep, idx, -1).max(0)
    cols = np.arange(d)
    a = xg[np.maximum(first - 1, 0), cols]
    b = xg[np.minimum(last + 1, _GRID_POINTS - 1), cols]

    # centre and width of the mass in x: from the coarse grid, then once more from
    # the quadrature nodes (the coarse grid can be wider than a sharp peak)
    p = np.exp(lf - lf.max(0))
    for _ in range(2):
        c = (p * xg).sum(0) / p.sum(0)
        w = np.sqrt((p * (xg - c) ** 2).sum(0) / p.sum(0))
        axis = _Axis(c, np.maximum(w, 1e-3), a, b)
        _, xg, g = axis.all_nodes()
        logp = _log_post(np.exp(xg), y, v, present, prior, scale) + xg
        top = logp.max(0)
        p = g * np.exp(logp - top)
    total = p.sum(0)
    return axis, xg, g, top + np.log(total), p / total


def _tau_quantiles(axis, x, g, y, v, present, prior, scale, log_norm, probs):
    """Quantiles of tau: invert the CDF in u (x = c + w sinh u) by bracketed Newton.

    The CDF at a point is the mass of the whole panels before it plus a Gauss-Legendre
    integral over the part of its own panel, so it is as accurate as the normalizer.
    """
    d = x.shape[1]
    logp = _log_post(np.exp(x), y, v, present, prior, scale) + x - log_norm
    panel_mass = (g * np.exp(logp)).reshape(_PANELS, _NODES, d).sum(1)
    cum = np.vstack([np.zeros((1, d)), np.cumsum(panel_mass, 0)])  # (P + 1, D)
    cols = np.arange(d)

    def cdf_pdf(z, j, left, base, p):
        sub = axis.columns(j)
        u, uw = sub.nodes(left[j], z)
        data = (y[:, j], v[:, j], present[:, j], prior, scale)
        xu = sub.x(u)
        f = base[j] + (uw * np.exp(_log_post(np.exp(xu), *data) + xu - log_norm[j])).sum(0)
        xz = sub.x(z)[None]
        fz = np.exp(_log_post(np.exp(xz), *data)[0] + xz[0] - log_norm[j]) * sub.dx(z)
        return f - p, fz

    out = np.empty((len(probs), d))
    for i, p in enumerate(probs):
        panel = np.clip((cum[1:] < p).sum(0), 0, _PANELS - 1)  # the panel holding it
        left = axis.ua + axis.h * panel
        base = cum[panel, cols]
        z = _newton_bracketed(
            lambda z, j, left=left, base=base, p=p: cdf_pdf(z, j, left, base, p),
            left + 0.5 * axis.h,
            left,
            left + axis.h,
        )
        out[i] = np.exp(axis.x(z))
    return out


def _mixture_quantiles(weight, mean, sd, probs, eps=1e-9):
    """Quantiles of the normal mixture sum_j W_j N(mean_j, sd_j^2) over nodes j (axis 0).

    ``weight`` broadcasts against ``mean``/``sd`` (N, ...). Each quantile is bracketed by
    component quantiles over the nodes that hold all but ``eps`` of the tau mass, which
    is a valid bracket: F(m) <= max_core Phi_j(m) + eps and F(m) >= (1 - eps) min_core
    Phi_j(m). It is then found by Newton steps from a moment-matched normal start,
    falling back to bisection whenever a step leaves the bracket; only unconverged
    entries are iterated. Returns (len(probs), ...).
    """
    shape = mean.shape[1:]
    n = mean.shape[0]
    weight = np.broadcast_to(weight, mean.shape).reshape(n, -1)
    mean = mean.reshape(n, -1)
    sd = sd.reshape(n, -1)
    core = np.cumsum(weight, axis=0) - weight < 1.0 - eps  # nodes below the upper tail
    wc = np.where(core, weight, 0.0)
    wc = wc / wc.sum(0)
    m1 = (wc * mean).sum(0)
    s1 = np.sqrt((wc * (sd**2 + (mean - m1) ** 2)).sum(0))
    out = np.empty((len(probs), mean.shape[1]))
    for i, p in enumerate(probs):
        q_lo = mean + sd * special.ndtri(max(p - eps, 1e-300))
        q_hi = mean + sd * special.ndtri(min(p / (1.0 - eps), 1.0 - 1e-16))
        lo = np.where(core, q_lo, np.inf).min(0)
        hi = np.where(core, q_hi, -np.inf).max(0)
        out[i] = _newton_bracketed(
            lambda z, j, p=p: _mixture_cdf_pdf(z, weight[:, j], mean[:, j], sd[:, j], p),
            np.clip(m1 + s1 * special.ndtri(p), lo, hi),
            lo,
            hi,
        )
    return out.reshape((len(probs),) + shape)


def _mixture_cdf_pdf(z, weight, mean, sd, p):
    u = (z[None] - mean) / sd
    f = (weight * special.ndtr(u)).sum(0) - p
    fz = (weight * np.exp(-0.5 * u * u) / sd).sum(0) / np.sqrt(2.0 * np.pi)
    return f, fz


def _newton_bracketed(fun, z, lo, hi, xtol=4e-16, ftol=1e-15, maxiter=200):
    """Vectorized root of an increasing function in [lo, hi], safeguarded Newton.

    ``fun(z, j)`` returns (f, f') at the points z for the columns j (an index array), so
    that converged columns drop out of the work. A Newton step that leaves the bracket
    is replaced by bisection; convergence is judged on the Newton step itself, or on
    ``|f| <= ftol``: f is a probability minus its target, a sum of a few hundred terms,
    whose rounding is about 1e-16 to 1e-15, so beyond that Newton's steps are noise and
    only bisection would shrink the bracket further (some 40 more evaluations).
    """
    z, lo, hi = z.astype(float), lo.astype(float), hi.astype(float)
    active = np.arange(z.size)
    for _ in range(maxiter):
        zj, loj, hij = z[active], lo[active], hi[active]
        f, fz = fun(zj, active)
        loj = np.where(f < 0, zj, loj)
        hij = np.where(f > 0, zj, hij)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = zj - f / fz
        newton = np.isfinite(step) & (step >= loj) & (step <= hij)
        new = np.where(newton, step, 0.5 * (loj + hij))
        tol = xtol * np.maximum(1.0, np.abs(zj))
        done = (np.abs(f) <= ftol) | (newton & (np.abs(step - zj) <= tol)) | (hij - loj <= tol)
        z[active] = np.where(np.abs(f) <= ftol, zj, new)
        lo[active], hi[active] = loj, hij
        active = active[~done]
        if active.size == 0:
            break
    return z
