"""Survival proportions at one or more times, per arm (Parmar 1998; Tierney 2007).

Per interval, deaths and numbers at risk are rebuilt from S(t), n and the
follow-up range (censoring uniform on [Fmin, Fmax]; a point mass when Fmin = Fmax);
the interval log hazard ratios theta_i = ln(h_T / h_C), h = -ln(S_i / S_{i-1}), are
pooled with weights V_i = D R'_T R'_C / (R'_T + R'_C)^2. The published O-E form is
kept beside it as ``survival_curve_oe``: it is attenuated when many die within an
interval.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from .base import Derivation, Failed, NotEstimable, fmt
from .comparisons import Arm, Comparison
from .registry import PARMAR_1998, TIERNEY_2007, Caveat, method

FEW_TIMES = Caveat(
    "Survival proportions read at few, wide intervals (e.g. only at 5 and 10 years) give "
    "unbiased estimates whose CIs are too narrow: 91-93% coverage in simulation "
    "(tests/harmonize/test_simulation.py, S(t) at 60 and 120 months only), 93-96% when read "
    "yearly."
)
_STEPS = (
    "per interval i and arm: censored C_i (uniform on [Fmin, Fmax]; when Fmin = Fmax every "
    "survivor is censored at that time, C_i = R_i − D_i in its interval), effective at risk "
    "R′_i = R_i − C_i/2, deaths D_i = R′_i·(1 − S_i/S_(i−1)); "
)


class Interval(NamedTuple):
    """One arm's rebuilt interval (t_{i-1}, t_i]."""

    t: float
    at_risk: float  # R'_i, the effective number at risk
    deaths: float  # D_i
    s_prev: float  # S(t_{i-1})
    s: float  # S(t_i)


def _censoring_window(arm: Arm, assumptions: list[str]) -> tuple[float, float] | None:
    if arm.followup_min is not None and arm.followup_max is not None:
        if arm.followup_max < arm.followup_min:
            raise Failed(
                f"{arm.arm_id}: follow-up range {fmt(arm.followup_min)}-"
                f"{fmt(arm.followup_max)} is reversed"
            )
        if arm.followup_min == arm.followup_max:
            assumptions.append(
                f"{arm.arm_id}: every survivor censored at {fmt(arm.followup_max)} months "
                "(minimum = maximum follow-up: censoring as a point mass)"
            )
        return arm.followup_min, arm.followup_max
    if arm.followup is not None:
        assumptions.append(
            f"{arm.arm_id}: censoring uniform on [0, 2F] from median follow-up F = "
            f"{fmt(arm.followup)}"
        )
        return 0.0, 2.0 * arm.followup
    assumptions.append(f"{arm.arm_id}: no follow-up reported: no censoring assumed")
    return None


def _interval(r: float, q: float, t_prev: float, t: float, window) -> tuple[float, float, float]:
    """(C_i, R'_i, D_i) of one interval with R_i = r at risk and S_i/S_{i-1} = 1 - q.

    Uniform censoring (Parmar 1998; Tierney 2007): C_i = R_i x (length of the interval
    inside [Fmin, Fmax]) / (Fmax - max(t_{i-1}, Fmin)), R'_i = R_i - C_i/2,
    D_i = R'_i q. A point mass at Fmin = Fmax = F (methods.md §1): in the interval that
    holds F, C_i = R_i - D_i, which with R'_i = R_i - C_i/2 and D_i = R'_i q gives
    R'_i = R_i / (2 - q), D_i = R_i q / (2 - q); no censoring elsewhere.
    """
    if window is None:
        return 0.0, r, r * q
    fmin, fmax = window
    if fmin == fmax:
        if not t_prev < fmax <= t:
            return 0.0, r, r * q
        r_eff = r / (2.0 - q)
        deaths = r_eff * q
        return r - deaths, r_eff, deaths
    inside = max(0.0, min(t, fmax) - max(t_prev, fmin))
    c = r * inside / (fmax - max(t_prev, fmin))
    r_eff = r - c / 2.0
    return c, r_eff, r_eff * q


def _intervals(arm: Arm, times: list[float], window, n: float) -> list[Interval]:
    """The arm's intervals up to the end of follow-up (t_{i-1} < Fmax), stopping at S = 0."""
    surv = dict(arm.survival)
    out = []
    r, s_prev, t_prev = n, 1.0, 0.0
    for t in times:
        if window is not None and t_prev >= window[1]:
            break
        s = surv[t]
        q = 1.0 - s / s_prev if s_prev > 0 else 0.0
        c, r_eff, deaths = _interval(r, q, t_prev, t, window)
        out.append(Interval(t, r_eff, deaths, s_prev, s))
        r = max(0.0, r - deaths - c)
        s_prev, t_prev = s, t
        if s == 0:
            break
    return out


def _no_information(comp: Comparison, it: list[Interval], ic: list[Interval]) -> str:
    """Why no interval carried information, said exactly (issue 19, item 10)."""
    dead = {a.arm_id: sum(i.deaths for i in ivs) for a, ivs in ((comp.t, it), (comp.c, ic))}
    none = [a for a, d in dead.items() if d <= 0]
    if len(none) == 2:
        return "no deaths in either arm within follow-up (S = 1 at every time read)"
    if none:
        (arm,) = none
        return (
            f"no deaths in {arm} within follow-up (S = 1 at every time read), while the other "
            "arm had some: the hazard ratio is 0 or infinite"
        )
    return (
        "no interval with deaths in both arms and survivors in both (theta = ln(h_T / h_C) "
        "is infinite in every interval)"
    )


def _fit(comp: Comparison, form: str) -> Derivation:
    if not comp.t.survival or not comp.c.survival:
        raise NotEstimable("survival proportions not reported for both arms")
    if comp.t.n is None or comp.c.n is None:
        raise NotEstimable("n not reported for both arms")
    times = sorted(set(dict(comp.t.survival)) & set(dict(comp.c.survival)))
    if not times:
        raise NotEstimable("no time at which both arms report survival")
    assumptions = ["proportional hazards within each interval"]
    for arm in (comp.t, comp.c):
        if arm.shared_by > 1:
            assumptions.append(f"{arm.arm_id}: n split {arm.shared_by} ways (shared arm)")
    win_t = _censoring_window(comp.t, assumptions)
    win_c = _censoring_window(comp.c, assumptions)
    it = _intervals(comp.t, times, win_t, comp.t.n / comp.t.shared_by)
    ic = _intervals(comp.c, times, win_c, comp.c.n / comp.c.shared_by)
    m = min(len(it), len(ic))
    if m < len(times):
        dropped = ", ".join(fmt(t) for t in times[m:])
        assumptions.append(f"time points after the end of follow-up dropped: {dropped} months")
    it, ic = it[:m], ic[:m]
    sum_v = sum_vt = sum_oe = 0.0
    for a, b in zip(it, ic, strict=True):
        d = a.deaths + b.deaths
        if d <= 0 or a.at_risk + b.at_risk <= 0:
            continue
        v = d * a.at_risk * b.at_risk / (a.at_risk + b.at_risk) ** 2
        sum_oe += a.deaths - d * a.at_risk / (a.at_risk + b.at_risk)
        if form == "theta":
            if not (0 < a.s < a.s_prev and 0 < b.s < b.s_prev):
                # no deaths in an arm (theta = -inf) or everyone dead (S = 0: +inf)
                skip = "an interval with no deaths, or with S = 0, in one arm was skipped"
                if skip not in assumptions:
                    assumptions.append(skip)
                continue
            ht, hc = -math.log(a.s / a.s_prev), -math.log(b.s / b.s_prev)
            sum_vt += v * math.log(ht / hc)
        sum_v += v
    if sum_v <= 0:
        raise Failed(_no_information(comp, it, ic))
    reported = [
        f"{a.arm_id}: n {fmt(a.n)}, S(t) "
        + ", ".join(f"{fmt(t)}mo {fmt(s)}" for t, s in a.survival)
        for a in (comp.t, comp.c)
    ]
    events = (sum(i.deaths for i in it), sum(i.deaths for i in ic))
    if form == "theta":
        yi, name = sum_vt / sum_v, "survival_curve"
    else:
        yi, name = sum_oe / sum_v, "survival_curve_oe"
    return Derivation(name, yi, 1 / sum_v, reported, assumptions, events=events)


@method(
    precedence=60,
    label="Survival proportions at common time points",
    needs="survival proportions at ≥ 1 common time, n, follow-up",
    formula=_STEPS + "θ_i = ln(h_T,i / h_C,i) with h = −ln(S_i/S_(i−1)); "
    "V_i = D·R′_T·R′_C / (R′_T + R′_C)²; yi = Σ V_i·θ_i / Σ V_i; vi = 1 / Σ V_i",
    sources=(PARMAR_1998, TIERNEY_2007),
    caveat=FEW_TIMES.text,
    caveats=(FEW_TIMES,),
    hazard_based=True,
    splits=True,
    reads=("arms", "survival_points"),
)
def survival_curve(comp: Comparison) -> Derivation:
    """The cumulative-hazard-ratio form: yi = sum V theta / sum V, vi = 1 / sum V."""
    return _fit(comp, "theta")


@method(
    precedence=65,
    label="Survival proportions at common time points (published O − E form)",
    needs="as survival_curve",
    formula="as survival_curve, but yi = Σ (O − E)_i / Σ V_i with O − E = D_T − D·R′_T / "
    "(R′_T + R′_C); vi = 1 / Σ V_i",
    sources=(PARMAR_1998, TIERNEY_2007),
    caveat="Attenuated toward no effect when many patients die within one interval (HR 0.5 "
    "read at 60 and 120 months comes out near 0.7): shown for comparison, not chosen.",
    hazard_based=True,
    secondary=True,
    splits=True,
    reads=("arms", "survival_points"),
)
def survival_curve_oe(comp: Comparison) -> Derivation:
    """The published O - E form: yi = sum (O - E) / sum V (attenuated; shown beside)."""
    return _fit(comp, "oe")
