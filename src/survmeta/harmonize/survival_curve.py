"""Survival proportions at one or more times, per arm (Parmar 1998; Tierney 2007).

Per interval, deaths and numbers at risk are rebuilt from S(t), n and the
follow-up range (censoring uniform on [Fmin, Fmax]); the interval log hazard
ratios theta_i = ln(h_T / h_C), h = -ln(S_i / S_{i-1}), are pooled with weights
V_i = D R'_T R'_C / (R'_T + R'_C)^2. The published O-E form is kept beside it as
``survival_curve_oe``: it is attenuated when many die within an interval.
"""

from __future__ import annotations

import math

from .base import Derivation, NotEstimable, fmt
from .comparisons import Arm, Comparison


def _censoring_window(arm: Arm, assumptions: list[str]) -> tuple[float, float] | None:
    if arm.followup_min is not None and arm.followup_max is not None:
        return arm.followup_min, arm.followup_max
    if arm.followup is not None:
        assumptions.append(
            f"{arm.arm_id}: censoring uniform on [0, 2F] from median follow-up F = "
            f"{fmt(arm.followup)}"
        )
        return 0.0, 2.0 * arm.followup
    assumptions.append(f"{arm.arm_id}: no follow-up reported: no censoring assumed")
    return None


def _intervals(arm: Arm, times: list[float], window, n: float):
    """(R', D) per interval for one arm, up to the end of follow-up."""
    surv = dict(arm.survival)
    out = []
    r, s_prev, t_prev = n, 1.0, 0.0
    for t in times:
        if window is not None and t_prev >= window[1]:
            break
        s = surv[t]
        if window is None:
            c = 0.0
        else:
            fmin, fmax = window
            inside = max(0.0, min(t, fmax) - max(t_prev, fmin))
            c = r * inside / (fmax - max(t_prev, fmin))
        r_eff = r - c / 2.0
        deaths = r_eff * (1.0 - s / s_prev) if s_prev > 0 else 0.0
        out.append((t, r_eff, deaths, s_prev, s))
        r = max(0.0, r - deaths - c)
        s_prev, t_prev = s, t
        if s == 0:
            break
    return out


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
    sum_v = sum_vt = sum_oe = 0.0
    for (_, rt, dt, st0, st), (_, rc, dc, sc0, sc) in zip(it[:m], ic[:m], strict=True):
        d = dt + dc
        if d <= 0 or rt + rc <= 0:
            continue
        v = d * rt * rc / (rt + rc) ** 2
        sum_oe += dt - d * rt / (rt + rc)
        if form == "theta":
            if not (0 < st < st0 and 0 < sc < sc0):
                # no deaths in an arm (theta = -inf) or everyone dead (S = 0: +inf)
                skip = "an interval with no deaths, or with S = 0, in one arm was skipped"
                if skip not in assumptions:
                    assumptions.append(skip)
                continue
            ht, hc = -math.log(st / st0), -math.log(sc / sc0)
            sum_vt += v * math.log(ht / hc)
        sum_v += v
    if sum_v <= 0:
        raise NotEstimable("no deaths in the usable intervals")
    reported = [
        f"{a.arm_id}: n {fmt(a.n)}, S(t) "
        + ", ".join(f"{fmt(t)}mo {fmt(s)}" for t, s in a.survival)
        for a in (comp.t, comp.c)
    ]
    if form == "theta":
        return Derivation("survival_curve", sum_vt / sum_v, 1 / sum_v, reported, assumptions)
    return Derivation("survival_curve_oe", sum_oe / sum_v, 1 / sum_v, reported, assumptions)


def survival_curve(comp: Comparison) -> Derivation:
    """The cumulative-hazard-ratio form: yi = sum V theta / sum V, vi = 1 / sum V."""
    return _fit(comp, "theta")


def survival_curve_oe(comp: Comparison) -> Derivation:
    """The published O - E form: yi = sum (O - E) / sum V (attenuated; shown beside)."""
    return _fit(comp, "oe")
