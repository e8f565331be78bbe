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
