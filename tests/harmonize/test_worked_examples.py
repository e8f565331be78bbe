"""Each harmonization formula against values computed by hand (methods.md section 1)."""

import math

import pytest

from survmeta.harmonize import hazard_ratio as hr
from survmeta.harmonize import medians
from survmeta.harmonize.base import NotEstimable

from .helpers import arm, comparison, contrast


def test_hr_ci_hand_value():
    # 0.62 (0.45-0.85): ln 0.62 = -0.478036; se = (ln .85 - ln .45) / (2 * 1.959964) = 0.162245
    d = hr.hr_ci(comparison(con=contrast(0.62, 0.45, 0.85)))
    assert d.yi == pytest.approx(-0.478036, abs=1e-6)
    assert d.vi == pytest.approx(0.0263234, abs=1e-7)


def test_hr_ci_other_level_uses_its_quantile():
    # a 90% CI: z = 1.644854, so se = (ln 2 - ln 1) / (2 * 1.644854) = 0.210703
    d = hr.hr_ci(comparison(con=contrast(1.4, 1.0, 2.0, level=0.90)))
    assert math.sqrt(d.vi) == pytest.approx(math.log(2) / (2 * 1.6448536), rel=1e-6)


def test_hr_ci_reported_the_other_way_round_is_inverted():
    # the paper gives control vs treatment 2.0 (1.25-3.2): treatment vs control is 0.5 (0.3125-0.8)
    d = hr.hr_ci(comparison(con=contrast(0.5, 1 / 3.2, 1 / 1.25, inverted=True)))
    assert d.yi == pytest.approx(math.log(0.5))
    assert any("inverted" in a for a in d.assumptions)


def test_hr_p_hand_value():
    # 0.70, p = .03: z = 2.170090, vi = (ln 0.7 / z)^2 = (-0.356675 / 2.170090)^2 = 0.0270140
    d = hr.hr_p(comparison(con=contrast(0.70, p=".03")))
    assert d.vi == pytest.approx(0.0270140, abs=1e-7)


def test_hr_p_bound_is_used_and_recorded():
    d = hr.hr_p(comparison(con=contrast(0.5, p="<0.001")))
    assert d.vi == pytest.approx((math.log(0.5) / 3.290527) ** 2, rel=1e-6)
    assert any("bound" in a for a in d.assumptions)


@pytest.mark.parametrize("hr_value,p", [(1.00, "0.8"), (0.8, "1")])
def test_hr_p_rounded_to_null_is_not_estimable(hr_value, p):
    with pytest.raises(NotEstimable):
        hr.hr_p(comparison(con=contrast(hr_value, p=p)))


def test_logrank_oe_hand_value():
    # O-E = -8, V = 20: yi = -0.4, vi = 0.05
    d = hr.logrank_oe(comparison(con=contrast(ome=-8, var=20)))
    assert (d.yi, d.vi) == pytest.approx((-0.4, 0.05))


def test_p_events_hand_value():
    # p = 0.02, D = 120, r = 2, T better: V = 120*2/9 = 26.6667; O-E = -sqrt(V)*2.326348
    t, c = arm("t", n=200), arm("c", n=100)
    d = hr.p_events(comparison(t, c, contrast(p="0.02", events=120, favours=True)))
    assert d.yi == pytest.approx(-0.450495, abs=1e-6)
    assert d.vi == pytest.approx(0.0375, abs=1e-9)


def test_p_events_p_of_one_is_zero_effect():
    t, c = arm("t", n=50), arm("c", n=50)
    d = hr.p_events(comparison(t, c, contrast(p="1", events=40)))
    assert d.yi == 0 and d.vi == pytest.approx(1 / 10)


def test_median_ratio_hand_value():
    # 18 vs 12 months, events 40/50: yi = -ln 1.5 = -0.405465, vi = 1/40 + 1/50 = 0.045
    d = medians.median_ratio(
        comparison(arm("t", median=18, events=40), arm("c", median=12, events=50))
    )
    assert (d.yi, d.vi) == pytest.approx((-0.405465, 0.045), abs=1e-6)
    assert d.log_mr == pytest.approx(0.405465, abs=1e-6)


def test_events_from_followup_hand_value():
    # n = 100, M = 12, F = 24: 2 lambda F = 2 ln 2 * 2 = 2.772589, E = 100 (1 - 0.9375/2.772589)
    assert medians.events_from_followup(100, 12, 24) == pytest.approx(66.1868, abs=1e-4)


def test_median_ratio_splits_a_shared_arm():
    # shared control arm used by 2 comparisons: its events are halved (Cochrane 23.3.4)
    t = arm("t", median=18, events=40)
    c = arm("c", median=12, events=100, shared_by=2)
    assert medians.median_ratio(comparison(t, c)).vi == pytest.approx(1 / 40 + 1 / 50)


def test_median_ratio_needs_events_or_followup():
    with pytest.raises(NotEstimable):
        medians.median_ratio(comparison(arm("t", median=18, n=30), arm("c", median=12, n=30)))


def test_median_ci_hand_value():
    # T: 134 (94-173), C: 76 (53-99): se = ln(U/L) / 3.919928
    t = arm("t", median=134, median_ci_low=94, median_ci_high=173)
    c = arm("c", median=76, median_ci_low=53, median_ci_high=99)
    d = medians.median_ci(comparison(t, c))
    se_t, se_c = math.log(173 / 94) / 3.919928, math.log(99 / 53) / 3.919928
    assert d.yi == pytest.approx(-math.log(134 / 76))
    assert d.vi == pytest.approx(se_t**2 + se_c**2, rel=1e-6)


def test_median_ci_one_bound_uses_the_other_half():
    # 101 (printed 0.0 - 210.2): se = ln(210.2/101) / 1.959964 = 0.732939 / 1.959964
    t = arm("t", median=101, median_ci_high=210.2)
    c = arm("c", median=9, median_ci_low=3.3, median_ci_high=14.7)
    d = medians.median_ci(comparison(t, c))
    se_c = math.log(14.7 / 3.3) / 3.919928
    assert d.vi == pytest.approx((0.732939 / 1.959964) ** 2 + se_c**2, abs=1e-6)
    assert any("upper half" in a for a in d.assumptions)


def test_median_p_hand_value():
    # 27 vs 16, p = 0.006: z = 2.747781, vi = (ln(27/16) / z)^2 = (0.523248/2.747781)^2
    t, c = arm("t", median=27), arm("c", median=16)
    d = medians.median_p(comparison(t, c, contrast(p="0.006")))
    assert d.yi == pytest.approx(-0.523248, abs=1e-6)
    assert d.vi == pytest.approx(0.0362616, abs=1e-6)


def test_survival_curve_one_interval_no_censoring():
    # n 100/100, S(60) 0.8 vs 0.6, no follow-up given (no censoring): D_T 20, D_C 40,
    # V = 60 * 100 * 100 / 200^2 = 15; theta = ln(ln 0.8 / ln 0.6) = -0.828213; O-E = 20 - 30
    from survmeta.harmonize.survival_curve import survival_curve, survival_curve_oe

    t = arm("t", n=100, survival=((60.0, 0.8),))
    c = arm("c", n=100, survival=((60.0, 0.6),))
    d = survival_curve(comparison(t, c))
    assert d.yi == pytest.approx(-0.828213, abs=1e-6) and d.vi == pytest.approx(1 / 15)
    oe = survival_curve_oe(comparison(t, c))
    assert oe.yi == pytest.approx(-10 / 15) and oe.vi == pytest.approx(1 / 15)
    assert any("no censoring" in a for a in d.assumptions)


def test_survival_curve_censoring_halves_the_censored():
    # follow-up uniform on [0, 100], one interval to 50: C = 100 * 50/100 = 50, R' = 75;
    # D_T = 75 * 0.2 = 15, D_C = 75 * 0.4 = 30; V = 45 * 75 * 75 / 150^2 = 11.25
    from survmeta.harmonize.survival_curve import survival_curve

    t = arm("t", n=100, followup_min=0.0, followup_max=100.0, survival=((50.0, 0.8),))
    c = arm("c", n=100, followup_min=0.0, followup_max=100.0, survival=((50.0, 0.6),))
    assert survival_curve(comparison(t, c)).vi == pytest.approx(1 / 11.25)


# --- censoring as a point mass (methods.md §1: Fmin = Fmax) ------------------------------


def test_survival_curve_point_mass_one_interval():
    # Both arms closed at 60 months, S(60) 0.8 vs 0.6, n 100: the interval (0, 60] holds
    # F = 60, so C = R - D with R' = R - C/2 and D = R' q (q = 1 - S_i/S_{i-1}):
    # R' = R / (2 - q), D = R q / (2 - q).
    # T: q 0.2, R' = 100/1.8 = 55.555556, D = 11.111111
    # C: q 0.4, R' = 100/1.6 = 62.5,      D = 25
    # V = 36.111111 * 55.555556 * 62.5 / 118.055556^2 = 8.996540; theta = -0.828213
    from survmeta.harmonize.survival_curve import survival_curve

    t = arm("t", n=100, followup_min=60.0, followup_max=60.0, survival=((60.0, 0.8),))
    c = arm("c", n=100, followup_min=60.0, followup_max=60.0, survival=((60.0, 0.6),))
    d = survival_curve(comparison(t, c))
    assert d.yi == pytest.approx(-0.828213, abs=1e-6)
    assert d.vi == pytest.approx(1 / 8.996540, rel=1e-6)
    assert d.events == pytest.approx((11.111111, 25.0))
    assert any("point mass" in a for a in d.assumptions)


def test_survival_curve_point_mass_inside_the_second_interval():
    # Closed at 24 months, S read at 12 and 36; n 100 per arm.
    # (0, 12]: no censoring. T: D 10, R' 100; C: D 20, R' 100; V1 = 30*100*100/200^2 = 7.5,
    #   theta1 = ln(ln .9 / ln .8) = -0.750427. At risk after: T 90, C 80.
    # (12, 36] holds 24: T q = 1 - .7/.9 = 0.222222, R' = 90/1.777778 = 50.625, D = 11.25;
    #   C q = 1 - .5/.8 = 0.375, R' = 80/1.625 = 49.230769, D = 18.461538;
    #   V2 = 29.711538 * 50.625 * 49.230769 / 99.855769^2 = 7.426437,
    #   theta2 = ln(ln(.7/.9) / ln(.5/.8)) = -0.626036.
    # yi = (7.5 * -0.750427 + 7.426437 * -0.626036) / 14.926437 = -0.688538; vi = 1/14.926437
    from survmeta.harmonize.survival_curve import survival_curve

    window = dict(followup_min=24.0, followup_max=24.0)
    t = arm("t", n=100, survival=((12.0, 0.9), (36.0, 0.7)), **window)
    c = arm("c", n=100, survival=((12.0, 0.8), (36.0, 0.5)), **window)
    d = survival_curve(comparison(t, c))
    assert d.yi == pytest.approx(-0.688538, abs=1e-6)
    assert d.vi == pytest.approx(1 / 14.926437, rel=1e-6)


# --- the information floor (methods.md §1: no derivation claims more than the data hold) --


def test_hr_p_floored_at_the_events_bound_and_flagged():
    # HR 0.95 with p = 0.02 disagree: (ln 0.95 / z_0.99)^2 = (-0.051293 / 2.326348)^2
    # = 0.000486; the arms hold at most 1/40 + 1/50 = 0.045
    t, c = arm("t", n=100, events=40), arm("c", n=100, events=50)
    d = hr.hr_p(comparison(t, c, contrast(0.95, p="0.02")))
    assert d.yi == pytest.approx(-0.051293, abs=1e-6)
    assert d.vi == pytest.approx(0.045)
    assert d.flags == [
        "vi 0.0004862 below the information bound 1/E_T + 1/E_C = 0.045: floored there"
    ]


def test_hr_p_floored_at_the_n_bound_without_events():
    t, c = arm("t", n=100), arm("c", n=100)
    d = hr.hr_p(comparison(t, c, contrast(0.95, p="0.02")))
    assert d.vi == pytest.approx(1 / 100 + 1 / 100)
    assert "1/n_T + 1/n_C = 0.02" in d.flags[0]


def test_hr_p_above_the_bound_is_left_alone():
    # the hand value above: vi 0.0270140 > 1/100 + 1/100
    d = hr.hr_p(comparison(arm("t", n=100), arm("c", n=100), contrast(0.70, p=".03")))
    assert d.vi == pytest.approx(0.0270140, abs=1e-7) and not d.flags


def test_median_p_equal_medians_floored():
    # 12 vs 12 months, p = 0.48: yi = 0, vi = 0 / z = 0, floored at 1/1500 + 1/1500
    t, c = arm("t", n=1500, median=12), arm("c", n=1500, median=12)
    d = medians.median_p(comparison(t, c, contrast(p="0.48")))
    assert d.yi == 0 and d.vi == pytest.approx(2 / 1500)
    assert d.flags and "floored" in d.flags[0]


def test_median_p_floor_uses_events_estimated_from_follow_up():
    # 39.5 vs 39.7 months, p = 0.37: (ln(39.5/39.7) / 0.896473)^2 = 3.17e-5. Events from
    # follow-up F = 48, n = 1500 (2 lambda F = 2 ln 2 * 48 / M):
    # T: x = 1.684611, e^-x = 0.185517, E = 1500 (1 - 0.814483/1.684611) = 1500 * 0.516515
    #    = 774.77;  C: x = 1.676124, e^-x = 0.187098, E = 1500 * 0.515011 = 772.52;
    # bound = 1/774.77 + 1/772.52 = 0.0025852
    t = arm("t", n=1500, median=39.5, followup=48)
    c = arm("c", n=1500, median=39.7, followup=48)
    d = medians.median_p(comparison(t, c, contrast(p="0.37")))
    e_t, e_c = (
        medians.events_from_followup(1500, 39.5, 48),
        medians.events_from_followup(1500, 39.7, 48),
    )
    assert (e_t, e_c) == pytest.approx((774.77, 772.52), abs=0.01)
    assert d.vi == pytest.approx(0.0025852, abs=1e-7)
    assert d.events == pytest.approx((e_t, e_c))
    assert any("events estimated from follow-up" in a for a in d.assumptions)


def test_p_events_floored_at_the_events_bound():
    # p = 0.001, events 20 / 60, n 100 / 100: V = 80/4 = 20, yi = -3.290527/sqrt(20)
    # = -0.735784, 1/V = 0.05 < 1/20 + 1/60 = 0.066667
    t, c = arm("t", n=100, events=20), arm("c", n=100, events=60)
    d = hr.p_events(comparison(t, c, contrast(p="0.001", favours=True)))
    assert d.yi == pytest.approx(-0.735784, abs=1e-6)
    assert d.vi == pytest.approx(1 / 20 + 1 / 60)


# --- a p belongs to its own test (methods.md §1: split arm, whole-arm estimate) ----------


def test_p_events_with_a_split_arm_takes_yi_from_the_whole_arms():
    # T n 50; the control (n 200) is shared by 2 comparisons; 160 events in the pair, p 0.01.
    # Whole arms (the test's): r = 50/200 = 0.25, V = 160 * 0.25 / 1.25^2 = 25.6,
    #   yi = -2.575829 / sqrt(25.6) = -0.509093.
    # Split (vi only): n_C 100, r = 0.5, D = 160 * (50 + 100) / 250 = 96,
    #   V = 96 * 0.5 / 1.5^2 = 21.333333, vi = 0.046875 (> 1/50 + 1/100 = 0.03).
    t = arm("t", n=50)
    c = arm("c", n=200, shared_by=2)
    d = hr.p_events(comparison(t, c, contrast(p="0.01", events=160, favours=True)))
    assert d.yi == pytest.approx(-0.509093, abs=1e-6)
    assert d.vi == pytest.approx(0.046875)
    assert any("yi from them" in a and "vi from the split arms" in a for a in d.assumptions)


def test_median_p_with_a_split_arm_scales_only_vi():
    # 27 vs 16 months, p = 0.006: whole vi = 0.0362616 (the hand value above); the control
    # (n 256) shared by 2: vi * (1/71 + 1/128) / (1/71 + 1/256) = 0.0362616 * 1.218750
    t, c = arm("t", median=27, n=71), arm("c", median=16, n=256, shared_by=2)
    d = medians.median_p(comparison(t, c, contrast(p="0.006")))
    assert d.yi == pytest.approx(-0.523248, abs=1e-6)
    ratio = (1 / 71 + 1 / 128) / (1 / 71 + 1 / 256)
    assert d.vi == pytest.approx(0.0362616 * ratio, abs=1e-6)
