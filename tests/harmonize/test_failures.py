"""A method that cannot compute says why, and the run goes on (issue 19, items 1, 3 and 10).

Each shape of issue 19's item 1 (p_events with no events in either arm, a p whose half
underflows, a median CI of zero width) is run through the whole harmonize step with a
second comparison beside it: the failing method ends as "not estimable: why" in the
audit trail, the next method derives the comparison, and the other comparison is
untouched.
"""

import numpy as np
import pytest

from survmeta.harmonize.base import Failed
from survmeta.harmonize.km_reconstruction import km_reconstruction
from survmeta.harmonize.run import harmonize
from survmeta.harmonize.survival_curve import survival_curve, survival_curve_oe
from survmeta.survival.cox import cox_loghr

from .helpers import ANALYSIS, arm, comparison, review_tables

LD, SYS = "liver_directed", "systemic"


def run(tmp_path, arms, contrasts):
    """Harmonize the failing study S1 beside a healthy study S2 (HR 0.7, 0.5-0.98)."""
    arms = [*arms, dict(study_id="S2", arm_id="t", arm_class=LD, n=80),
            dict(study_id="S2", arm_id="c", arm_class=SYS, n=80)]  # fmt: skip
    contrasts = [*contrasts, dict(study_id="S2", arm_id="t", ref_arm_id="c", hr=0.7,
                                  ci_low=0.5, ci_high=0.98)]  # fmt: skip
    out = harmonize(review_tables(tmp_path, arms, contrasts), {"analyses": [ANALYSIS]})
    eff = out["effects"].set_index("study_id")
    assert eff.loc["S2", "source_method"] == "hr_ci"  # the other study goes on
    assert eff.loc["S2", "yi"] == pytest.approx(np.log(0.7))
    der = out["derivations"]
    return eff.loc["S1"], der[der["study_id"] == "S1"].set_index("source_method")


def test_p_events_with_no_events_in_either_arm(tmp_path):
    arms = [
        dict(study_id="S1", arm_id="t", arm_class=LD, n=40, events=0, median_months=30,
             median_ci_low=20, median_ci_high=45),
        dict(study_id="S1", arm_id="c", arm_class=SYS, n=40, events=0, median_months=20,
             median_ci_low=15, median_ci_high=30),
    ]  # fmt: skip
    con = [dict(study_id="S1", arm_id="t", ref_arm_id="c", p_value="0.20", favours="t")]
    row, der = run(tmp_path, arms, con)
    assert der.loc["p_events", "status"] == (
        "not estimable: no events in either arm: the log-rank variance V = D·r/(1+r)² is 0"
    )
    assert der.loc["median_ratio", "status"].startswith("not estimable: no events in t")
    assert row["source_method"] == "median_ci"  # the next method that can
    assert np.isnan(der.loc["p_events", "yi"]) and not der.loc["p_events", "chosen"]


def test_a_p_whose_half_underflows(tmp_path):
    arms = [
        dict(study_id="S1", arm_id="t", arm_class=LD, n=300, events=150, median_months=30),
        dict(study_id="S1", arm_id="c", arm_class=SYS, n=300, events=200, median_months=12),
    ]
    con = [dict(study_id="S1", arm_id="t", ref_arm_id="c", hr=0.4, p_value="1e-320",
                favours="t")]  # fmt: skip
    row, der = run(tmp_path, arms, con)
    why = "not estimable: p = 1e-320: p/2 underflows double precision, no z can be read from it"
    assert der.loc["hr_p", "status"] == why and der.loc["p_events", "status"] == why
    assert row["source_method"] == "median_ratio"  # 1/150 + 1/200
    assert row["vi"] == pytest.approx(1 / 150 + 1 / 200)


def test_a_median_ci_of_zero_width(tmp_path):
    arms = [
        dict(study_id="S1", arm_id="t", arm_class=LD, n=50, median_months=24,
             median_ci_low=24, median_ci_high=24),
        dict(study_id="S1", arm_id="c", arm_class=SYS, n=50, median_months=12,
             median_ci_low=9, median_ci_high=16),
    ]  # fmt: skip
    con = [dict(study_id="S1", arm_id="t", ref_arm_id="c", p_value="0.01")]
    row, der = run(tmp_path, arms, con)
    assert der.loc["median_ci", "status"] == (
        "not estimable: t: median CI of zero width (24-24): se 0"
    )
    assert row["source_method"] == "median_p"
    # vi = (ln 2 / z_0.995)^2 = (0.693147 / 2.575829)^2 = 0.269097^2 = 0.072413 > 1/50 + 1/50
    assert row["vi"] == pytest.approx(0.072413, abs=1e-6)


def test_every_method_failing_excludes_the_comparison_with_each_reason(tmp_path):
    arms = [
        dict(study_id="S1", arm_id="t", arm_class=LD, n=40, events=0),
        dict(study_id="S1", arm_id="c", arm_class=SYS, n=40, events=0),
    ]
    con = [dict(study_id="S1", arm_id="t", ref_arm_id="c", p_value="0.5", favours="t")]
    out = harmonize(review_tables(tmp_path, arms, con), {"analyses": [ANALYSIS]})
    (reason,) = out["excluded"]["reason"]
    assert reason.startswith("not estimable: hr_ci: no HR with a CI;")
    assert "p_events: no events in either arm" in reason
    assert out["effects"].empty and out["excluded"]["comparison_id"].tolist() == ["S1:t-vs-c"]


# --- survival curves: the exact reason (issue 19, item 10) -------------------------------


def _curves(st, sc):
    t = arm("treated", n=50, survival=tuple(zip((12.0, 24.0), st, strict=True)))
    c = arm("control", n=50, survival=tuple(zip((12.0, 24.0), sc, strict=True)))
    return comparison(t, c)


def test_survival_curve_names_the_arm_without_deaths():
    comp = _curves((1.0, 1.0), (0.8, 0.6))
    with pytest.raises(Failed) as err:
        survival_curve(comp)
    assert str(err.value) == (
        "no deaths in treated within follow-up (S = 1 at every time read), while the other "
        "arm had some: the hazard ratio is 0 or infinite"
    )
    assert survival_curve_oe(comp).yi < 0  # the O - E form is finite (Peto)


def test_survival_curve_with_no_deaths_at_all():
    with pytest.raises(Failed, match="no deaths in either arm"):
        survival_curve(_curves((1.0, 1.0), (1.0, 1.0)))


# --- the Cox fit on reconstructed patients (issue 19, item 3) ------------------------------


def test_cox_refuses_complete_separation():
    # every control death (at 7, 8, 9) after the last treated patient left (at 5):
    # the partial likelihood rises for ever with the log HR (R's coxph on these data warns
    # "coefficient may be infinite" and stops at 21.85 with var 4.3e8)
    with pytest.raises(ValueError, match=r"complete separation: every control death .*\+inf"):
        cox_loghr([1, 2, 3, 4, 5], [1, 1, 1, 0, 1], [7, 8, 9, 10], [1, 1, 1, 0])
    # one control at risk at the first treated death is enough for a finite estimate
    yi, vi = cox_loghr([1, 2, 3, 4, 5], [1, 1, 1, 0, 1], [1, 8, 9, 10], [1, 1, 1, 0])
    assert np.isfinite(yi) and 0 < vi < 10


def test_km_reconstruction_with_separated_arms_is_not_estimable():
    # treated: everyone dies by 6 months; control: no one dies before 12
    t = arm("t", n=10, km=((0, 1.0), (2, 0.6), (4, 0.3), (6, 0.0)), at_risk=((0, 10),))
    c = arm("c", n=10, km=((0, 1.0), (12, 1.0), (18, 0.5), (24, 0.5)), at_risk=((0, 10),))
    with pytest.raises(Failed, match="reconstructed patients: complete separation"):
        km_reconstruction(comparison(t, c))
