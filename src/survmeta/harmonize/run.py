"""Apply the methods, in precedence order, to every comparison of every analysis."""

from __future__ import annotations

import pandas as pd

from . import MEDIAN_METHODS, METHODS, SECONDARY
from .base import Derivation, NotEstimable
from .comparisons import Comparison, build_comparisons
from .km_reconstruction import ph_test, rmst_horizon, rmst_method

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
]


def derive_all(
    comp: Comparison, metric: str, horizon: float | None = None
) -> tuple[list[Derivation], list[str]]:
    """Every derivation possible for the comparison, in precedence order, and why not others.

    ``horizon``: the analysis's RMST horizon (months) when ``metric`` is ``rmst_diff``.
    """
    if metric == "rmst_diff":
        methods = (rmst_method(horizon),)
    else:
        methods = MEDIAN_METHODS if metric == "log_mr" else METHODS
    found, reasons = [], []
    for method in methods:
        try:
            d = method(comp)
        except NotEstimable as why:
            reasons.append(f"{method.__name__}: {why}")
            continue
        if metric == "log_mr":
            d.yi = d.log_mr
            d.assumptions = [a for a in d.assumptions if not a.startswith("exponential survival")]
        found.append(d)
    return found, reasons


def _sources(comp: Comparison, d: Derivation) -> tuple[str, str]:
    c = comp.contrast
    if c is not None and d.method in ("hr_ci", "hr_p", "logrank_oe", "p_events", "median_p"):
        parts = [(c.source, c.quote)]
    else:
        parts = []
    parts += [(comp.t.source, comp.t.quote), (comp.c.source, comp.c.quote)]
    if d.method.startswith("survival_curve"):
        parts.append(("survival_points", ""))
    if d.method == "km_reconstruction":
        parts.append(("km_points, km_at_risk", ""))
    src = "; ".join(dict.fromkeys(s for s, _ in parts if s))
    quote = " | ".join(dict.fromkeys(q for _, q in parts if q))
    return src, quote


def harmonize(tables: dict, config: dict) -> dict[str, pd.DataFrame]:
    """effects, excluded and derivations tables for all analyses of the config."""
    studies = tables["studies"].set_index("study_id")
    multiarm = config.get("multiarm", "split")
    effects, excluded, derivations = [], [], []
    for analysis in config["analyses"]:
        metric = analysis.get("metric", "log_hr")
        aid = analysis["id"]
        comps = build_comparisons(tables, analysis, multiarm)
        horizon = None
        if metric == "rmst_diff":
            horizon = rmst_horizon(comps, (config.get("rmst") or {}).get("horizon", "auto"))
        for comp in comps:
            found, reasons = derive_all(comp, metric, horizon)
            base = {
                "analysis_id": aid,
                "study_id": comp.study_id,
                "outcome": comp.outcome,
                "treatment_arm": comp.t.arm_id,
                "control_arm": comp.c.arm_id,
            }
            usable = [d for d in found if d.method not in SECONDARY]
            if not usable:
                excluded.append({**base, "reason": "not estimable: " + "; ".join(reasons)})
                continue
            best = usable[0]
            for d in found:
                derivations.append(
                    {
                        **{
                            k: base[k]
                            for k in ("analysis_id", "study_id", "treatment_arm", "control_arm")
                        },
                        "metric": metric,
                        "source_method": d.method,
                        "chosen": d is best,
                        "yi": d.yi,
                        "vi": d.vi,
                        "sei": d.vi**0.5,
                        "assumptions": "; ".join(list(comp.notes) + d.assumptions),
                        "reported": "; ".join(d.reported),
                        "flags": "; ".join(d.flags),
                    }
                )
            src, quote = _sources(comp, best)
            study = studies.loc[comp.study_id]
            modality = comp.t.modality
            effects.append(
                {
                    **base,
                    "treatment_class": comp.t.arm_class,
                    "control_class": comp.c.arm_class,
                    "modality": modality,
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
                    "ph_p": ph.p if (ph := ph_test(comp)) is not None else None,
                    "rmst_horizon": horizon,
                }
            )
    return {
        "effects": pd.DataFrame(effects, columns=EFFECT_COLUMNS),
        "excluded": pd.DataFrame(excluded, columns=EXCLUDED_COLUMNS),
        "derivations": pd.DataFrame(derivations, columns=DERIVATION_COLUMNS),
    }


__all__ = ["harmonize", "derive_all"]
