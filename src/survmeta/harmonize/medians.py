"""Methods that start from median survival per arm (Michiels 2005; exponential survival).

Under exponential survival HR = M_C / M_T, so ln HR = -ln(M_T / M_C); each method
also returns ln(M_T / M_C) itself for the median-ratio analyses (``log_mr``).
Their 95% CIs under-cover (86-89% in simulation): KM medians vary more than 1/E says.
"""

from __future__ import annotations

import math

from .base import Derivation, NotEstimable, fmt, z_level, z_two_sided
from .comparisons import Arm, Comparison

EXPONENTIAL = "exponential survival (HR = ratio of medians, inverted)"


def events_from_followup(n: float, median: float, followup: float) -> float:
    """Expected deaths under exponential survival, follow-up uniform on [0, 2F].

    E = n [1 - (1 - exp(-2 lambda F)) / (2 lambda F)], lambda = ln 2 / M.
    """
    x = 2.0 * math.log(2.0) / median * followup
    return n * (1.0 - (1.0 - math.exp(-x)) / x)


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


def _events(arm: Arm, assumptions: list[str], reported: list[str]) -> float:
    """Reported events (split if shared), else estimated from median follow-up."""
    share = arm.shared_by
    if arm.events is not None:
        reported.append(f"{fmt(arm.events)} events ({arm.arm_id})")
        if share > 1:
            assumptions.append(f"{arm.arm_id}: n and events split {share} ways (shared arm)")
        return arm.events / share
    if arm.n is None or arm.followup is None or arm.median is None:
        raise NotEstimable(f"{arm.arm_id}: no events and no median follow-up to estimate them")
    n = arm.n / share
    e = events_from_followup(n, arm.median, arm.followup)
    reported.append(f"n {fmt(arm.n)}, median follow-up {fmt(arm.followup)} months ({arm.arm_id})")
    assumptions.append(
        f"{arm.arm_id}: events estimated from follow-up ({e:.1f}; exponential, follow-up uniform"
        f" on [0, 2F])" + (f"; n split {share} ways (shared arm)" if share > 1 else "")
    )
    return e


def median_ratio(comp: Comparison) -> Derivation:
    """Michiels 2005: var = 1/E_T + 1/E_C."""
    _medians(comp)
    reported: list[str] = []
    assumptions: list[str] = []
    e_t = _events(comp.t, assumptions, reported)
    e_c = _events(comp.c, assumptions, reported)
    if e_t <= 0 or e_c <= 0:
        raise NotEstimable("no events in an arm")
    return _derivation("median_ratio", comp, 1 / e_t + 1 / e_c, reported, assumptions)


def _median_se(arm: Arm, z: float, assumptions: list[str]) -> float:
    m, lo, hi = arm.median, arm.median_ci_low, arm.median_ci_high
    if lo is not None and hi is not None:
        return (math.log(hi) - math.log(lo)) / (2 * z)
    if hi is not None and hi > m:
        assumptions.append(f"{arm.arm_id}: lower CI bound unusable; se from the upper half")
        return (math.log(hi) - math.log(m)) / z
    if lo is not None and lo < m:
        assumptions.append(f"{arm.arm_id}: upper CI bound unusable; se from the lower half")
        return (math.log(m) - math.log(lo)) / z
    raise NotEstimable(f"{arm.arm_id}: no CI of the median")


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


def median_p(comp: Comparison) -> Derivation:
    """var = (yi / z_{1-p/2})^2 from the p of the comparison (Tierney 2007)."""
    mt, mc = _medians(comp)
    c = comp.contrast
    if c is None or c.p is None:
        raise NotEstimable("no p-value for the comparison of medians")
    if mt == mc or c.p.value >= 1:
        raise NotEstimable(f"equal medians or p = {c.p_text}: variance is 0/0")
    yi = math.log(mt / mc)
    d = _derivation("median_p", comp, (yi / z_two_sided(c.p.value)) ** 2, [f"p {c.p_text}"], [])
    if c.p.bound:
        d.flags.append("p printed as a bound: variance overstated, weight too small")
        d.assumptions.append(f"p printed as a bound ({c.p_text}): bound used")
    return d
