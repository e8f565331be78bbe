"""Apply the methods, in precedence order, to every comparison of every analysis.

One loop over the registry per comparison: the first method that derives it wins;
every other derivation, and every method that had its inputs but failed (``Failed``),
goes to the audit trail (derivations.csv); a comparison no method can derive goes to
excluded.csv with each method's reason. A method failing never stops the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import pandas as pd

from .base import Derivation, Failed, NotEstimable
from .comparisons import MULTIARM, Arm, Comparison, build_comparisons
from .km_reconstruction import ph_test, rmst_horizon, rmst_method
from .registry import REGISTRY, Method, methods

EFFECT_COLUMNS = [
    "analysis_id",
    "study_id",
    "outcome",
    "treatment_arm",
    "control_arm",
    "treatment_class",
    "control_class",
    "modality",
    "yi",
    "vi",
    "sei",
    "metric",
    "source_method",
    "assumptions",
    "flags",
    "reported",
    "source",
    "quote",
    "n_treatment",
    "n_control",
    "year",
    "risk_of_bias",
    "design",
    "comparison_id",
    "events_t",
    "events_c",
    "shared_arm",
    "multiarm",
    "hazard_based",
    "ph_p",
    "rmst_horizon",
]
EXCLUDED_COLUMNS = [
    "analysis_id",
    "study_id",
    "outcome",
    "treatment_arm",
    "control_arm",
    "reason",
    "comparison_id",
]
DERIVATION_COLUMNS = [
    "analysis_id",
    "study_id",
    "treatment_arm",
    "control_arm",
    "metric",
    "source_method",
    "chosen",
    "yi",
    "vi",
    "sei",
    "assumptions",
    "reported",
    "flags",
    "comparison_id",
    "status",
    "z_vs_chosen",
    "disagrees",
]

#: |z| above this flags two derivations of one comparison as disagreeing (two-sided 5%).
DISAGREE_Z = 1.96


@dataclass
class Derived:
    """Every method's outcome for one comparison, in precedence order."""

    found: list[tuple[Method, Derivation]] = field(default_factory=list)
    failed: list[tuple[Method, str]] = field(default_factory=list)  # had inputs, failed
    reasons: list[str] = field(default_factory=list)  # "method: why" for each that declined


def candidates(metric: str, horizon: float | None = None) -> tuple[Method, ...]:
    """The methods that may derive a comparison of an analysis with this ``metric``.

    ``rmst_diff``: the reconstructed curves' RMST difference up to the analysis's
    ``horizon`` (km_reconstruction's declaration, with the RMST derivation).
    """
    if metric == "rmst_diff":
        return (replace(REGISTRY["km_reconstruction"], derive=rmst_method(horizon)),)
    return methods(metric)


def derive_all(comp: Comparison, metric: str, horizon: float | None = None) -> Derived:
    """Every derivation possible for the comparison, in precedence order, and why not others.

    A method that fails (``Failed``: an arithmetic failure, a non-finite result, a
    variance of 0) is recorded and the next one is tried (methods.md §1; issue 19, item 1).
    ``horizon``: the analysis's RMST horizon (months) when ``metric`` is ``rmst_diff``.
    """
    out = Derived()
    for m in candidates(metric, horizon):
        try:
            d = m(comp)
        except Failed as why:
            out.failed.append((m, str(why)))
            out.reasons.append(f"{m.name}: {why}")
            continue
        except NotEstimable as why:
            out.reasons.append(f"{m.name}: {why}")
            continue
        if metric == "log_mr":
            d.yi = d.log_mr
            d.assumptions = [a for a in d.assumptions if not a.startswith("exponential survival")]
        out.found.append((m, d))
    return out


def z_difference(a: Derivation, b: Derivation) -> float:
    """z for the difference of two derivations, (y_a - y_b) / sqrt(v_a + v_b).

    Treats the two as independent; derivations of one comparison from the same patients
    are positively correlated, so the true SE of the difference is smaller and this z
    errs toward agreement: a flag is a disagreement beyond sampling error.
    """
    return (a.yi - b.yi) / math.sqrt(a.vi + b.vi)


def _sources(comp: Comparison, m: Method) -> tuple[str, str]:
    """Where the numbers came from: the contrast's source (for methods that read it), the
    arms', and the other tables the method reads; their quotes, each once."""
    c = comp.contrast
    parts = [(c.source, c.quote)] if c is not None and "contrasts" in m.reads else []
    parts += [(comp.t.source, comp.t.quote), (comp.c.source, comp.c.quote)]
    parts += [(table, "") for table in m.reads if table not in ("contrasts", "arms")]
    src = "; ".join(dict.fromkeys(s for s, _ in parts if s))
    quote = " | ".join(dict.fromkeys(q for _, q in parts if q))
    return src, quote


def _events(arm: Arm, m: Method, estimated: float | None) -> float | None:
    """Events for effects.csv: reported (the arm's share when the method splits it), else
    the method's own estimate (e.g. median_ratio's from follow-up), else None."""
    if arm.events is not None:
        return arm.events / (arm.shared_by if m.splits else 1)
    return estimated


def _base(aid: str, comp: Comparison) -> dict:
    return {
        "analysis_id": aid,
        "study_id": comp.study_id,
        "outcome": comp.outcome,
        "treatment_arm": comp.t.arm_id,
        "control_arm": comp.c.arm_id,
    }


def _derivation_rows(aid, comp, metric, derived: Derived, best: Derivation) -> list[dict]:
    ids = {k: _base(aid, comp)[k] for k in ("analysis_id", "study_id", "treatment_arm")}
    ids["control_arm"] = comp.c.arm_id
    rows = []
    for m, d in derived.found:
        chosen = d is best
        z = None if chosen else z_difference(d, best)
        rows.append(
            {
                **ids,
                "metric": metric,
                "source_method": m.name,
                "chosen": chosen,
                "yi": d.yi,
                "vi": d.vi,
                "sei": d.vi**0.5,
                "assumptions": "; ".join(list(comp.notes) + d.assumptions),
                "reported": "; ".join(d.reported),
                "flags": "; ".join(d.flags),
                "comparison_id": comp.comparison_id,
                "status": "ok",
                "z_vs_chosen": z,
                "disagrees": None if chosen else abs(z) > DISAGREE_Z,
            }
        )
    for m, why in derived.failed:
        rows.append(
            {
                **ids,
                "metric": metric,
                "source_method": m.name,
                "chosen": False,
                "comparison_id": comp.comparison_id,
                "status": f"not estimable: {why}",
            }
        )
    order = {m.name: m.precedence for m, _ in [*derived.found, *derived.failed]}
    return sorted(rows, key=lambda r: order[r["source_method"]])


def harmonize_analysis(
    tables: dict, analysis: dict, multiarm: str, rmst: dict | None = None
) -> tuple[list[dict], list[dict], list[dict]]:
    """Rows of effects, excluded and derivations for one analysis under ``multiarm``.

    ``rmst``: the config's ``rmst:`` block (its ``horizon``, for ``metric: rmst_diff``).
    """
    studies = tables["studies"].set_index("study_id")
    metric = analysis.get("metric", "log_hr")
    aid = analysis["id"]
    effects, excluded, derivations = [], [], []
    comps = build_comparisons(tables, analysis, multiarm)
    horizon = None
    if metric == "rmst_diff":
        horizon = rmst_horizon(comps, (rmst or {}).get("horizon", "auto"))
    for comp in comps:
        derived = derive_all(comp, metric, horizon)
        base = _base(aid, comp)
        usable = [(m, d) for m, d in derived.found if not m.secondary]
        if not usable:
            reason = "not estimable: " + "; ".join(derived.reasons)
            excluded.append({**base, "reason": reason, "comparison_id": comp.comparison_id})
            continue
        m, best = usable[0]
        derivations += _derivation_rows(aid, comp, metric, derived, best)
        src, quote = _sources(comp, m)
        study = studies.loc[comp.study_id]
        effects.append(
            {
                **base,
                "treatment_class": comp.t.arm_class,
                "control_class": comp.c.arm_class,
                "modality": comp.t.modality,
                "yi": best.yi,
                "vi": best.vi,
                "sei": best.vi**0.5,
                "metric": metric,
                "source_method": best.method,
                "assumptions": "; ".join(list(comp.notes) + best.assumptions),
                "flags": "; ".join(best.flags),
                "reported": "; ".join(best.reported),
                "source": src,
                "quote": quote,
                "n_treatment": comp.t.n,
                "n_control": comp.c.n,
                "year": study["year"],
                "risk_of_bias": study["risk_of_bias"] or "unclear",
                "design": study["design"],
                "comparison_id": comp.comparison_id,
                "events_t": _events(comp.t, m, best.events[0]),
                "events_c": _events(comp.c, m, best.events[1]),
                "shared_arm": ";".join(comp.shared_arms),
                "multiarm": multiarm,
                "hazard_based": m.hazard_based,
                "ph_p": ph.p if (ph := ph_test(comp)) is not None else None,
                "rmst_horizon": horizon,
                # a studies column the analysis groups or regresses on (design.md: any)
                **{c: study[c] for c in _study_columns(analysis) if c in study.index},
            }
        )
    return effects, excluded, derivations


def _study_columns(analysis: dict) -> list[str]:
    """Columns of the studies table that the analysis's subgroups or meta-regression name."""
    named = [analysis.get("subgroups"), *(analysis.get("metareg") or [])]
    return [c for c in named if c and c not in EFFECT_COLUMNS]


def main_multiarm(config: dict) -> str:
    """How the rows of effects.csv treat shared arms: ``whole`` when the analyses are pooled
    with the multilevel model (``dependence`` auto or multilevel: methods.md §4, "Whole
    arms"; where no arm is shared, whole, split and combine give the same rows), else the
    config's ``multiarm`` (``split`` by default). A config without ``dependence`` is
    univariate, as before the multilevel model existed."""
    if config.get("dependence", "univariate") != "univariate":
        return "whole"
    return config.get("multiarm", "split")


def effects_for(tables: dict, analysis: dict, multiarm: str, rmst=None) -> pd.DataFrame:
    """The effects of one analysis with shared arms treated as ``multiarm`` says
    (``split``, ``combine`` or ``whole``): for the univariate sensitivity rows of an
    analysis pooled with the multilevel model, and the other way round."""
    if multiarm not in MULTIARM:
        raise ValueError(f"multiarm must be one of {', '.join(MULTIARM)}, not {multiarm!r}")
    effects, _, _ = harmonize_analysis(tables, analysis, multiarm, rmst)
    extra = list(dict.fromkeys(c for row in effects for c in row if c not in EFFECT_COLUMNS))
    return pd.DataFrame(effects, columns=EFFECT_COLUMNS + extra)


def harmonize(tables: dict, config: dict) -> dict[str, pd.DataFrame]:
    """effects, excluded and derivations tables for all analyses of the config."""
    multiarm = main_multiarm(config)
    effects, excluded, derivations = [], [], []
    for analysis in config["analyses"]:
        e, x, d = harmonize_analysis(tables, analysis, multiarm, config.get("rmst"))
        effects += e
        excluded += x
        derivations += d
    extra = list(dict.fromkeys(c for row in effects for c in row if c not in EFFECT_COLUMNS))
    return {
        "effects": pd.DataFrame(effects, columns=EFFECT_COLUMNS + extra),
        "excluded": pd.DataFrame(excluded, columns=EXCLUDED_COLUMNS),
        "derivations": pd.DataFrame(derivations, columns=DERIVATION_COLUMNS),
    }


__all__ = ["REGISTRY", "derive_all", "effects_for", "harmonize", "main_multiarm", "z_difference"]


def stack_effects(frames: list) -> pd.DataFrame:
    """Rows of every frame under EFFECT_COLUMNS; a column empty in one frame takes its type
    from the others (pandas' concat is changing how it types all-NA columns); extra columns
    are kept."""
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return pd.DataFrame(columns=EFFECT_COLUMNS)
    columns = list(dict.fromkeys(column for frame in frames for column in frame.columns))
    frames = [frame.dropna(axis=1, how="all") for frame in frames]
    return pd.concat(frames).reindex(columns=columns)
