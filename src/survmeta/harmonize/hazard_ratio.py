"""Methods that start from a reported hazard ratio or log-rank statistic (Tierney 2007)."""

from __future__ import annotations

import math

from .base import Derivation, NotEstimable, fmt, z_level, z_two_sided
from .comparisons import Comparison


def _contrast(comp: Comparison):
    if comp.contrast is None:
        raise NotEstimable("no reported contrast")
    return comp.contrast


def _direction(comp: Comparison, d: Derivation) -> Derivation:
    if comp.contrast is not None and comp.contrast.inverted:
        d.assumptions.append(
            f"reported as {comp.c.arm_id} vs {comp.t.arm_id}: inverted to treatment vs control"
        )
    return d


def hr_ci(comp: Comparison) -> Derivation:
    """ln HR, with se = (ln U - ln L) / (2 z_{(1+L)/2}) (Parmar 1998; Tierney 2007 s2)."""
    c = _contrast(comp)
    if c.hr is None or c.ci_low is None or c.ci_high is None:
        raise NotEstimable("no HR with a CI")
    se = (math.log(c.ci_high) - math.log(c.ci_low)) / (2 * z_level(c.ci_level))
    d = Derivation(
        "hr_ci",
        math.log(c.hr),
        se**2,
        reported=[f"HR {fmt(c.hr)} ({fmt(100 * c.ci_level)}% CI {fmt(c.ci_low)}-{fmt(c.ci_high)})"],
    )
    if c.ci_level != 0.95:
        d.assumptions.append(f"CI at level {fmt(c.ci_level)}")
    return _direction(comp, d)


def logrank_oe(comp: Comparison) -> Derivation:
    """Peto: ln HR = (O - E) / V, var = 1 / V (O - E of the treatment arm)."""
    c = _contrast(comp)
    if c.o_minus_e is None or c.logrank_var is None:
        raise NotEstimable("no log-rank O-E with its variance")
    d = Derivation(
        "logrank_oe",
        c.o_minus_e / c.logrank_var,
        1.0 / c.logrank_var,
        reported=[f"O-E {fmt(c.o_minus_e)}, V {fmt(c.logrank_var)}"],
    )
    return _direction(comp, d)


def hr_p(comp: Comparison) -> Derivation:
    """ln HR with var = (ln HR / z_{1-p/2})^2 (Tierney 2007; Altman & Bland 2011).

    A p printed as a bound (``<0.001``) gives a larger, conservative variance.
    HR printed as 1.00 or p = 1 is 0/0: not estimable (rounding, not an error).
    """
    c = _contrast(comp)
    if c.hr is None or c.p is None:
        raise NotEstimable("no HR with a p-value")
    yi = math.log(c.hr)
    if c.p.value >= 1.0 or yi == 0.0:
        raise NotEstimable(f"HR {fmt(c.hr)} with p = {c.p_text}: variance is 0/0")
    d = Derivation(
        "hr_p",
        yi,
        (yi / z_two_sided(c.p.value)) ** 2,
        reported=[f"HR {fmt(c.hr)}, p {c.p_text}"],
    )
    if c.p.bound:
        d.assumptions.append(
            f"p printed as a bound ({c.p_text}): bound used, variance conservative"
        )
    return _direction(comp, d)


def p_events(comp: Comparison) -> Derivation:
    """Log-rank p with total events D: V = D r/(1+r)^2, O - E = +-sqrt(V) z (Tierney 2007)."""
    c = _contrast(comp)
    if c.p is None:
        raise NotEstimable("no p-value")
    d_tot = c.events_total
    if d_tot is None and comp.t.events is not None and comp.c.events is not None:
        d_tot = comp.t.events / comp.t.shared_by + comp.c.events / comp.c.shared_by
    if d_tot is None:
        raise NotEstimable("no total number of events")
    assumptions = []
    if comp.t.n is not None and comp.c.n is not None:
        r = (comp.t.n / comp.t.shared_by) / (comp.c.n / comp.c.shared_by)
    else:
        r = 1.0
        assumptions.append("n per arm unknown: allocation ratio taken as 1")
    fav = c.favours_treatment
    by_median = None
    if comp.t.median is not None and comp.c.median is not None and comp.t.median != comp.c.median:
        by_median = comp.t.median > comp.c.median
    if fav is None and by_median is None and c.p.value < 1:
        raise NotEstimable("p without a direction (no 'favours' and no medians)")
    if fav is None:
        fav = bool(by_median)
        if c.p.value < 1:
            assumptions.append("direction taken from the medians")
    elif by_median is not None and by_median != fav:
        assumptions.append("reported direction disagrees with the medians; reported one used")
    v = d_tot * r / (1 + r) ** 2
    ome = (-1 if fav else 1) * math.sqrt(v) * z_two_sided(c.p.value)
    d = Derivation(
        "p_events",
        ome / v,
        1.0 / v,
        reported=[f"p {c.p_text}", f"{fmt(d_tot)} events", f"r = {r:.4g}"],
        assumptions=assumptions,
    )
    if c.p.bound:
        d.flags.append("p printed as a bound: estimate pulled toward no effect")
        d.assumptions.append(f"p printed as a bound ({c.p_text}): bound used")
    return _direction(comp, d)
