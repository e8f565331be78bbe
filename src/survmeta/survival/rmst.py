"""Restricted mean survival time up to a horizon tau, and its standard error (R's ``survfit``).

Royston P, Parmar MKB. BMC Med Res Methodol 2013;13:152; Wei Y et al. Stat Med
2015;34:2881-98. The numbers are those of R's ``print(survfit(Surv(time, event) ~ 1),
rmean = tau)`` (survival 3.5, function ``survmean``): the area under the Kaplan-Meier curve
from 0 to tau, drawn as rectangles between the distinct times t_k <= tau,

    rmean = sum_k (t_k - t_{k-1}) S(t_{k-1}),   t_0 = 0, S(t_0) = 1, the last one ending at tau

and its variance, the Greenwood-type sum over the times t_k <= tau

    var = sum_k A_k^2 d_k / (n_k (n_k - d_k)),   A_k = area under the curve from t_k to tau

(a term with n_k = d_k counts 0). A horizon beyond a curve's last time extends the curve
flat at its last value (as ``survmean`` does, without a warning): the area beyond is an
extrapolation, which :class:`RMST` records in ``extended``. (R's ``summary``/``print`` stop
on a tau before every time of the fit; the formula then gives rmean = tau, se 0.)

lifelines 0.30's ``restricted_mean_survival_time(kmf, t, return_variance=True)`` gives the
same rmean (within 8e-14 on tests/fixtures/rmst_survival.json) but as its variance the
variance of min(T, tau) in the population, not of the estimate (its square root differed
from R's se(rmean) by up to 47.6 months); with 0.9 s of import for a 10-line area, the
computation is written here. It equals R to 2e-14 (rmean) and 3e-15 (se) on 88 horizons
(tests/survival/test_rmst.py).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .km import kaplan_meier

__all__ = ["RMST", "RMSTDifference", "rmst", "rmst_difference"]


class RMST(NamedTuple):
    rmean: float  # months of survival up to the horizon
    se: float  # R's se(rmean)
    horizon: float
    last_time: float  # the curve's last time (event or censoring)
    extended: bool  # horizon beyond last_time: the curve was carried flat to it


class RMSTDifference(NamedTuple):
    diff: float  # rmean(treatment) - rmean(control): > 0 favours the treatment
    var: float  # se_T^2 + se_C^2 (independent arms)
    treatment: RMST
    control: RMST


def rmst(time, event, horizon: float) -> RMST:
    """RMST and its standard error up to ``horizon`` (R's ``survfit`` ``rmean``)."""
    if not (np.isfinite(horizon) and horizon > 0):
        raise ValueError(f"RMST horizon must be a positive number, not {horizon!r}")
    km = kaplan_meier(time, event)
    if km.time[0] < 0:
        raise ValueError("RMST: negative times")
    keep = km.time <= horizon
    t = np.r_[km.time[keep], horizon]
    s = np.r_[km.surv[keep], km.surv[keep][-1] if keep.any() else 1.0]
    n, d = km.n_risk[keep], km.n_event[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        hh = np.where(n - d == 0, 0.0, d / (n * (n - d)))
    rect = np.diff(np.r_[0.0, t]) * np.r_[1.0, s[:-1]]
    after = rect[::-1].cumsum()[::-1][1:]  # area from each kept time to the horizon
    var = float(np.sum(after * after * hh))
    last = float(km.time[-1])
    return RMST(float(rect.sum()), var**0.5, float(horizon), last, horizon > last)


def rmst_difference(time_t, event_t, time_c, event_c, horizon: float) -> RMSTDifference:
    """RMST of treatment minus control up to ``horizon``, with its variance."""
    a, b = rmst(time_t, event_t, horizon), rmst(time_c, event_c, horizon)
    return RMSTDifference(a.rmean - b.rmean, a.se**2 + b.se**2, a, b)
