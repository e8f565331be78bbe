"""Build comparisons by hand for the worked examples."""

from survmeta.harmonize.comparisons import Arm, Comparison, Contrast
from survmeta.pvalues import parse_p


def arm(arm_id="t", **kw):
    base = dict(
        arm_id=arm_id,
        arm_class="x",
        modality="mixed",
        n=None,
        events=None,
        median=None,
        median_ci_low=None,
        median_ci_high=None,
        followup=None,
        followup_min=None,
        followup_max=None,
    )
    base.update(kw)
    return Arm(**base)


def contrast(
    hr=None,
    lo=None,
    hi=None,
    level=0.95,
    p=None,
    ome=None,
    var=None,
    events=None,
    favours=None,
    inverted=False,
):
    return Contrast(
        hr=hr,
        ci_low=lo,
        ci_high=hi,
        ci_level=level,
        p=parse_p(p) if p else None,
        p_text=p or "",
        o_minus_e=ome,
        logrank_var=var,
        events_total=events,
        favours_treatment=favours,
        inverted=inverted,
    )


def comparison(t=None, c=None, con=None):
    return Comparison("S", "os", t or arm("t"), c or arm("c"), con)


def review_tables(tmp_path, arms, contrasts=(), survival=(), studies=None) -> dict:
    """Validated tables of a small review written as a team would (CSV, then load_inputs).

    ``arms``: dicts with at least study_id, arm_id, arm_class, n (outcome os, modality
    mixed by default); ``contrasts`` and ``survival`` (survival_points rows) optional.
    """
    import pandas as pd

    from survmeta.validate import load_inputs

    arms = [{"outcome": "os", "modality": "mixed", **a} for a in arms]
    if studies is None:
        ids = dict.fromkeys(a["study_id"] for a in arms)
        studies = [dict(study_id=s, citation=s, year=2020, design="rct") for s in ids]
    inputs = {"studies": studies, "arms": arms}
    if contrasts:
        inputs["contrasts"] = [{"outcome": "os", **c} for c in contrasts]
    if survival:
        inputs["survival_points"] = [{"outcome": "os", **s} for s in survival]
    for name, rows in inputs.items():
        pd.DataFrame(list(rows)).to_csv(tmp_path / f"{name}.csv", index=False)
    return load_inputs({name: f"{name}.csv" for name in inputs}, tmp_path)


ANALYSIS = {"id": "a", "outcome": "os", "treatment": "liver_directed", "control": "systemic"}
