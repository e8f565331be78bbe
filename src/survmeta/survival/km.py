"""The Kaplan-Meier table of one group, as R's ``survfit`` holds it.

One row per distinct time (events and censorings alike, as ``survfit``'s ``time``):
the number at risk (time >= t), events and censorings at t, and S(t) just after t. RMST
(:mod:`.rmst`), the KM time transform of the PH test (:mod:`.zph`) and the overlay figure
read it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["KaplanMeier", "kaplan_meier"]


class KaplanMeier(NamedTuple):
    time: np.ndarray  # distinct times, ascending
    n_risk: np.ndarray  # at risk just before each time (time >= t)
    n_event: np.ndarray  # events at each time
    n_censor: np.ndarray  # censorings at each time
    surv: np.ndarray  # S(t) just after each time

    def at(self, t, left: bool = False) -> np.ndarray:
        """S at each of ``t`` (right-continuous), or S(t-) just before ``t`` when ``left``."""
        idx = np.searchsorted(self.time, np.asarray(t, float), side="left" if left else "right")
        return np.r_[1.0, self.surv][idx]


def kaplan_meier(time, event) -> KaplanMeier:
    """Kaplan-Meier estimate from (time, event) with event True for a death."""
    time = np.asarray(time, float).ravel()
    event = np.asarray(event, bool).ravel()
    if time.shape != event.shape:
        raise ValueError("times and event indicators differ in length")
    if time.size == 0:
        raise ValueError("no patients")
    if not np.isfinite(time).all():
        raise ValueError("times must be finite")
    ut, inv = np.unique(time, return_inverse=True)
    n_event = np.bincount(inv, weights=event, minlength=ut.size).astype(np.int64)
    n_all = np.bincount(inv, minlength=ut.size)
    n_risk = n_all[::-1].cumsum()[::-1]
    surv = np.cumprod(1.0 - n_event / n_risk)
    return KaplanMeier(ut, n_risk, n_event, n_all - n_event, surv)
