"""A draft certainty-of-evidence rating in the GRADE manner, by stated rules.

GRADE (Guyatt et al. 2011) is a judgement; this module only proposes one, with the rule
and the numbers behind each domain, for reviewers to check and overrule. Evidence from
randomized trials starts at high certainty, from observational studies at low; each
domain may rate it down by one or two levels:

- risk of bias: the share of the pooled weight from comparisons at serious or critical
  risk of bias (> 50%: serious; > 50% critical: very serious);
- inconsistency: I² and the prediction interval (I² ≥ 75% with a PI that crosses no
  effect: very serious; I² ≥ 50%, or a PI that crosses no effect while the CI does not:
  serious); for the multilevel model, which has no I², the prediction interval alone;
  comparisons whose proportional-hazards test gave p < 0.05 are named (their HR averages
  effects that change over time);
- indirectness: not rated by rule (the reviewers judge populations and comparators);
- imprecision: the main analysis's CI against no effect (crosses 1: serious; also spans
  both 0.8 and 1.25, appreciable benefit and harm: very serious; for an RMST difference the
  CI against 0 months);
- publication bias: Egger's or Begg's test at p < 0.10 (suspected: rate down one); with
  fewer than 10 studies the tests have little power and the domain is not rated down but
  marked as not reliably assessable.

Every count is of studies, not comparisons: a three-arm trial is one study.
"""

from __future__ import annotations

import pandas as pd

from ..figures.data import status_ok
from ..numbers import Scale, finite, ratio


def _ph_flags(rows: pd.DataFrame) -> list[str]:
    """Comparisons whose proportional-hazards test gave p < 0.05 (methods.md section 6)."""
    if "ph_p" not in rows:
        return []
    p = pd.to_numeric(rows["ph_p"], errors="coerce")
    return [f"{r.study_id} (p = {pv:.3f})" for r, pv in zip(rows.itertuples(), p, strict=True)
            if pv < 0.05]  # fmt: skip


LEVELS = ("high", "moderate", "low", "very low")
SYMBOLS = {"high": "⊕⊕⊕⊕", "moderate": "⊕⊕⊕◯", "low": "⊕⊕◯◯", "very low": "⊕◯◯◯"}
_APPRECIABLE = (0.8, 1.25)


def _domain(name, judgement, down, reason):
    return {"domain": name, "judgement": judgement, "downgrade": down, "reason": reason}


def risk_of_bias(rows: pd.DataFrame) -> dict:
    rob = rows.get("risk_of_bias", pd.Series("unclear", index=rows.index)).fillna("unclear")
    rob = rob.astype(str).str.lower()
    w = pd.to_numeric(rows["weight"], errors="coerce") if "weight" in rows else None
    if w is None or not w.notna().all() or w.sum() <= 0:
        w = pd.Series(1.0, index=rows.index)
    w = w / w.sum()
    serious = float(w[rob.isin(["serious", "critical"])].sum())
    critical = float(w[rob == "critical"].sum())
    counts = ", ".join(f"{v} {k}" for k, v in rob.value_counts().sort_index().items())
    reason = (
        f"{serious:.0%} of the weight from comparisons at serious or critical risk of bias "
        f"({counts})."
    )
    if critical > 0.5:
        return _domain("Risk of bias", "very serious", 2, reason)
    if serious > 0.5:
        return _domain("Risk of bias", "serious", 1, reason)
    return _domain("Risk of bias", "not serious", 0, reason)


def _crosses(lo, hi) -> bool:
    return finite(lo) and finite(hi) and float(lo) < 0 < float(hi)


def inconsistency(fit: dict | None, scale: Scale | None = None, ph: list[str] = ()) -> dict:
    """I² and the PI (methods above); ``ph``: comparisons with a PH test p < 0.05."""
    scale = scale or Scale()
    note = (
        f" Non-proportional hazards (PH test p < 0.05) in {', '.join(ph)}: "
        "its hazard ratio averages an effect that changes over time (read the RMST)."
        if ph
        else ""
    )
    mv = fit is not None and str(fit.get("model")) == "rma.mv"
    if (
        fit is None
        or not finite(fit.get("k_studies", fit.get("k")))
        or (not mv and (fit["k"] < 2 or not finite(fit.get("i2"))))
    ):
        return _domain("Inconsistency", "not applicable", 0, "Single comparison." + note)
    if mv and int(fit["k_studies"]) < 2:
        return _domain("Inconsistency", "not applicable", 0, "Single study." + note)
    pi_x = _crosses(fit.get("pi_low"), fit.get("pi_high"))
    ci_x = _crosses(fit.get("ci_low"), fit.get("ci_high"))
    pi = (
        scale.interval(fit.get("pi_low"), fit.get("pi_high"))
        if finite(fit.get("pi_low"))
        else ("not available")
    )
    crosses = f"prediction interval {pi}{' crosses' if pi_x else ' does not cross'} no effect."
    if mv:
        reason = (
            f"Multilevel model: σ² between studies {fit.get('sigma2_study'):.3g}, between "
            f"comparisons {fit.get('sigma2_comparison'):.3g} (no I²); {crosses}{note}"
        )
        down = 1 if pi_x and not ci_x else 0
        return _domain("Inconsistency", "serious" if down else "not serious", down, reason)
    i2 = float(fit["i2"])
    reason = f"I² = {i2:.0f}%; {crosses}{note}"
    if i2 >= 75 and pi_x:
        return _domain("Inconsistency", "very serious", 2, reason)
    if i2 >= 50 or (pi_x and not ci_x):
        return _domain("Inconsistency", "serious", 1, reason)
    return _domain("Inconsistency", "not serious", 0, reason)


def imprecision(fit: dict | None, scale: Scale | None = None) -> dict:
    """The main analysis's CI (the model and test the review's ``pooling`` names)."""
    scale = scale or Scale()
    if fit is None or not finite(fit.get("ci_low")) or not finite(fit.get("ci_high")):
        return _domain("Imprecision", "not rated", 0, "No confidence interval.")
    if str(fit.get("ci_low")) == str(fit.get("ci_high")):
        return _domain(
            "Imprecision", "not rated", 0,
            "The CI has zero width (every estimate equal under the Hartung-Knapp test): not a "
            "finding about precision.",
        )  # fmt: skip
    reason = f"CI {scale.interval(fit['ci_low'], fit['ci_high'])}"
    if not scale.ratio:
        if float(fit["ci_low"]) < 0 < float(fit["ci_high"]):
            return _domain("Imprecision", "serious", 1, reason + " includes no difference.")
        return _domain("Imprecision", "not serious", 0, reason + " excludes no difference.")
    lo, hi = ratio(fit["ci_low"]), ratio(fit["ci_high"])
    if lo < 1 < hi:
        if lo < _APPRECIABLE[0] and hi > _APPRECIABLE[1]:
            return _domain(
                "Imprecision",
                "very serious",
                2,
                reason + " includes no effect and both appreciable benefit (0.8) and harm (1.25).",
            )
        return _domain("Imprecision", "serious", 1, reason + " includes no effect.")
    return _domain("Imprecision", "not serious", 0, reason + " excludes no effect.")


def publication_bias(k: int, regtest=None, ranktest=None, trimfill=None) -> dict:
    bits = []
    low_p = False
    for name, df in (("Egger", regtest), ("Begg", ranktest)):
        ok, why = status_ok(df)
        if ok and finite(df.iloc[0].get("pval")):
            p = float(df.iloc[0]["pval"])
            bits.append(f"{name} p = {p:.3f}")
            low_p |= p < 0.10
        else:
            bits.append(f"{name}: {why}")
    ok, _ = status_ok(trimfill)
    if ok and finite(trimfill.iloc[0].get("k0")):
        bits.append(f"trim-and-fill k0 = {int(trimfill.iloc[0]['k0'])}")
    reason = "; ".join(bits) + "."
    if k < 10:
        return _domain(
            "Publication bias",
            "not reliably assessable",
            0,
            f"Only {k} stud{'ies' if k != 1 else 'y'} (the tests have little power below 10"
            f"{'; a p < 0.10 here is a warning, not evidence' if low_p else ''}): " + reason,
        )
    if low_p:
        return _domain("Publication bias", "suspected", 1, reason)
    return _domain("Publication bias", "undetected", 0, reason)


def grade_draft(
    rows: pd.DataFrame,
    fit: dict | None,
    sensitivity: dict[str, pd.DataFrame] | None = None,
    scale: Scale | None = None,
) -> dict:
    """Draft GRADE domains and overall certainty for one analysis.

    ``rows``: the analysis's comparisons (``study_id``, ``design``, ``risk_of_bias``,
    ``weight``, ``ph_p``); ``fit``: its main pooled row (or None); ``sensitivity``: its
    regtest, ranktest and trimfill tables; ``scale``: how its effects read.
    """
    sens = sensitivity or {}
    designs = set(rows.get("design", pd.Series(dtype=str)).dropna().astype(str).str.lower())
    rct = bool(designs) and designs == {"rct"}
    start = "high" if rct else "low"
    domains = [
        risk_of_bias(rows),
        inconsistency(fit, scale, _ph_flags(rows)),
        _domain(
            "Indirectness",
            "not rated",
            0,
            "For the reviewers: do the populations, interventions and comparators "
            "(study table) answer the review question?",
        ),
        imprecision(fit, scale),
        publication_bias(
            rows["study_id"].nunique() if "study_id" in rows else len(rows),
            sens.get("regtest"),
            sens.get("ranktest"),
            sens.get("trimfill"),
        ),  # fmt: skip
    ]
    down = sum(d["downgrade"] for d in domains)
    final = LEVELS[min(len(LEVELS) - 1, LEVELS.index(start) + down)]
    return {
        "start": start,
        "start_reason": "randomized trials" if rct else "observational studies (or a mix)",
        "domains": domains,
        "downgrade": down,
        "certainty": final,
        "symbol": SYMBOLS[final],
    }
