"""Methods that start from a reported hazard ratio or log-rank statistic (Tierney 2007)."""

from __future__ import annotations

import math

from .base import Derivation, Failed, NotEstimable, fmt, z_level, z_two_sided
from .comparisons import Comparison
from .registry import P_BOUND, P_FLOOR, PARMAR_1998, TIERNEY_2007, Source, method

ALTMAN_2011 = Source(
    "altman2011",
    "Altman DG, Bland JM. How to obtain the confidence interval from a P value. "
    "BMJ 2011;343:d2090.",
)
YUSUF_1985 = Source(
    "yusuf1985",
    "Yusuf S, Peto R, Lewis J, Collins R, Sleight P. Beta blockade during and after "
    "myocardial infarction: an overview of the randomized trials. Prog Cardiovasc Dis "
    "1985;27:335-71.",
)


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


@method(
    precedence=10,
    label="Hazard ratio with its confidence interval",
    needs="HR, CI at level L",
    formula="yi = ln HR; vi = ((ln U − ln L) / (2·z))², z = z_((1+L)/2) for a CI at level L",
    sources=(PARMAR_1998, TIERNEY_2007),
    hazard_based=True,
    reads=("contrasts", "arms"),
)
def hr_ci(comp: Comparison) -> Derivation:
    """ln HR, with se = (ln U - ln L) / (2 z_{(1+L)/2}) (Parmar 1998; Tierney 2007 s2)."""
    c = _contrast(comp)
    if c.hr is None or c.ci_low is None or c.ci_high is None:
        raise NotEstimable("no HR with a CI")
    if c.ci_high <= c.ci_low:
        raise Failed(f"CI of zero width ({fmt(c.ci_low)}-{fmt(c.ci_high)}): se 0")
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


@method(
    precedence=20,
    label="Log-rank O − E and its variance V",
    needs="O−E and V of the log-rank test",
    formula="yi = (O − E) / V; vi = 1 / V",
    sources=(YUSUF_1985, TIERNEY_2007),
    hazard_based=True,
    reads=("contrasts", "arms"),
)
def logrank_oe(comp: Comparison) -> Derivation:
    """Peto: ln HR = (O - E) / V, var = 1 / V (O - E of the treatment arm)."""
    c = _contrast(comp)
    if c.o_minus_e is None or c.logrank_var is None:
        raise NotEstimable("no log-rank O-E with its variance")
    if c.logrank_var <= 0:
        raise Failed(f"log-rank variance V = {fmt(c.logrank_var)}: no information")
    d = Derivation(
        "logrank_oe",
        c.o_minus_e / c.logrank_var,
        1.0 / c.logrank_var,
        reported=[f"O-E {fmt(c.o_minus_e)}, V {fmt(c.logrank_var)}"],
    )
    return _direction(comp, d)


@method(
    precedence=30,
    label="Hazard ratio with a two-sided p-value",
    needs="HR and a two-sided p",
    formula="yi = ln HR; vi = (ln HR / z_(1−p/2))², never below the arms' information bound "
    "(a printed bound 'p < x' gives a larger, conservative variance)",
    sources=(TIERNEY_2007, ALTMAN_2011),
    caveats=(P_BOUND, P_FLOOR),
    hazard_based=True,
    reads=("contrasts", "arms"),
    floor="flag",
)
def hr_p(comp: Comparison) -> Derivation:
    """ln HR with var = (ln HR / z_{1-p/2})^2 (Tierney 2007; Altman & Bland 2011).

    A p printed as a bound (``<0.001``) gives a larger, conservative variance.
    HR printed as 1.00 or p = 1 is 0/0: not estimable (rounding, not an error). The HR
    and its p are the comparison's own (whole arms), so the floor uses the whole arms.
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


def _log_rank_v(events: float, r: float) -> float:
    """Tierney 2007: the log-rank variance V = D r / (1 + r)^2, r = n_T / n_C."""
    return events * r / (1.0 + r) ** 2


@method(
    precedence=40,
    label="Log-rank p-value, total events and arm sizes",
    needs="two-sided log-rank p, total events D, n per arm, direction",
    formula="r = n_T / n_C; V = D·r / (1 + r)²; O − E = ±√V·z_(1−p/2) (sign from the reported "
    "direction or the medians); yi = (O − E) / V from the whole arms the p was computed on; "
    "vi = 1 / V, with a shared arm's share when it is split, never below the arms' "
    "information bound",
    sources=(TIERNEY_2007,),
    caveat="A p printed as a bound ('p < 0.05') pulls the estimate toward no effect; such rows "
    "are flagged.",
    caveats=(P_BOUND, P_FLOOR),
    hazard_based=True,
    reads=("contrasts", "arms"),
    splits=True,
    floor="flag",
)
def p_events(comp: Comparison) -> Derivation:
    """Log-rank p with total events D: V = D r/(1+r)^2, O - E = +-sqrt(V) z (Tierney 2007).

    methods.md §1, "A p belongs to its own test": the p comes from the pairwise test on
    the whole arms, so yi = (O - E)/V uses the whole arms' D and r; when a shared arm is
    split (``multiarm: split``) only vi = 1/V carries the split (the arm's share of n
    and events; a reported total D is shared in proportion to n).
    """
    c = _contrast(comp)
    if c.p is None:
        raise NotEstimable("no p-value")
    t, ctl = comp.t, comp.c
    per_arm = t.events is not None and ctl.events is not None
    d_whole = c.events_total
    if d_whole is None and per_arm:
        d_whole = t.events + ctl.events
    if d_whole is None:
        raise NotEstimable("no total number of events")
    if d_whole <= 0:
        raise Failed("no events in either arm: the log-rank variance V = D·r/(1+r)² is 0")
    assumptions = []
    has_n = t.n is not None and ctl.n is not None
    if has_n:
        r_whole = t.n / ctl.n
    else:
        r_whole = 1.0
        assumptions.append("n per arm unknown: allocation ratio taken as 1")
    fav = c.favours_treatment
    by_median = None
    if t.median is not None and ctl.median is not None and t.median != ctl.median:
        by_median = t.median > ctl.median
    if fav is None and by_median is None and c.p.value < 1:
        raise NotEstimable("p without a direction (no 'favours' and no medians)")
    if fav is None:
        fav = bool(by_median)
        if c.p.value < 1:
            assumptions.append("direction taken from the medians")
    elif by_median is not None and by_median != fav:
        assumptions.append("reported direction disagrees with the medians; reported one used")
    v_whole = _log_rank_v(d_whole, r_whole)
    yi = (-1 if fav else 1) * z_two_sided(c.p.value) / math.sqrt(v_whole)
    v = v_whole
    if t.shared_by > 1 or ctl.shared_by > 1:
        v, split_note = _split_v(comp, d_whole, per_arm, has_n)
        assumptions.append(
            f"p from the test on the whole arms: yi from them (D = {fmt(d_whole)}, "
            f"r = {r_whole:.4g}); {split_note}"
        )
    d = Derivation(
        "p_events",
        yi,
        1.0 / v,
        reported=[f"p {c.p_text}", f"{fmt(d_whole)} events", f"r = {r_whole:.4g}"],
        assumptions=assumptions,
    )
    if c.p.bound:
        d.flags.append("p printed as a bound: estimate pulled toward no effect")
        d.assumptions.append(f"p printed as a bound ({c.p_text}): bound used")
    return _direction(comp, d)


def _split_v(comp: Comparison, d_whole: float, per_arm: bool, has_n: bool) -> tuple[float, str]:
    """V of the comparison's share of its arms (Cochrane Handbook 23.3.4), and what was done."""
    t, c = comp.t, comp.c
    if not has_n:
        return _log_rank_v(d_whole, 1.0), "n per arm unknown: the shared arm could not be split"
    n_t, n_c = t.n / t.shared_by, c.n / c.shared_by
    if per_arm:
        d = t.events / t.shared_by + c.events / c.shared_by
        how = "events"
    else:
        d = d_whole * (n_t + n_c) / (t.n + c.n)
        how = "events (the total shared in proportion to n)"
    shared = ", ".join(f"{a.arm_id} {a.shared_by} ways" for a in (t, c) if a.shared_by > 1)
    note = f"vi from the split arms ({shared}: n and {how}; D = {d:.4g}, r = {n_t / n_c:.4g})"
    return _log_rank_v(d, n_t / n_c), note
