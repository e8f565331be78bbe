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


def separation(time, event, arm) -> str | None:
    """Why the Cox estimate is infinite, or None when it is finite.

    With one binary covariate the score U(beta) = sum_j (x_j - pi_j(beta)) decreases in
    beta, and beta-hat is +infinite exactly when U(+inf) = 0, i.e. every control death
    occurs when no treated patient is at risk (and -infinite when every treated death
    occurs with no control at risk); an arm with no events is the simplest case. This is
    the monotone likelihood of Heinze & Schemper (2001), checked exactly before fitting:
    no one of the other arm is at risk (time >= t) at any of one arm's death times t.
    """
    t, c = arm == 1, arm == 0
    et, ec = event & t, event & c
    if not et.any() and not ec.any():
        return "no events in either arm: the Cox log HR is undefined"
    if not et.any() or not ec.any():
        return "an arm has no events: the Cox log HR is infinite"
    for first, last, who, other, sign in (
        (time[ec].min(), time[t].max(), "control", "treated", "+"),
        (time[et].min(), time[c].max(), "treated", "control", "-"),
    ):
        if first > last:
            return (
                f"complete separation: every {who} death occurs after the last {other} patient "
                f"left follow-up ({last:g}), so the Cox log HR is {sign}infinite"
            )
    return None


def cox_loghr(time_t, event_t, time_c, event_c) -> CoxFit:
    """Cox log HR of treatment vs control and its variance (Breslow ties, statsmodels PHReg).

    Raises ValueError, saying why, when the estimate is infinite (an arm with no events,
    complete separation: :func:`separation`), when Newton's method did not converge
    (statsmodels' ``mle_retvals``), or when the observed information at the estimate is
    not positive and finite (issue 19, item 3): a fit that did not converge is never used.
    """
    import warnings

    from statsmodels.base.model import LikelihoodModel
    from statsmodels.duration.hazard_regression import PHReg  # heavy: only when needed

    time, event, arm = two_arms(time_t, event_t, time_c, event_c)
    why = separation(time, event, arm)
    if why:
        raise ValueError(why)
    model = PHReg(time, arm[:, None], status=event.astype(float), ties="breslow")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-convergence is read from mle_retvals below
        # PHReg.fit drops mle_retvals; the likelihood fit it wraps keeps them.
        fit = LikelihoodModel.fit(model, method="newton", disp=False)
    coef = float(fit.params[0])
    info = -float(model.hessian(fit.params)[0, 0])
    if not fit.mle_retvals.get("converged", False):
        raise ValueError(f"the Cox fit did not converge (log HR {coef:.3g} after "
                         f"{fit.mle_retvals.get('iterations')} Newton steps)")  # fmt: skip
    if not (np.isfinite(coef) and np.isfinite(info) and info > 0):
        raise ValueError(f"the Cox fit's information at log HR {coef:.3g} is {info:.3g}, not > 0")
    return CoxFit(coef, 1.0 / info)
