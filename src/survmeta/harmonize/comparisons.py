"""Study comparisons: one (study, outcome, treatment arm, control arm) per analysis.

Everything a harmonization method may need is gathered here once, already turned
the analysis's way round (treatment versus control), so each method is a short
formula over a :class:`Comparison`.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace

from ..pvalues import PValue, parse_p


def num(x) -> float | None:
    """A table cell as float, or None when blank."""
    if x is None:
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


@dataclass(frozen=True)
class Arm:
    arm_id: str
    arm_class: str
    modality: str
    n: float | None
    events: float | None
    median: float | None
    median_ci_low: float | None
    median_ci_high: float | None
    followup: float | None
    followup_min: float | None
    followup_max: float | None
    source: str = ""
    quote: str = ""
    shared_by: int = 1  # comparisons of this analysis that use this arm (multi-arm split)
    survival: tuple[tuple[float, float], ...] = ()  # (time, S(t)) from survival_points
    km: tuple[tuple[float, float], ...] = ()  # digitized Kaplan-Meier (time, S(t))
    at_risk: tuple[tuple[float, float], ...] = ()  # (time, numbers at risk)

    @classmethod
    def from_row(cls, r, survival=(), km=(), at_risk=()) -> Arm:
        return cls(
            arm_id=r["arm_id"],
            arm_class=r["arm_class"],
            modality=r["modality"],
            n=num(r["n"]),
            events=num(r["events"]),
            median=num(r["median_months"]),
            median_ci_low=num(r["median_ci_low"]),
            median_ci_high=num(r["median_ci_high"]),
            followup=num(r["followup_months"]),
            followup_min=num(r.get("followup_min_months")),
            followup_max=num(r.get("followup_max_months")),
            source=r.get("source") or "",
            quote=r.get("quote") or "",
            survival=tuple(survival),
            km=tuple(km),
            at_risk=tuple(at_risk),
        )


@dataclass(frozen=True)
class Contrast:
    """A reported comparative effect, oriented as treatment versus control."""

    hr: float | None
    ci_low: float | None
    ci_high: float | None
    ci_level: float
    p: PValue | None
    p_text: str
    o_minus_e: float | None
    logrank_var: float | None
    events_total: float | None
    favours_treatment: bool | None
    inverted: bool
    source: str = ""
    quote: str = ""

    @classmethod
    def from_row(cls, r, treatment_is_index: bool) -> Contrast:
        hr, lo, hi = num(r["hr"]), num(r["ci_low"]), num(r["ci_high"])
        ome = num(r["o_minus_e"])
        if not treatment_is_index:
            hr = None if hr is None else 1.0 / hr
            lo, hi = (None if hi is None else 1.0 / hi), (None if lo is None else 1.0 / lo)
            ome = None if ome is None else -ome
        fav = r.get("favours")
        favours = None
        if fav:
            favours = (fav == r["arm_id"]) == treatment_is_index
        p_text = r["p_value"] or ""
        return cls(
            hr=hr,
            ci_low=lo,
            ci_high=hi,
            ci_level=num(r["ci_level"]) or 0.95,
            p=parse_p(p_text) if p_text else None,
            p_text=p_text,
            o_minus_e=ome,
            logrank_var=num(r["logrank_var"]),
            events_total=num(r["events_total"]),
            favours_treatment=favours,
            inverted=not treatment_is_index,
            source=r.get("source") or "",
            quote=r.get("quote") or "",
        )


@dataclass(frozen=True)
class Comparison:
    """One (study, outcome, treatment arm, control arm) of an analysis.

    ``shared_arms``: the arm ids of this comparison that other comparisons of the same
    study in the analysis also use (the sampling covariance of methods.md §4 follows
    from them); ``multiarm``: how such arms were treated (``split``, ``combine`` or
    ``whole``; ``Arm.shared_by`` > 1 only under ``split``).
    """

    study_id: str
    outcome: str
    t: Arm
    c: Arm
    contrast: Contrast | None = None
    notes: tuple[str, ...] = field(default=())
    shared_arms: tuple[str, ...] = ()
    multiarm: str = "split"

    @property
    def label(self) -> str:
        return f"{self.study_id}: {self.t.arm_id} vs {self.c.arm_id}"

    @property
    def comparison_id(self) -> str:
        """``study:treatment-vs-control``, e.g. ``Fairweather2017:hepatic_resection-vs-
        systemic_therapy``: unique within an analysis (arm ids are unique within a study
        and outcome) and stable across runs (made of ids only, never of row order)."""
        return f"{self.study_id}:{self.t.arm_id}-vs-{self.c.arm_id}"


def as_list(x) -> list[str]:
    return [x] if isinstance(x, str) else list(x)


#: Arm field <- (table, value column): per-arm values over time.
CURVES = {
    "survival": ("survival_points", "surv_prop"),
    "km": ("km_points", "surv_prop"),
    "at_risk": ("km_at_risk", "n_at_risk"),
}


def _curves_by_arm(tables: dict) -> dict:
    """{(study, arm, outcome): {field: ((time, value), ...)}} from the optional tables."""
    out: dict = {}
    for fld, (name, col) in CURVES.items():
        tab = tables.get(name)
        if tab is None:
            continue
        for r in tab.sort_values("time_months", kind="stable").itertuples(index=False):
            key = (r.study_id, r.arm_id, r.outcome)
            pts = out.setdefault(key, {}).setdefault(fld, [])
            pts.append((float(r.time_months), float(getattr(r, col))))
    return out


def _merge(arms: list[Arm]) -> Arm:
    """``multiarm: combine``: one arm with n and events summed; medians not combined."""
    if len(arms) == 1:
        return arms[0]
    n = sum(a.n for a in arms) if all(a.n is not None for a in arms) else None
    ev = sum(a.events for a in arms) if all(a.events is not None for a in arms) else None
    mods = {a.modality for a in arms}
    return Arm(
        arm_id="+".join(a.arm_id for a in arms),
        arm_class="+".join(sorted({a.arm_class for a in arms})),
        modality=mods.pop() if len(mods) == 1 else "mixed",
        n=n,
        events=ev,
        median=None,
        median_ci_low=None,
        median_ci_high=None,
        followup=arms[0].followup if len({a.followup for a in arms}) == 1 else None,
        followup_min=None,
        followup_max=None,
        source="; ".join(sorted({a.source for a in arms if a.source})),
        quote=" | ".join(dict.fromkeys(a.quote for a in arms if a.quote)),
    )


#: The ways a study's arms shared by several comparisons of an analysis are treated.
MULTIARM = ("split", "combine", "whole")


@dataclass(frozen=True)
class _Index:
    """The input tables read once as Python objects: arms by outcome and study (in table
    order), contrasts by (study, outcome). Every analysis and multi-arm mode reuses it."""

    arms: dict
    contrasts: dict


_INDEXES: dict[tuple, tuple] = {}
_READ = ("arms", "contrasts", *(name for name, _ in CURVES.values()))


def _index(tables: dict) -> _Index:
    """The :class:`_Index` of ``tables`` (built once per set of table objects)."""
    frames = tuple(tables.get(name) for name in _READ)
    key = tuple(map(id, frames))
    hit = _INDEXES.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], frames, strict=True)):
        return hit[1]
    curves = _curves_by_arm(tables)
    arms: dict = {}
    for r in tables["arms"].to_dict("records"):
        extra = curves.get((r["study_id"], r["arm_id"], r["outcome"]), {})
        arm = Arm.from_row(r, **extra)
        arms.setdefault(r["outcome"], {}).setdefault(r["study_id"], []).append(arm)
    contrasts: dict = {}
    tab = tables.get("contrasts")
    if tab is not None:
        for r in tab.to_dict("records"):
            contrasts.setdefault((r["study_id"], r["outcome"]), []).append(r)
    index = _Index(arms, contrasts)
    _INDEXES.clear()  # one review at a time: keep only the latest
    _INDEXES[key] = (frames, index)
    return index


def build_comparisons(tables: dict, analysis: dict, multiarm: str = "split") -> list[Comparison]:
    """Every treatment-arm x control-arm pair of each study for this analysis.

    ``multiarm`` (methods.md §1 "Multi-arm studies" and §4 "Whole arms"):
    ``split`` records in ``shared_by`` how many comparisons use an arm, so count-based
    methods divide its n and events evenly (Cochrane Handbook 23.3.4); ``combine``
    merges the treatment arms (and the control arms) of a study first; ``whole`` keeps
    every arm whole (``shared_by`` = 1) for the multilevel model, which accounts for the
    shared arm through the sampling covariance instead. In every mode each comparison
    lists the arms it shares with other comparisons of its study (``shared_arms``).
    """
    if multiarm not in MULTIARM:
        raise ValueError(f"multiarm must be one of {', '.join(MULTIARM)}, not {multiarm!r}")
    treat, ctrl = as_list(analysis["treatment"]), as_list(analysis["control"])
    index = _index(tables)
    out: list[Comparison] = []
    for study_id, grp in index.arms.get(analysis["outcome"], {}).items():
        t_arms = [a for a in grp if a.arm_class in treat]
        c_arms = [a for a in grp if a.arm_class in ctrl]
        if not t_arms or not c_arms:
            continue
        notes: tuple[str, ...] = ()
        if multiarm == "combine" and (len(t_arms) > 1 or len(c_arms) > 1):
            notes = ("multi-arm: arms combined (n and events summed; medians not combined)",)
            t_arms, c_arms = [_merge(t_arms)], [_merge(c_arms)]
        pairs = [(t, c) for t in t_arms for c in c_arms]
        use = Counter([t.arm_id for t, _ in pairs] + [c.arm_id for _, c in pairs])
        for t, c in pairs:
            if multiarm == "split":
                t2, c2 = replace(t, shared_by=use[t.arm_id]), replace(c, shared_by=use[c.arm_id])
            else:
                t2, c2 = t, c
            shared = tuple(a.arm_id for a in (t, c) if use[a.arm_id] > 1)
            whole = (
                (f"multi-arm: {', '.join(shared)} kept whole, shared with other comparisons of "
                 "the study (correlated: sampling covariance of the multilevel model)",)
                if multiarm == "whole" and shared
                else ()
            )  # fmt: skip
            out.append(
                Comparison(
                    study_id=study_id,
                    outcome=analysis["outcome"],
                    t=t2,
                    c=c2,
                    contrast=_find_contrast(index, study_id, analysis["outcome"], t, c),
                    notes=notes + whole,
                    shared_arms=shared,
                    multiarm=multiarm,
                )
            )
    return out


def _find_contrast(index: _Index, study_id, outcome, t: Arm, c: Arm):
    for r in index.contrasts.get((study_id, outcome), ()):
        if (r["arm_id"], r["ref_arm_id"]) == (t.arm_id, c.arm_id):
            return Contrast.from_row(r, treatment_is_index=True)
        if (r["arm_id"], r["ref_arm_id"]) == (c.arm_id, t.arm_id):
            return Contrast.from_row(r, treatment_is_index=False)
    return None
