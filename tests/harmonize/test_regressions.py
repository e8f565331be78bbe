"""Issue 16, items 1-3, on patients simulated in R and held against their own Cox model.

Fixture: tests/fixtures/harmonize_regressions.json, made by
tests/fixtures/harmonize_regressions.R (survival::coxph with Breslow ties on the
simulated patients; p from survdiff; summaries rounded as papers print them). Each
case is entered as a team would enter the paper (CSV tables, validated) and run
through the harmonize step.
"""

import json
import math
from pathlib import Path
from statistics import NormalDist

import pytest

from survmeta.harmonize import medians
from survmeta.harmonize.run import harmonize

from .helpers import ANALYSIS, arm, comparison, contrast, review_tables

FIXTURE = Path(__file__).parents[1] / "fixtures" / "harmonize_regressions.json"
CASES = json.loads(FIXTURE.read_text())["cases"]
CLASS = {"treated": "liver_directed", "control": "systemic"}


def z_two_sided(p: float) -> float:
    return NormalDist().inv_cdf(1 - p / 2)


def test_item1_a_trial_closed_on_one_date(tmp_path):
    """Minimum = maximum follow-up used to divide by zero and end the whole run."""
    case = CASES["closed_on_one_date"]
    arms, points = [], []
    for a in case["arms"]:
        arms.append(dict(study_id="Closed", arm_id=a["arm_id"], arm_class=CLASS[a["arm_id"]],
                         n=a["n"], followup_min_months=a["followup_min"],
                         followup_max_months=a["followup_max"]))  # fmt: skip
        points += [
            dict(study_id="Closed", arm_id=a["arm_id"], time_months=t, surv_prop=s)
            for t, s in zip(a["times"], a["surv"], strict=True)
        ]
    out = harmonize(review_tables(tmp_path, arms, survival=points), {"analyses": [ANALYSIS]})
    (row,) = out["effects"].itertuples()
    assert row.source_method == "survival_curve" and "point mass" in row.assumptions
    se_cox = math.sqrt(case["cox_var"])
    # the derived log HR lies within half a Cox SE of the patients' Cox estimate, and its
    # SE within 10% of the Cox SE (-0.203 +- 0.148 here)
    assert abs(row.yi - case["cox_coef"]) < 0.5 * se_cox
    assert abs(math.sqrt(row.vi) / se_cox - 1) < 0.10


def _near_equal(events: bool):
    case = CASES["near_equal_medians"]
    t, c = case["arms"]
    kw_t = dict(n=t["n"], median=t["median"], events=t["events"] if events else None)
    kw_c = dict(n=c["n"], median=c["median"], events=c["events"] if events else None)
    return case, comparison(arm("treated", **kw_t), arm("control", **kw_c), contrast(p=case["p"]))


def test_item2_median_p_claims_no_more_than_the_arms_hold():
    """Near-equal medians with a moderate p: the p-built SE collapsed (here 8x too small)."""
    case, comp = _near_equal(events=True)
    t, c = case["arms"]
    naive = (math.log(t["median"] / c["median"]) / z_two_sided(float(case["p"]))) ** 2
    assert naive < case["cox_var"] / 16  # as the fixture chose: the collapse of issue 16
    d = medians.median_p(comp)
    # floored at 1/E_T + 1/E_C, which the patients' Cox variance is never below
    assert d.vi == pytest.approx(1 / t["events"] + 1 / c["events"])
    assert case["cox_var"] >= d.vi * 0.98 and d.vi >= case["cox_var"] * 0.95
    assert d.flags and "floored" in d.flags[0]


def test_item2_without_events_the_n_bound_still_caps_the_weight(tmp_path):
    case, _ = _near_equal(events=False)
    arms = [dict(study_id="Cohort", arm_id=a["arm_id"], arm_class=CLASS[a["arm_id"]], n=a["n"],
                 median_months=a["median"]) for a in case["arms"]]  # fmt: skip
    con = [dict(study_id="Cohort", arm_id="treated", ref_arm_id="control", p_value=case["p"])]
    out = harmonize(review_tables(tmp_path, arms, con), {"analyses": [ANALYSIS]})
    (row,) = out["effects"].itertuples()
    assert row.source_method == "median_p" and "floored" in row.flags
    assert row.vi == pytest.approx(1 / 1500 + 1 / 1500)
    # the weight it gets is at most 1.7 times the patients' (it was 69 times)
    assert case["cox_var"] / row.vi < 1.7


def test_item3_p_events_of_a_three_arm_trial_takes_yi_from_the_whole_arms(tmp_path):
    case = CASES["three_arm_shared"]
    cls = {"arm_a": "liver_directed", "arm_b": "liver_directed", "control": "systemic"}
    arms = [dict(study_id="Three", arm_id=a["arm_id"], arm_class=cls[a["arm_id"]], n=a["n"],
                 events=a["events"]) for a in case["arms"]]  # fmt: skip
    con = [dict(study_id="Three", arm_id=k["arm_id"], ref_arm_id=k["ref_arm_id"],
                p_value=k["p"], favours=k["favours"]) for k in case["comparisons"]]  # fmt: skip
    out = harmonize(review_tables(tmp_path, arms, con), {"analyses": [ANALYSIS]})
    eff = out["effects"].set_index("treatment_arm")
    n = {a["arm_id"]: a["n"] for a in case["arms"]}
    e = {a["arm_id"]: a["events"] for a in case["arms"]}
    for k in case["comparisons"]:
        row = eff.loc[k["arm_id"]]
        assert row["source_method"] == "p_events" and row["shared_arm"] == "control"
        z = z_two_sided(float(k["p"]))
        # the test was run on the whole arms: D = E_T + E_C, r = n_T / n_C
        d, r = e[k["arm_id"]] + e["control"], n[k["arm_id"]] / n["control"]
        whole = -z / math.sqrt(d * r / (1 + r) ** 2)
        # what splitting both estimate and variance gave (the control's 200 and its events
        # halved): an estimate moved away from 1
        d2, r2 = e[k["arm_id"]] + e["control"] / 2, n[k["arm_id"]] / (n["control"] / 2)
        split_both = -z / math.sqrt(d2 * r2 / (1 + r2) ** 2)
        assert row["yi"] == pytest.approx(whole, rel=1e-9)
        assert abs(split_both) > abs(whole)
        assert abs(row["yi"] - k["cox_coef"]) < abs(split_both - k["cox_coef"])
        assert abs(row["yi"] - k["cox_coef"]) < 0.5 * math.sqrt(k["cox_var"])
        # vi carries the split: at least the split arms' information bound 1/E_T + 2/E_C
        assert row["vi"] >= 1 / e[k["arm_id"]] + 2 / e["control"] - 1e-12
