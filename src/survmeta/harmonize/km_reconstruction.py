"""Harmonization from digitized Kaplan-Meier curves: a study comparison's two arms rebuilt as
patients (Guyot 2012), then the log HR (Cox, Breslow ties), the PH test and the RMST difference.

The algorithms live in :mod:`survmeta.survival` (``reconstruct``: Guyot; ``cox``: the Cox fit;
``zph``: the Grambsch-Therneau test; ``rmst``: restricted mean survival time), each checked
against R. This module applies them to a :class:`~.comparisons.Comparison`: each arm's
digitized points and numbers at risk (with ``n`` from arms.csv standing in for a missing
number at risk at time 0, and the arm's reported events as Guyot's total events), the notes
that go into the audit trail, and the methods.md rules (section 1: log HR; section 6: PH test
and RMST).
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from ..survival.cox import cox_loghr
from ..survival.reconstruct import Reconstruction, pairs, reconstruct
from ..survival.rmst import rmst_difference
from ..survival.zph import ZPHTest, cox_zph
from .base import Derivation, Failed, NotEstimable, fmt
from .registry import Source, method

GUYOT_2012 = Source(
    "guyot2012",
    "Guyot P, Ades AE, Ouwens MJNM, Welton NJ. Enhanced secondary analysis of survival data: "
    "reconstructing the data from published Kaplan-Meier survival curves. BMC Med Res "
    "Methodol 2012;12:9.",
)

__all__ = [
    "KMEffect",
    "arm_ipd",
    "km_reconstruction",
    "km_reconstruction_effect",
    "km_rmst",
    "ph_test",
    "rebuild_arm",
    "rmst_horizon",
    "rmst_method",
]


class KMEffect(NamedTuple):
    yi: float  # Cox log HR of treatment vs control on the reconstructed IPD
    vi: float  # its variance (inverse observed information)
    notes: list[str]
    events: tuple[int, int] = (0, 0)  # deaths rebuilt in each arm


def rebuild_arm(label: str, points, risk, events=None) -> tuple[Reconstruction, list[str]]:
    """One arm's patients from its (time, S) points and (time, at risk) pairs, and the notes.

    Raises NotEstimable (naming the arm) when the digitized input cannot be used.
    """
    try:
        t_km, s_km = pairs(points, "KM points")
        t_r, n_r = pairs(risk, "numbers at risk")
        rec = reconstruct(t_km, s_km, t_r, n_r, events)
    except ValueError as why:
        raise NotEstimable(f"{label}: {why}") from None
    notes = [f"{label}: {x}" for x in rec.notes]
    if events is None:
        notes.append(
            f"{label}: total events not reported: last interval censored at the "
            "earlier intervals' rate (Guyot)"
        )
    notes.append(
        f"{label}: {rec.time.size} patients rebuilt, {int(rec.event.sum())} events"
        + ("" if events is None else f" (reported {fmt(float(events))})")
    )
    return rec, notes


_IPD_NOTE = (
    "IPD reconstructed from the digitized KM curves (Guyot 2012): censoring spread "
    "evenly within each at-risk interval"
)


def km_reconstruction_effect(
    t_arm_points,
    t_arm_risk,
    c_arm_points,
    c_arm_risk,
    events_t=None,
    events_c=None,
    labels: tuple[str, str] = ("treatment", "control"),
) -> KMEffect:
    """Log HR of treatment vs control from both arms' digitized curves and numbers at risk.

    ``*_points``: (time, S) pairs; ``*_risk``: (time, number at risk) pairs, time 0
    included; ``events_*``: reported total events per arm, or None. ``labels`` name the
    arms in the notes. Raises NotEstimable (message says why) when it cannot be done.
    """
    rec_t, notes_t = rebuild_arm(labels[0], t_arm_points, t_arm_risk, events_t)
    rec_c, notes_c = rebuild_arm(labels[1], c_arm_points, c_arm_risk, events_c)
    notes = [_IPD_NOTE, "log HR from a Cox model on the reconstructed IPD (Breslow ties)"]
    try:
        fit = cox_loghr(rec_t.time, rec_t.event, rec_c.time, rec_c.event)
    except ValueError as why:
        raise Failed(f"reconstructed patients: {why}") from None
    events = (int(rec_t.event.sum()), int(rec_c.event.sum()))
    return KMEffect(fit.coef, fit.var, [*notes, *notes_t, *notes_c], events)


# --------------------------------------------------------------------------------------
# A study comparison's arms
# --------------------------------------------------------------------------------------


def _risk_with_start(arm_id: str, at_risk: tuple, n) -> tuple[tuple, tuple[str, ...]]:
    """The at-risk table, with (0, n) from arms.csv when the paper's table lacks time 0."""
    if at_risk and at_risk[0][0] > 0 and n is not None:
        note = f"{arm_id}: number at risk at time 0 taken as n = {fmt(n)}"
        return ((0.0, float(n)), *at_risk), (note,)
    return at_risk, ()


@lru_cache(maxsize=4096)
def _arm_ipd(arm_id: str, km: tuple, at_risk: tuple, n, events):
    risk, start = _risk_with_start(arm_id, at_risk, n)
    rec, notes = rebuild_arm(arm_id, km, risk, events)
    for a in rec[:-1]:  # shared by every caller: read-only
        a.flags.writeable = False
    return rec, tuple(notes), start


def arm_ipd(arm) -> tuple[Reconstruction, tuple[str, ...], tuple[str, ...]]:
    """The arm's reconstruction, its notes, and the note on its time-0 number at risk.

    Rebuilt once per distinct arm (cached): an arm is the same in every comparison and
    analysis that uses it, and results/reconstructed.csv holds it once. Raises
    NotEstimable when the arm has no curve or numbers at risk, or they cannot be used.
    """
    return _arm_ipd(arm.arm_id, tuple(arm.km), tuple(arm.at_risk), arm.n, arm.events)


def _both(comp):
    """Both arms' reconstructions and the notes, in the order the audit trail shows them."""
    t, c = comp.t, comp.c
    if not t.km or not c.km:
        raise NotEstimable("no digitized Kaplan-Meier curve for both arms")
    if not t.at_risk or not c.at_risk:
        raise NotEstimable("no numbers at risk for both arms")
    rec_t, notes_t, start_t = arm_ipd(t)
    rec_c, notes_c, start_c = arm_ipd(c)
    notes = [_IPD_NOTE, *notes_t, *notes_c, *start_t, *start_c]
    for arm in (t, c):
        if arm.shared_by > 1:
            notes.append(
                f"{arm.arm_id}: shared by {arm.shared_by} comparisons and rebuilt whole in each"
                " (the comparisons are correlated)"
            )
    return rec_t, rec_c, notes


def _reported(comp) -> list[str]:
    return [
        f"{a.arm_id}: {len(a.km)} digitized KM points, at risk "
        + ", ".join(f"{fmt(tt)}mo {fmt(n)}" for tt, n in a.at_risk)
        for a in (comp.t, comp.c)
    ]


@method(
    precedence=50,
    label="Reconstructed individual data from digitized Kaplan-Meier curves",
    needs="digitized KM points + numbers at risk per arm",
    formula="IPD reconstructed from the curve and the numbers at risk (Guyot algorithm); "
    "yi = log HR of a Cox model with Breslow ties; vi = its variance",
    formula_rmst="IPD reconstructed from the curve and the numbers at risk (Guyot algorithm); "
    "yi = RMST_T - RMST_C up to the horizon (months, from each arm's Kaplan-Meier curve); "
    "vi = se_T^2 + se_C^2 (R's survfit rmean)",
    sources=(GUYOT_2012,),
    hazard_based=True,
    reads=("arms", "km_points, km_at_risk"),
)
def km_reconstruction(comp) -> Derivation:
    """Guyot 2012 on both arms' digitized curves, then Cox (Breslow) on the rebuilt IPD.

    A shared arm (multi-arm split) is rebuilt whole: patient data cannot be divided
    evenly, so its comparisons are correlated; the assumption says so.
    """
    rec_t, rec_c, notes = _both(comp)
    try:
        fit = cox_loghr(rec_t.time, rec_t.event, rec_c.time, rec_c.event)
    except ValueError as why:
        raise Failed(f"reconstructed patients: {why}") from None
    notes.insert(1, "log HR from a Cox model on the reconstructed IPD (Breslow ties)")
    events = (int(rec_t.event.sum()), int(rec_c.event.sum()))
    return Derivation("km_reconstruction", fit.coef, fit.var, _reported(comp), notes, events=events)


def ph_test(comp) -> ZPHTest | None:
    """Grambsch-Therneau test (``cox.zph``, transform "km") on the comparison's rebuilt IPD.

    None when the comparison has no usable curves or the test is undefined (methods.md
    section 6: only a reconstructed study can be tested).
    """
    try:
        rec_t, rec_c, _ = _both(comp)
        fit = cox_loghr(rec_t.time, rec_t.event, rec_c.time, rec_c.event)
    except (NotEstimable, ValueError):
        return None
    time = [*rec_t.time, *rec_c.time]
    event = [*rec_t.event, *rec_c.event]
    arm = [1.0] * rec_t.time.size + [0.0] * rec_c.time.size
    try:
        return cox_zph(time, event, arm, fit.coef)
    except ValueError:
        return None


def curve_end(arm) -> float | None:
    """The last time of the arm's rebuilt patients, or None when it cannot be rebuilt.

    Normally the last digitized time (those still at risk are censored there); earlier
    when the numbers at risk run out before the digitized curve does, since a curve drawn on
    past its last patient carries no information.
    """
    try:
        return float(arm_ipd(arm)[0].time.max())
    except NotEstimable:
        return None


def km_rmst(comp, horizon: float) -> Derivation:
    """RMST difference (treatment - control, months) up to ``horizon`` on the rebuilt IPD.

    methods.md section 6: rmean per arm as R's ``survfit`` gives it, yi = rmean_T -
    rmean_C (> 0 favours the treatment), vi = se_T^2 + se_C^2. A horizon beyond an arm's
    curve carries that curve flat to it (as R does); the assumption says so.
    """
    rec_t, rec_c, notes = _both(comp)
    res = rmst_difference(rec_t.time, rec_t.event, rec_c.time, rec_c.event, horizon)
    notes.insert(1, f"RMST up to {fmt(horizon)} months from the rebuilt Kaplan-Meier curves")
    for arm, r in ((comp.t, res.treatment), (comp.c, res.control)):
        if r.extended:
            notes.append(
                f"{arm.arm_id}: curve ends at {fmt(r.last_time)} months, carried flat to "
                f"{fmt(horizon)} (an extrapolation)"
            )
    reported = _reported(comp) + [
        f"{arm.arm_id}: RMST {r.rmean:.4g} (se {r.se:.3g}) months up to {fmt(horizon)}"
        for arm, r in ((comp.t, res.treatment), (comp.c, res.control))
    ]
    return Derivation("km_reconstruction", res.diff, res.var, reported, notes)


def rmst_horizon(comps, setting="auto") -> float | None:
    """The RMST horizon of an analysis (config ``rmst: horizon:``), in months.

    A number is taken as given. ``auto`` (methods.md section 6) is the largest time to
    which every reconstructed comparison's curves run: the smallest :func:`curve_end` of
    any arm of the analysis's comparisons that can be rebuilt; None when none can.
    """
    if setting not in (None, "auto"):
        return float(setting)
    ends = []
    for comp in comps:
        t_end, c_end = curve_end(comp.t), curve_end(comp.c)
        if t_end is not None and c_end is not None:
            ends.append(min(t_end, c_end))
    return min(ends) if ends else None


def rmst_method(horizon: float | None):
    """``km_reconstruction`` for a ``metric: rmst_diff`` analysis: the RMST difference up to
    ``horizon`` (a method of the same shape as the others, for harmonize's loop)."""

    def km_reconstruction(comp) -> Derivation:
        if horizon is None:
            raise NotEstimable(
                "no comparison of the analysis has digitized curves for both arms, so there "
                "is no common RMST horizon (set rmst: horizon: in months)"
            )
        return km_rmst(comp, horizon)

    return km_reconstruction
