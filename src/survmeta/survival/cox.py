"""The Cox log hazard ratio of treatment versus control, Breslow ties (R's ``coxph``).

statsmodels' PHReg fits it (methods.md section 1); it equals R's
``coxph(Surv(time, status) ~ arm, ties = "breslow")`` coef and ``var`` (the inverse observed
information) on tests/fixtures/cox_breslow.json. statsmodels is imported only when a fit is
needed (it is heavy, and most reviews have no digitized curve).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["CoxFit", "cox_loghr", "two_arms"]


class CoxFit(NamedTuple):
    coef: float  # log HR of treatment vs control
    var: float  # its variance (inverse observed information at coef)


def two_arms(time_t, event_t, time_c, event_c) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stacked (time, event, arm) with arm 1 for treatment, 0 for control."""
    tt, tc = np.asarray(time_t, float), np.asarray(time_c, float)
    et, ec = np.asarray(event_t, bool), np.asarray(event_c, bool)
    if tt.shape != et.shape or tc.shape != ec.shape:
        raise ValueError("times and event indicators differ in length")
    arm = np.concatenate([np.ones(tt.size), np.zeros(tc.size)])
    return np.concatenate([tt, tc]), np.concatenate([et, ec]), arm


def cox_loghr(time_t, event_t, time_c, event_c) -> CoxFit:
    """Cox log HR of treatment vs control and its variance (Breslow ties, statsmodels PHReg).

    Raises ValueError when an arm has no events (the estimate would be infinite).
    """
    from statsmodels.duration.hazard_regression import PHReg  # heavy: only when needed

    time, event, arm = two_arms(time_t, event_t, time_c, event_c)
    if not event[arm == 1].any() or not event[arm == 0].any():
        raise ValueError("an arm has no events: the Cox log HR is infinite")
    res = PHReg(time, arm[:, None], status=event.astype(float), ties="breslow").fit(method="newton")
    coef, var = float(res.params[0]), float(res.cov_params()[0, 0])
    if not (np.isfinite(coef) and np.isfinite(var) and var > 0):
        raise ValueError("the Cox fit did not converge")
    return CoxFit(coef, var)
