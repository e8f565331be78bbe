"""What the harmonize step writes per comparison: ids, events, shared arms, modes, disagreement."""

import math

import pytest

from survmeta.harmonize.comparisons import build_comparisons
from survmeta.harmonize.run import effects_for, harmonize, main_multiarm

from .helpers import ANALYSIS, review_tables

LD, SYS = "liver_directed", "systemic"

#: A three-arm trial: two treatment arms against one control arm that both share.
THREE_ARMS = [
    dict(study_id="Trial", arm_id="t1", arm_class=LD, modality="resection", n=60, events=30,
         median_months=30),
    dict(study_id="Trial", arm_id="t2", arm_class=LD, modality="ablation", n=40, events=25,
         median_months=24),
    dict(study_id="Trial", arm_id="ctl", arm_class=SYS, n=200, events=120, median_months=18),
]  # fmt: skip
PAIR_P = [
    dict(study_id="Trial", arm_id="t1", ref_arm_id="ctl", p_value="0.01", favours="t1"),
    dict(study_id="Trial", arm_id="t2", ref_arm_id="ctl", p_value="0.20", favours="t2"),
]


@pytest.fixture
def tables(tmp_path):
    return review_tables(tmp_path, THREE_ARMS, PAIR_P)


def test_comparison_ids_events_and_shared_arms_when_split(tables):
    eff = effects_for(tables, ANALYSIS, "split").set_index("comparison_id")
    assert list(eff.index) == ["Trial:t1-vs-ctl", "Trial:t2-vs-ctl"]
    assert set(eff["source_method"]) == {"p_events"} and eff["hazard_based"].all()
    assert list(eff["shared_arm"]) == ["ctl", "ctl"]
    assert list(eff["multiarm"]) == ["split", "split"]
    # the shared control's 120 events are divided between the two comparisons
    assert list(eff["events_t"]) == [30, 25] and list(eff["events_c"]) == [60, 60]


def test_whole_keeps_the_shared_arm_whole_and_the_estimate_of_split(tables):
    split = effects_for(tables, ANALYSIS, "split").set_index("comparison_id")
    whole = effects_for(tables, ANALYSIS, "whole").set_index("comparison_id")
    assert list(whole["events_c"]) == [120, 120] and list(whole["shared_arm"]) == ["ctl", "ctl"]
    # a p belongs to its own test: yi from the whole arms either way; only vi splits.
    # t1 vs ctl whole: D = 150, r = 0.3, V = 150 * 0.3 / 1.69 = 26.627219;
    #   yi = -2.575829 / sqrt(26.627219) = -0.499177; 1/V = 0.037556 is below the whole
    #   arms' bound 1/30 + 1/120 = 0.041667: floored there
    # split: D = 30 + 60 = 90, r = 0.6, V = 90 * 0.6 / 2.56 = 21.09375, vi = 0.047407;
    #   its bound 1/30 + 1/60 = 0.05 is larger: floored there (and flagged)
    assert whole.loc["Trial:t1-vs-ctl", "yi"] == pytest.approx(-0.499177, abs=1e-6)
    assert split.loc["Trial:t1-vs-ctl", "yi"] == whole.loc["Trial:t1-vs-ctl", "yi"]
    assert whole.loc["Trial:t1-vs-ctl", "vi"] == pytest.approx(1 / 30 + 1 / 120)
    assert split.loc["Trial:t1-vs-ctl", "vi"] == pytest.approx(1 / 30 + 1 / 60)
    assert "floored" in split.loc["Trial:t1-vs-ctl", "flags"]
    assert "kept whole" in whole.loc["Trial:t1-vs-ctl", "assumptions"]


def test_combine_merges_the_treatment_arms(tables):
    (comp,) = build_comparisons(tables, ANALYSIS, "combine")
    assert comp.comparison_id == "Trial:t1+t2-vs-ctl" and comp.shared_arms == ()
    assert (comp.t.n, comp.t.events, comp.t.median) == (100, 55, None)
    # the p's were of each pair and medians are not combined: nothing left to derive from
    out = harmonize(tables, {"analyses": [ANALYSIS], "multiarm": "combine"})
    assert out["effects"].empty
    assert list(out["excluded"]["comparison_id"]) == ["Trial:t1+t2-vs-ctl"]


def test_an_unknown_mode_is_refused(tables):
    with pytest.raises(ValueError, match="multiarm must be one of split, combine, whole"):
        effects_for(tables, ANALYSIS, "merge")


@pytest.mark.parametrize(
    "config,mode",
    [
        ({}, "split"),
        ({"multiarm": "combine"}, "combine"),
        ({"dependence": "univariate", "multiarm": "combine"}, "combine"),
        ({"dependence": "auto", "multiarm": "split"}, "whole"),
        ({"dependence": "multilevel"}, "whole"),
    ],
)
def test_the_main_rows_are_whole_when_pooled_with_the_multilevel_model(config, mode):
    assert main_multiarm(config) == mode


def test_disagreement_of_two_derivations(tmp_path):
    arms = [
        dict(study_id="S", arm_id="t", arm_class=LD, n=100, events=40, median_months=36),
        dict(study_id="S", arm_id="c", arm_class=SYS, n=100, events=50, median_months=12),
    ]
    con = [dict(study_id="S", arm_id="t", ref_arm_id="c", hr=0.8, ci_low=0.6, ci_high=1.07)]
    out = harmonize(review_tables(tmp_path, arms, con), {"analyses": [ANALYSIS]})
    der = out["derivations"].set_index("source_method")
    # hr_ci: yi = ln 0.8 = -0.223144, vi = ((ln 1.07 - ln 0.6) / 3.919928)^2 = 0.021778
    # median_ratio: yi = -ln 3 = -1.098612, vi = 1/40 + 1/50 = 0.045
    # z = (-1.098612 + 0.223144) / sqrt(0.045 + 0.021778) = -0.875468 / 0.258415 = -3.387837
    vi_ci = ((math.log(1.07) - math.log(0.6)) / 3.919928) ** 2
    assert der.loc["hr_ci", "vi"] == pytest.approx(vi_ci, rel=1e-6)
    assert der.loc["median_ratio", "z_vs_chosen"] == pytest.approx(-3.387837, abs=1e-5)
    assert der.loc["median_ratio", "disagrees"] == True  # noqa: E712 (a cell, not a flag)
    assert der.loc["hr_ci", "chosen"] and math.isnan(der.loc["hr_ci", "z_vs_chosen"])
    row = out["effects"].iloc[0]
    assert row["hazard_based"] and row["comparison_id"] == "S:t-vs-c"
    assert (row["events_t"], row["events_c"]) == (40, 50)


def test_events_estimated_by_the_chosen_method(tmp_path):
    # no events reported: median_ratio estimates them from follow-up (hand value of
    # methods.md: n 100, M 12, F 24 -> 66.1868), and effects.csv carries them
    arms = [
        dict(study_id="S", arm_id="t", arm_class=LD, n=100, median_months=12,
             followup_months=24),
        dict(study_id="S", arm_id="c", arm_class=SYS, n=100, median_months=12,
             followup_months=24),
    ]  # fmt: skip
    row = harmonize(review_tables(tmp_path, arms), {"analyses": [ANALYSIS]})["effects"].iloc[0]
    assert row["source_method"] == "median_ratio" and not row["hazard_based"]
    assert (row["events_t"], row["events_c"]) == pytest.approx((66.1868, 66.1868), abs=1e-4)
