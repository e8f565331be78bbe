"""Seeded two-arm trials with a known hazard ratio, summarized as papers report them.

Vectorized over replicates: every array has a leading axis of length ``reps``.
Survival is exponential (control median ``control_median``, treatment hazard
``hr`` times the control's), censoring uniform on ``censor`` (methods.md section 1,
"Tests of the formulas"). The summaries are the ones a paper prints: the Cox HR
and its CI, the log-rank O-E, V and p, Kaplan-Meier medians and their CIs,
events, and S(t) at chosen times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass
class Trials:
    time: np.ndarray  # (reps, n) months
    event: np.ndarray  # (reps, n) bool
    treat: np.ndarray  # (n,) bool, the first n_t columns
    log_hr: float  # the true log HR of treatment vs control

    def arm(self, treatment: bool) -> tuple[np.ndarray, np.ndarray]:
        cols = self.treat if treatment else ~self.treat
        return self.time[:, cols], self.event[:, cols]


def simulate_trials(
    seed: int,
    reps: int,
    n_t: int = 100,
    n_c: int = 100,
    hr: float = 0.7,
    control_median: float = 24.0,
    censor: tuple[float, float] = (12.0, 120.0),
) -> Trials:
    rng = np.random.default_rng(seed)
    n = n_t + n_c
    treat = np.arange(n) < n_t
    rate = np.where(treat, hr, 1.0) * np.log(2) / control_median
    death = rng.exponential(1.0, (reps, n)) / rate
    cens = rng.uniform(censor[0], censor[1], (reps, n))
    return Trials(np.minimum(death, cens), death <= cens, treat, float(np.log(hr)))


def _sorted(time: np.ndarray, event: np.ndarray):
    order = np.argsort(time, axis=1, kind="stable")
    return np.take_along_axis(time, order, 1), np.take_along_axis(event, order, 1)


def km_curve(time: np.ndarray, event: np.ndarray):
    """Kaplan-Meier S and Greenwood sum just after each sorted time (continuous: no ties)."""
    ts, es = _sorted(time, event)
    n = ts.shape[1]
    at_risk = n - np.arange(n)
    with np.errstate(divide="ignore"):
        s = np.cumprod(np.where(es, 1 - 1 / at_risk, 1.0), axis=1)
        gw = np.cumsum(np.where(es, 1 / (at_risk * np.maximum(at_risk - 1, 1)), 0.0), axis=1)
    return ts, s, gw


def km_at(time: np.ndarray, event: np.ndarray, grid) -> np.ndarray:
    """S(t) at each grid time, shape (reps, G)."""
    ts, s, _ = km_curve(time, event)
    s1 = np.concatenate([np.ones((s.shape[0], 1)), s], axis=1)
    idx = (ts[:, :, None] <= np.asarray(grid, float)[None, None, :]).sum(1)
    return np.take_along_axis(s1, idx, 1)


def n_at_risk(time: np.ndarray, grid) -> np.ndarray:
    """Numbers at risk (time >= t) at each grid time, shape (reps, G)."""
    return (time[:, :, None] >= np.asarray(grid, float)[None, None, :]).sum(1)


def _first_time_at_or_below(ts: np.ndarray, s: np.ndarray, level: float) -> np.ndarray:
    hit = s <= level
    first = np.argmax(hit, axis=1)
    out = np.take_along_axis(ts, first[:, None], 1)[:, 0]
    return np.where(hit.any(1), out, np.nan)


def km_median(time: np.ndarray, event: np.ndarray, level: float = 0.95):
    """KM median and its CI as R's survfit prints them (log-transformed Greenwood CI).

    Returns (median, ci_low, ci_high): the lower bound is the first time at which the
    lower pointwise limit of S(t) falls to 0.5 or below, the upper bound the first time
    the upper limit does; NaN where never reached.
    """
    ts, s, gw = km_curve(time, event)
    z = stats.norm.isf((1 - level) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = z * np.sqrt(gw)
        lower = np.where(s > 0, s * np.exp(-half), 0.0)
        upper = np.minimum(1.0, np.where(s > 0, s * np.exp(half), 0.0))
    return (
        _first_time_at_or_below(ts, s, 0.5),
        _first_time_at_or_below(ts, lower, 0.5),
        _first_time_at_or_below(ts, upper, 0.5),
    )


def logrank(trials: Trials):
    """Log-rank O-E (treatment), its variance V and two-sided p, per replicate."""
    ts, es = _sorted(trials.time, trials.event)
    order = np.argsort(trials.time, axis=1, kind="stable")
    tr = trials.treat[order]
    n = ts.shape[1]
    r_all = n - np.arange(n)
    r_t = tr[:, ::-1].cumsum(1)[:, ::-1]
    frac = r_t / r_all
    ome = np.where(es, tr - frac, 0.0).sum(1)
    var = np.where(es, frac * (1 - frac), 0.0).sum(1)
    p = 2 * stats.norm.sf(np.abs(ome) / np.sqrt(var))
    return ome, var, p


def cox(trials: Trials, iterations: int = 25):
    """Cox log HR of treatment and its variance (one binary covariate, no ties), per replicate.

    Newton-Raphson on the partial likelihood, all replicates at once; equal to
    statsmodels PHReg (checked in test_simulation.py).
    """
    ts, es = _sorted(trials.time, trials.event)
    order = np.argsort(trials.time, axis=1, kind="stable")
    tr = trials.treat[order]
    n = ts.shape[1]
    r_t = tr[:, ::-1].cumsum(1)[:, ::-1]
    r_c = (n - np.arange(n)) - r_t
    beta = np.zeros(ts.shape[0])
    for _ in range(iterations):
        eb = np.exp(beta)[:, None]
        frac = r_t * eb / (r_t * eb + r_c)
        score = np.where(es, tr - frac, 0.0).sum(1)
        info = np.where(es, frac * (1 - frac), 0.0).sum(1)
        beta = beta + score / info
    eb = np.exp(beta)[:, None]
    frac = r_t * eb / (r_t * eb + r_c)
    info = np.where(es, frac * (1 - frac), 0.0).sum(1)
    return beta, 1.0 / info


def performance(yi: np.ndarray, vi: np.ndarray, truth: float, level: float = 0.95) -> dict:
    """Bias, SE ratio (mean SE / empirical SD) and coverage of the level CI."""
    ok = np.isfinite(yi) & np.isfinite(vi)
    yi, se = yi[ok], np.sqrt(vi[ok])
    z = stats.norm.isf((1 - level) / 2)
    return {
        "n": int(ok.sum()),
        "bias": float(yi.mean() - truth),
        "se_ratio": float(se.mean() / yi.std(ddof=1)),
        "coverage": float((np.abs(yi - truth) <= z * se).mean()),
    }


def simulate_arms(
    seed: int,
    reps: int,
    sizes: tuple[int, ...],
    hrs: tuple[float, ...],
    control_median: float = 24.0,
    censor: tuple[float, float] = (12.0, 120.0),
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(time, event) of each arm of a multi-arm trial; arm k has hazard hrs[k] times the
    control's (exponential, control median ``control_median``, censoring uniform)."""
    rng = np.random.default_rng(seed)
    out = []
    for n, hr in zip(sizes, hrs, strict=True):
        death = rng.exponential(1.0, (reps, n)) * control_median / (hr * np.log(2))
        cens = rng.uniform(censor[0], censor[1], (reps, n))
        out.append((np.minimum(death, cens), death <= cens))
    return out


def pair(treated: tuple, control: tuple, log_hr: float) -> Trials:
    """Two arms of a multi-arm trial as one two-arm trial (the treated columns first)."""
    n_t = treated[0].shape[1]
    time = np.concatenate([treated[0], control[0]], axis=1)
    event = np.concatenate([treated[1], control[1]], axis=1)
    return Trials(time, event, np.arange(time.shape[1]) < n_t, log_hr)
