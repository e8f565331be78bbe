"""How much information an arm holds: its events (reported or estimated) and the bound they set.

The variance of a log hazard ratio cannot be below 1/E_T + 1/E_C: for a Cox model
with one binary covariate the observed information at the estimate is
sum_j pi_j (1 - pi_j) over the deaths j, which by the concavity of x (1 - x) is at
most D pi (1 - pi) with D pi = E_T (the score equation), i.e. E_T E_C / D; for
exponential survival 1/E_T + 1/E_C is the variance of the log rate ratio itself
(Michiels 2005). Since E <= n, 1/n_T + 1/n_C is a weaker bound that needs no
events. methods.md §1, "No derivation claims more than the data hold".
"""

from __future__ import annotations

import math
from typing import NamedTuple

from .base import fmt


def events_from_followup(n: float, median: float, followup: float) -> float:
    """Expected deaths under exponential survival, follow-up uniform on [0, 2F].

    E = n [1 - (1 - exp(-2 lambda F)) / (2 lambda F)], lambda = ln 2 / M (methods.md §1,
    "Medians").
    """
    x = 2.0 * math.log(2.0) / median * followup
    return n * (1.0 - (1.0 - math.exp(-x)) / x)


class ArmEvents(NamedTuple):
    """Events of an arm's share in one comparison, and how they were obtained."""

    value: float
    estimated: bool
    reported: str  # the numbers used, as reported
    assumption: str  # empty when nothing was assumed


def arm_events(arm, split: bool = True) -> ArmEvents | None:
    """The arm's events, divided among the comparisons that share it when ``split``.

    Reported events when the arm has them; else estimated from its median survival and
    median follow-up (exponential survival, follow-up uniform on [0, 2F]); else None.
    """
    share = arm.shared_by if split else 1
    if arm.events is not None:
        return ArmEvents(
            arm.events / share,
            False,
            f"{fmt(arm.events)} events ({arm.arm_id})",
            f"{arm.arm_id}: n and events split {share} ways (shared arm)" if share > 1 else "",
        )
    if arm.n is None or arm.followup is None or arm.median is None:
        return None
    if arm.n <= 0 or arm.followup <= 0 or arm.median <= 0:
        return None
    e = events_from_followup(arm.n / share, arm.median, arm.followup)
    return ArmEvents(
        e,
        True,
        f"n {fmt(arm.n)}, median follow-up {fmt(arm.followup)} months ({arm.arm_id})",
        f"{arm.arm_id}: events estimated from follow-up ({e:.1f}; exponential, follow-up uniform"
        " on [0, 2F])" + (f"; n split {share} ways (shared arm)" if share > 1 else ""),
    )


class Bound(NamedTuple):
    """The smallest variance the arms of a comparison allow, and what it rests on."""

    value: float
    formula: str  # "1/E_T + 1/E_C" or "1/n_T + 1/n_C"
    assumptions: tuple[str, ...]  # e.g. events estimated from follow-up
    events: tuple[float | None, float | None]  # the events used, when they were


def information_bound(comp, split: bool = True) -> Bound | None:
    """1/E_T + 1/E_C with the arms' events (reported or estimated; split when ``split`` and
    the arm is shared), else 1/n_T + 1/n_C, else None (n unknown)."""
    ev = [arm_events(a, split) for a in (comp.t, comp.c)]
    if all(e is not None and e.value > 0 for e in ev):
        return Bound(
            1.0 / ev[0].value + 1.0 / ev[1].value,
            "1/E_T + 1/E_C",
            tuple(e.assumption for e in ev if e.estimated),
            (ev[0].value, ev[1].value),
        )
    if comp.t.n is None or comp.c.n is None:
        return None
    share_t, share_c = (comp.t.shared_by, comp.c.shared_by) if split else (1, 1)
    return Bound(1.0 / (comp.t.n / share_t) + 1.0 / (comp.c.n / share_c), "1/n_T + 1/n_C", (),
                 (None, None))  # fmt: skip
