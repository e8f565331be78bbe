"""The Grambsch-Therneau test of proportional hazards for the treatment arm (R's ``cox.zph``).

Grambsch PM, Therneau TM. Proportional hazards tests and diagnostics based on weighted
residuals. Biometrika 1994;81:515-26. What is computed is what survival 3.x's ``cox.zph``
computes (R function ``cox.zph`` and its C routine ``zph1``, survival 3.5): the score test,
at the fitted Cox coefficient, of adding ``arm * g(t)`` to the model, with the full
information matrix. Survival before 3.0 used an approximation (the scaled Schoenfeld
residuals with the variance averaged over time), and so does lifelines 0.30's
``proportional_hazard_test(time_transform="km")``, which also fits the Cox model with Efron
ties only: on the 17 datasets of tests/fixtures/coxzph_survival.json its chisq differed from
R's by up to 3.97 (p by up to 0.25), the largest on an untied dataset, where Efron and
Breslow agree, so the difference is the statistic itself; and importing it costs 0.9 s.
So the test is written here (a few numpy lines); it equals R to 2e-13 at R's coefficient
and 1e-11 with statsmodels' fit (tests/survival/test_zph.py).

With one covariate x (the arm, 1 = treatment) and Breslow ties, at each distinct event time
t_j with d_j deaths and risk set R_j = {i: time_i >= t_j}, weights w_i = exp(beta x_i):

    xbar_j = sum w x / sum w,   V_j = sum w x^2 / sum w - xbar_j^2      (over R_j)
    U   = sum_j g_j (sum_{deaths at t_j} x_i - d_j xbar_j)
    I11 = sum_j d_j V_j,  I12 = sum_j d_j g_j V_j,  I22 = sum_j d_j g_j^2 V_j
    chisq = U^2 / (I22 - I12^2 / I11),  df = 1

``transform = "km"`` takes g(t) = 1 - S(t-), the Kaplan-Meier curve of all patients just
before t, centred by its mean over the deaths (each death counted once).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .km import kaplan_meier

__all__ = ["ZPHTest", "cox_zph"]


class ZPHTest(NamedTuple):
    chisq: float
    df: int
    p: float


def cox_zph(time, event, x, coef: float) -> ZPHTest:
    """``cox.zph(coxph(Surv(time, event) ~ x, ties = "breslow"), transform = "km")``.

    ``coef`` is the fitted Cox coefficient of ``x`` (:func:`survmeta.survival.cox.cox_loghr`).
    Raises ValueError when the test is undefined (no deaths, or x constant where they are).
    """
    time = np.asarray(time, float).ravel()
    event = np.asarray(event, bool).ravel()
    x = np.asarray(x, float).ravel()
    if not (time.shape == event.shape == x.shape):
        raise ValueError("times, events and covariate differ in length")
    if not event.any():
        raise ValueError("no deaths: the PH test is undefined")
    # g(t) = 1 - S(t-) with the KM of everyone, centred over the deaths.
    g_all = 1.0 - kaplan_meier(time, event).at(time, left=True)
    g_all = g_all - g_all[event].mean()
    x = x - x.mean()  # as zph1 does, for a stable variance
    w = np.exp(coef * x)
    # Risk-set sums at every distinct time (time >= t), then kept at the death times.
    ut, inv = np.unique(time, return_inverse=True)
    s0, s1, s2 = (
        np.bincount(inv, weights=v, minlength=ut.size)[::-1].cumsum()[::-1]
        for v in (w, w * x, w * x * x)
    )
    d = np.bincount(inv, weights=event, minlength=ut.size)
    xd = np.bincount(inv, weights=event * x, minlength=ut.size)
    g = np.zeros(ut.size)
    g[inv] = g_all  # g depends on time only
    dead = d > 0
    s0, s1, s2, d, xd, g = s0[dead], s1[dead], s2[dead], d[dead], xd[dead], g[dead]
    xbar = s1 / s0
    v = d * (s2 / s0 - xbar * xbar)
    u = float(np.sum(g * (xd - d * xbar)))
    i11, i12, i22 = float(v.sum()), float((g * v).sum()), float((g * g * v).sum())
    denom = i22 - i12 * i12 / i11 if i11 > 0 else 0.0
    if not denom > 0:
        raise ValueError("the PH test is undefined (the arm does not vary where deaths occur)")
    chisq = u * u / denom
    return ZPHTest(chisq, 1, math.erfc(math.sqrt(chisq / 2.0)))
