"""Methods that start from median survival per arm (Michiels 2005; exponential survival).

Under exponential survival HR = M_C / M_T, so ln HR = -ln(M_T / M_C); each method
also returns ln(M_T / M_C) itself for the median-ratio analyses (``log_mr``).
Their 95% CIs under-cover (86-89% in simulation): KM medians vary more than 1/E says.
"""

from __future__ import annotations

import math

from .base import Derivation, Failed, NotEstimable, fmt, z_level, z_two_sided
from .comparisons import Arm, Comparison
from .information import arm_events, events_from_followup, information_bound
from .registry import P_BOUND, P_FLOOR, TIERNEY_2007, Caveat, Source, method

__all__ = ["events_from_followup", "median_ci", "median_p", "median_ratio"]

MICHIELS_2005 = Source(
    "michiels2005",
    "Michiels S, Piedbois P, Burdett S, et al. Meta-analysis when only the median survival "
    "times are known: a comparison with individual patient data results. Eur J Cancer "
    "2005;41:1219-25.",
)

EXPONENTIAL = "exponential survival (HR = ratio of medians, inverted)"
_ASSUME = "exponential survival in each arm, so HR = M_C / M_T"
_SIMULATED = (
    "In simulation (tests/harmonize/test_simulation.py: HR 0.7, 100 per arm, 1,000 replicates "
    "per seed) the 95% CIs of {name} held the true HR {cover} of the time, not 95%: Kaplan-Meier "
    "medians vary more than the formula assumes."
)
UNDER_COVER = Caveat(
    "Median-based methods under-cover: in the simulation study of the test suite "
    "(tests/harmonize/test_simulation.py) the 95% confidence intervals of median_ratio "
    "and median_p held the true hazard ratio only 85-91% of the time (median_ratio "
    "85-90%, median_p 88-91% with its variance floored, 80-85% without), because "
    "Kaplan-Meier medians vary more than 1/E assumes; "
    "all median methods also rest on exponential survival. Their intervals, and a pool "
    "that leans on them, are narrower than they should be."
)


def _medians(comp: Comparison) -> tuple[float, float]:
    if comp.t.median is None or comp.c.median is None:
        raise NotEstimable("median survival not reported for both arms")
    return comp.t.median, comp.c.median


def _derivation(method: str, comp: Comparison, vi: float, reported, assumptions) -> Derivation:
    mt, mc = _medians(comp)
    log_mr = math.log(mt / mc)
    return Derivation(
        method,
        -log_mr,
        vi,
        reported=[f"median {fmt(mt)} vs {fmt(mc)} months", *reported],
        assumptions=[EXPONENTIAL, *assumptions],
        log_mr=log_mr,
    )


@method(
    precedence=70,
    label="Median survival and events (or follow-up) per arm",
    needs="medians and events (or follow-up) per arm",
    formula=f"yi = −ln(M_T / M_C) ({_ASSUME}); vi = 1/E_T + 1/E_C (events estimated from "
    "median follow-up F, uniform accrual on [0, 2F], when not reported)",
    formula_mr="yi = ln(M_T / M_C); vi = 1/E_T + 1/E_C",
    sources=(MICHIELS_2005,),
    caveat=_SIMULATED.format(name="median_ratio", cover="85-90%"),
    caveats=(UNDER_COVER,),
    median=True,
    splits=True,
)
def median_ratio(comp: Comparison) -> Derivation:
    """Michiels 2005: var = 1/E_T + 1/E_C (events reported, else estimated from follow-up)."""
    _medians(comp)
    reported: list[str] = []
    assumptions: list[str] = []
    events = []
    for arm in (comp.t, comp.c):
        ev = arm_events(arm)
        if ev is None:
            raise NotEstimable(f"{arm.arm_id}: no events and no median follow-up to estimate them")
        if ev.value <= 0:
            raise Failed(f"no events in {arm.arm_id}: 1/E is infinite")
        reported.append(ev.reported)
        if ev.assumption:
            assumptions.append(ev.assumption)
        events.append(ev.value)
    d = _derivation("median_ratio", comp, 1 / events[0] + 1 / events[1], reported, assumptions)
    d.events = (events[0], events[1])
    return d


def _median_se(arm: Arm, z: float, assumptions: list[str]) -> float:
    m, lo, hi = arm.median, arm.median_ci_low, arm.median_ci_high
    if lo is not None and hi is not None:
        if hi <= lo:
            raise Failed(f"{arm.arm_id}: median CI of zero width ({fmt(lo)}-{fmt(hi)}): se 0")
        return (math.log(hi) - math.log(lo)) / (2 * z)
    if hi is not None and hi > m:
        assumptions.append(f"{arm.arm_id}: lower CI bound unusable; se from the upper half")
        return (math.log(hi) - math.log(m)) / z
    if lo is not None and lo < m:
        assumptions.append(f"{arm.arm_id}: upper CI bound unusable; se from the lower half")
        return (math.log(m) - math.log(lo)) / z
    raise NotEstimable(f"{arm.arm_id}: no CI of the median")


@method(
    precedence=80,
    label="Median survival with its confidence interval per arm",
    needs="medians with their CIs per arm",
    formula=f"yi = −ln(M_T / M_C) ({_ASSUME}); vi = se_T² + se_C², se = (ln U − ln L) / "
    "(2·z) of each median (from one half of the CI when a bound is unusable)",
    formula_mr="yi = ln(M_T / M_C); vi = se_T² + se_C²",
    sources=(MICHIELS_2005,),
    caveat="Coverage was 94-96% in the simulation, which assumed exponential survival; with "
    "other survival shapes the medians' CIs and the HR need not agree.",
    caveats=(UNDER_COVER,),
    median=True,
)
def median_ci(comp: Comparison) -> Derivation:
    """var = se_T^2 + se_C^2, se = (ln U - ln L) / (2 z) of each median's 95% CI."""
    _medians(comp)
    z = z_level(0.95)
    assumptions = ["median CIs taken as 95% and symmetric on the log scale"]
    se_t = _median_se(comp.t, z, assumptions)
    se_c = _median_se(comp.c, z, assumptions)
    reported = [
        f"{a.arm_id} CI {fmt(a.median_ci_low) if a.median_ci_low else '?'}-"
        f"{fmt(a.median_ci_high) if a.median_ci_high else '?'}"
        for a in (comp.t, comp.c)
    ]
    return _derivation("median_ci", comp, se_t**2 + se_c**2, reported, assumptions)


@method(
    precedence=90,
    label="Median survival per arm and the p-value of their comparison",
    needs="medians per arm and the two-sided p of their comparison",
    formula=f"yi = −ln(M_T / M_C) ({_ASSUME}); vi = (yi / z_(1−p/2))², with a shared arm's "
    "share when it is split, never below the arms' information bound",
    formula_mr="yi = ln(M_T / M_C); vi = (yi / z_(1−p/2))², never below the arms' information "
    "bound",
    sources=(MICHIELS_2005, TIERNEY_2007),
    caveat=_SIMULATED.format(name="median_p", cover="88-91%"),
    caveats=(UNDER_COVER, P_BOUND, P_FLOOR),
    median=True,
    splits=True,
    floor="flag",
    reads=("contrasts", "arms"),
)
def median_p(comp: Comparison) -> Derivation:
    """var = (yi / z_{1-p/2})^2 from the p of the comparison (Tierney 2007).

    The p comes from the test on the whole arms ("A p belongs to its own test"): the
    variance it gives is the whole arms'; when a shared arm is split only vi carries the
    split, scaled by the ratio of the arms' information bounds (split over whole). Equal
    medians with p < 1 give vi = 0, which the floor raises to the bound (flagged).
    """
    mt, mc = _medians(comp)
    c = comp.contrast
    if c is None or c.p is None:
        raise NotEstimable("no p-value for the comparison of medians")
    if c.p.value >= 1:
        raise NotEstimable(f"p = {c.p_text}: the medians' difference gives no variance")
    yi = math.log(mt / mc)
    vi = (yi / z_two_sided(c.p.value)) ** 2
    assumptions = []
    if comp.t.shared_by > 1 or comp.c.shared_by > 1:
        split, whole = information_bound(comp, True), information_bound(comp, False)
        if split is None or whole is None:
            assumptions.append("n per arm unknown: the shared arm could not be split")
        else:
            vi *= split.value / whole.value
            assumptions.append(
                f"p from the test on the whole arms: vi scaled by the split arms' information "
                f"({split.formula}, split / whole = {split.value / whole.value:.4g})"
            )
    d = _derivation("median_p", comp, vi, [f"p {c.p_text}"], assumptions)
    if c.p.bound:
        d.flags.append("p printed as a bound: variance overstated, weight too small")
        d.assumptions.append(f"p printed as a bound ({c.p_text}): bound used")
    return d
