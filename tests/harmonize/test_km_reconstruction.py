"""KM reconstruction (Guyot 2012) and the Cox fit on the reconstructed IPD.

Three kinds of check:

* Cox: ``cox_loghr`` (statsmodels PHReg, Breslow ties) equals R's
  ``coxph(ties = "breslow")`` coef and var on tests/fixtures/cox_breslow.json (made by
  tests/fixtures/cox_breslow.R; tied and untied data).
* Worked example: a 10-patient KM curve as a paper prints it, reconstructed by hand
  step by step below (the per-point events, censorings and numbers at risk).
* Simulation (methods.md section 1 scenario: HR 0.7, 100 per arm, control median 24
  months, censoring U[12, 120]): each arm's KM curve digitized as a reader would, S
  read every 0.5 months to the last follow-up and rounded to 3 decimals, with an
  at-risk table every 12 months; Guyot's reconstruction of both arms, then Cox. Over 40
  seeds (200 replicates each), the reconstructed log HR against the Cox log HR of the
  original patients had mean |difference| 0.0096-0.0129 and max |difference|
  0.037-0.097 (mean difference +0.002..+0.007, a slight pull toward no effect); against
  the true log HR, bias -0.012..0.022 and 95% coverage 0.925-0.985, at most 0.025 from
  the original Cox fit's own coverage on the same replicates; mean variance ratio
  (reconstructed / original; first 20 seeds) 1.009-1.011. With the total events given
  (first 20 seeds): mean |difference| 0.0077-0.0097, max 0.025-0.055. The limits below
  hold all of those with a margin. With 200 replicates a coverage estimate has an SD
  of about 0.015, so its absolute limits are wide (the original Cox fit itself ranged
  0.92-0.985); the paired comparisons with the original fit carry the weight.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from survmeta.harmonize.base import NotEstimable
from survmeta.harmonize.km_reconstruction import km_reconstruction_effect
from survmeta.survival.cox import cox_loghr
from survmeta.survival.reconstruct import _hist_counts, clean_curve, reconstruct, reconstruct_ipd

from .simulate import cox, km_at, km_curve, n_at_risk, performance, simulate_trials

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cox_breslow.json"

# --------------------------------------------------------------------------------------
# Cox against R
# --------------------------------------------------------------------------------------


def _fixture():
    return json.loads(FIXTURE.read_text())["datasets"]


@pytest.mark.parametrize("ds", _fixture(), ids=lambda d: d["id"])
def test_cox_loghr_equals_coxph_breslow(ds):
    time, status, arm = (np.asarray(ds[k], float) for k in ("time", "status", "arm"))
    t, c = arm == 1, arm == 0
    yi, vi = cox_loghr(time[t], status[t] == 1, time[c], status[c] == 1)
    assert yi == pytest.approx(ds["coef"], abs=1e-6)
    assert vi == pytest.approx(ds["var"], abs=1e-6)


def test_cox_fixture_has_ties_and_no_ties():
    kinds = {len(set(d["time"])) < len(d["time"]) for d in _fixture()}
    assert kinds == {True, False}


def test_cox_loghr_refuses_an_arm_without_events():
    with pytest.raises(ValueError, match="no events"):
        cox_loghr([1, 2, 3], [False, False, False], [1, 2, 3], [True, True, False])


def test_statsmodels_is_imported_only_for_a_fit():
    code = (
        "import sys, survmeta.harmonize.km_reconstruction as k; print('statsmodels' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------------------
# Worked example
# --------------------------------------------------------------------------------------
#
# Ten patients: events at 1, 2, 5, 8, 11, 15; censored at 4, 7, 13, 16. Kaplan-Meier:
# S(1) = 0.9, S(2) = 0.8, S(5) = 0.8 * 6/7 = 0.685714, S(8) = * 4/5 = 0.548571,
# S(11) = * 3/4 = 0.411429, S(15) = * 1/2 = 0.205714. Numbers at risk printed under the
# plot at 0, 6, 12: 10, 6, 3. The digitized points are the foot of each step, the curve
# at the at-risk ticks 6 and 12, and its end at 16, S to 3 decimals:
T_KM = [0, 1, 2, 5, 6, 8, 11, 12, 15, 16]
S_KM = [1, 0.9, 0.8, 0.686, 0.686, 0.549, 0.411, 0.411, 0.206, 0.206]
T_RISK, N_RISK = [0, 6, 12], [10, 6, 3]
#
# Points k = 0..9; intervals [0, 6): k 0-3, [6, 12): k 4-6, [12, end]: k 7-9.
# d_k = round(n_k (1 - S_k / KM_last)), KM_k = KM_last (1 - d_k / n_k),
# n_{k+1} = n_k - d_k - c_k.
#
# Interval 1. First guess of censored: round(10 * 0.686 / 1 - 6) = round(0.86) = 1,
#   placed at 0 + 1 * (6 - 0) / 2 = 3, in the gap (2, 5] (k = 2).
#   k=1: d = round(10 * 0.1) = 1, KM 0.9, n 9; k=2: d = round(9 * (1 - 0.8/0.9)) = 1,
#   KM 0.8, n = 9 - 1 - 1 = 7; k=3: d = round(7 * (1 - 0.686/0.8)) = round(0.9975) = 1,
#   KM = 0.8 * 6/7 = 0.685714, n = 6 = published: done.
# Interval 2. round(6 * 0.411 / 0.686 - 3) = round(0.595) = 1 censored, at
#   6 + 6/2 = 9, in the gap (8, 11] (k = 5).
#   k=4 (S 0.686 vs KM 0.685714): d = round(-0.0025) = 0; k=5: d = round(6 * (1 -
#   0.549/0.685714)) = round(1.196) = 1, KM 0.571429, n = 6 - 1 - 1 = 4; k=6: d =
#   round(4 * (1 - 0.411/0.571429)) = round(1.123) = 1, KM 0.428571, n = 3 = published.
# Interval 3 (last). Censoring at the earlier rate: round((1 + 1) * (16 - 12) /
#   (11 - 0)) = round(0.727) = 1, at 12 + 4/2 = 14, in the gap (12, 15] (k = 7).
#   k=7: d = round(3 * (1 - 0.411/0.428571)) = round(0.123) = 0, n = 3 - 0 - 1 = 2;
#   k=8: d = round(2 * (1 - 0.206/0.428571)) = round(1.039) = 1, KM 0.214286, n = 1;
#   k=9: d = round(1 * (1 - 0.206/0.214286)) = 0; 1 left, censored at 16.
# IPD: events 1, 2, 5, 8, 11, 15 (6, all right); censored at the gap midpoints 3.5,
# 9.5, 13.5 (true 4, 7, 13) and at 16.
WORKED_D = [0, 1, 1, 1, 0, 1, 1, 0, 1, 0]
WORKED_CEN = [0, 0, 1, 0, 0, 1, 0, 1, 0, 0]
WORKED_N_HAT = [10, 10, 9, 7, 6, 6, 4, 3, 2, 1, 1]
WORKED_EVENTS = [1, 2, 5, 8, 11, 15]
WORKED_CENSORED = [3.5, 9.5, 13.5, 16]


def _ipd(rec):
    return sorted(rec.time[rec.event].tolist()), sorted(rec.time[~rec.event].tolist())


def test_worked_example_by_hand():
    rec = reconstruct(T_KM, S_KM, T_RISK, N_RISK)
    assert rec.d.tolist() == WORKED_D
    assert rec.cen.tolist() == WORKED_CEN
    assert rec.n_hat.tolist() == WORKED_N_HAT
    assert _ipd(rec) == (WORKED_EVENTS, WORKED_CENSORED)
    assert rec.n_risk_hat.tolist() == N_RISK  # at risk at 0, 6, 12 from the IPD
    assert rec.notes == []
    time, event = reconstruct_ipd(T_KM, S_KM, T_RISK, N_RISK)
    assert (sorted(time.tolist()), int(event.sum())) == (sorted(rec.time.tolist()), 6)


def test_worked_example_with_total_events():
    # 6 reported: already 6 events rebuilt, nothing changes.
    rec = reconstruct(T_KM, S_KM, T_RISK, N_RISK, total_events=6)
    assert _ipd(rec) == (WORKED_EVENTS, WORKED_CENSORED)
    # 5 reported: the first two intervals hold 5 already, so the last interval gets no
    # events and no censoring: its 3 patients are censored at the last time, 16.
    rec = reconstruct(T_KM, S_KM, T_RISK, N_RISK, total_events=5)
    assert _ipd(rec) == (WORKED_EVENTS[:5], [3.5, 9.5, 16, 16, 16])
    # 7 reported: the last interval's censoring is cut by 7 - 6 = 1 to 0, so 3 at risk
    # at 15: d = round(3 * (1 - 0.206/0.428571)) = round(1.558) = 2 events at 15.
    rec = reconstruct(T_KM, S_KM, T_RISK, N_RISK, total_events=7)
    assert _ipd(rec) == ([1, 2, 5, 8, 11, 15, 15], [3.5, 9.5, 16])
    assert rec.notes == []


def test_cleaning_conventions_are_applied_and_recorded():
    # The worked example's points without (0, 1), shuffled, with a read-out bump at 6
    # (0.69 > 0.686) and S read as 1.002 at 0.5: the same reconstruction.
    pts = [(5, 0.686), (1, 0.9), (0.5, 1.002), (6, 0.69), (2, 0.8), (11, 0.411)]
    pts += [(8, 0.549), (16, 0.206), (12, 0.411), (15, 0.206)]
    t, s = zip(*pts, strict=True)
    rec = reconstruct(t, s, T_RISK, N_RISK)
    assert rec.d.tolist() == [0, 0] + WORKED_D[1:]
    assert _ipd(rec) == (WORKED_EVENTS, WORKED_CENSORED)
    assert rec.notes == [
        "1 survival value(s) clipped to [0, 1]",
        "KM points sorted by time",
        "S made non-increasing (running minimum) at 1 point(s)",
        "S(0) = 1 added",
    ]
    t2, s2, notes = clean_curve([0, 0, 3, 3, 3], [0.98, 1, 0.7, 0.9, 0.9])
    assert (t2.tolist(), s2.tolist()) == ([0, 3, 3], [1, 0.9, 0.7])
    assert notes == [
        "KM points sorted by time",
        "S at time 0 read below 1 (0.98): set to 1",
        "2 repeated KM point(s) dropped",
    ]


def test_at_risk_conventions():
    # At-risk times after the curve's end and with no digitized point are dropped.
    # No point in [6.5, 7); the extra interval [6, 7) holds only the point at 6 and
    # needs no censoring (round(6 * 0.549/0.686 - 6) < 0), so the IPD is the same.
    rec = reconstruct(T_KM, S_KM, [0, 6, 6.5, 7, 12, 20], [10, 6, 6, 6, 3, 0])
    assert rec.t_risk.tolist() == [0, 6, 7, 12]
    assert _ipd(rec) == (WORKED_EVENTS, WORKED_CENSORED)
    assert rec.notes == [
        "at-risk times after the last digitized time dropped: 20",
        "at-risk times with no digitized point before the next one dropped: 6.5",
    ]
    for t_risk, n_risk, msg in [
        ([6, 12], [6, 3], "time 0"),
        ([0, 6, 12], [10, 6, 7], "must not increase"),
        ([0, 6, 6], [10, 6, 3], "twice"),
        ([0, 6, 12], [10, 6.5, 3], "whole"),
    ]:
        with pytest.raises(ValueError, match=msg):
            reconstruct(T_KM, S_KM, t_risk, n_risk)


def test_r_hist_binning():
    """Censorings are counted per gap as R's hist() counts them (right-closed, fuzz)."""
    # hist(c(1, 2+1e-9, 2.5, 0), breaks = c(0, 1, 2, 3))$counts: 2 1 1
    x, b = np.array([1, 2 + 1e-9, 2.5, 0]), np.array([0.0, 1, 2, 3])
    assert _hist_counts(x, b).tolist() == [2, 1, 1]
    # hist(c(1, 2+1e-9, 2.5, 4.0000001), breaks = c(0, 1, 2, 3, 3.5, 4, 6)): 1 1 1 0 1 0
    x, b = np.array([1, 2 + 1e-9, 2.5, 4.0000001]), np.array([0.0, 1, 2, 3, 3.5, 4, 6])
    assert _hist_counts(x, b).tolist() == [1, 1, 1, 0, 1, 0]


def test_exact_curve_without_censoring_gives_back_the_patients():
    """No censoring, every step digitized exactly: the IPD is the original."""
    rng = np.random.default_rng(5)
    time = np.sort(rng.exponential(20.0, 40))
    s = 1.0 - np.arange(1, 41) / 40
    t_risk = np.arange(0, time.max(), 12.0)
    n_risk = (time[:, None] >= t_risk[None, :]).sum(0)
    rec = reconstruct(np.r_[0, time], np.r_[1, s], t_risk, n_risk, total_events=40)
    assert rec.event.all() and np.array_equal(np.sort(rec.time), time)
    assert rec.notes == []


def test_effect_and_notes():
    t_points = list(zip([0, 2, 4, 9, 14, 18], [1, 0.9, 0.8, 0.7, 0.6, 0.6], strict=True))
    c_points = list(zip(T_KM, S_KM, strict=True))
    t_risk, c_risk = [(0, 10), (6, 8), (12, 6)], list(zip(T_RISK, N_RISK, strict=True))
    out = km_reconstruction_effect(t_points, t_risk, c_points, c_risk, events_c=6)
    tt, et = reconstruct_ipd(*zip(*t_points, strict=True), *zip(*t_risk, strict=True))
    tc, ec = reconstruct_ipd(T_KM, S_KM, T_RISK, N_RISK, 6)
    assert (out.yi, out.vi) == cox_loghr(tt, et, tc, ec)
    yi, vi, notes, events = out
    assert yi < 0 and vi > 0
    assert events == (int(et.sum()), 6)  # the deaths rebuilt per arm, for effects.csv
    assert (
        "treatment: total events not reported: last interval censored at the earlier "
        "intervals' rate (Guyot)" in notes
    )
    assert f"treatment: 10 patients rebuilt, {int(et.sum())} events" in notes
    assert "control: 10 patients rebuilt, 6 events (reported 6)" in notes
    assert not any(n.startswith("control: total events not reported") for n in notes)
    named = km_reconstruction_effect(t_points, t_risk, c_points, c_risk, labels=("TACE", "SSA"))
    assert any(n.startswith("TACE: ") for n in named.notes)


def test_effect_not_estimable():
    c_points, c_risk = list(zip(T_KM, S_KM, strict=True)), list(zip(T_RISK, N_RISK, strict=True))
    with pytest.raises(NotEstimable, match="treatment: .*time 0"):
        km_reconstruction_effect(c_points, [(6, 6), (12, 3)], c_points, c_risk)
    with pytest.raises(NotEstimable, match="control: .*pairs"):
        km_reconstruction_effect(c_points, c_risk, c_points, [])
    flat = [(0, 1.0), (10, 1.0), (20, 1.0)]
    with pytest.raises(NotEstimable, match="no events"):
        km_reconstruction_effect(flat, [(0, 10), (10, 10)], c_points, c_risk)


# --------------------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------------------

REPS = 200
SEED = 20261123
STEP, DECIMALS, RISK_EVERY = 0.5, 3, 12.0


def digitize(time: np.ndarray, event: np.ndarray, risk_every: float = RISK_EVERY):
    """Per replicate: S every STEP months to the last follow-up (and at it), rounded to
    DECIMALS; numbers at risk every ``risk_every`` months."""
    grid = np.arange(0.0, time.max() + STEP, STEP)
    s = np.round(km_at(time, event, grid), DECIMALS)
    s_end = np.round(km_curve(time, event)[1][:, -1], DECIMALS)
    risk_grid = np.arange(0.0, time.max(), risk_every)
    nr = n_at_risk(time, risk_grid)
    out = []
    for r in range(time.shape[0]):
        tmax = time[r].max()
        g, k = grid <= tmax, risk_grid <= tmax
        out.append((np.r_[grid[g], tmax], np.r_[s[r, g], s_end[r]], risk_grid[k], nr[r, k]))
    return out


@pytest.fixture(scope="module")
def sim():
    trials = simulate_trials(SEED, REPS)
    b0, v0 = cox(trials)
    (tt, et), (tc, ec) = trials.arm(True), trials.arm(False)
    return trials, b0, v0, digitize(tt, et), digitize(tc, ec), et.sum(1), ec.sum(1)


def _reconstructed_cox(sim, with_events: bool):
    _, _, _, dt, dc, et, ec = sim
    yi, vi = np.empty(REPS), np.empty(REPS)
    for r in range(REPS):
        a = reconstruct(*dt[r], int(et[r]) if with_events else None)
        b = reconstruct(*dc[r], int(ec[r]) if with_events else None)
        yi[r], vi[r] = cox_loghr(a.time, a.event, b.time, b.event)
    return yi, vi


def test_simulation_reconstructed_cox_matches_original_cox(sim):
    trials, b0, v0, *_ = sim
    yi, vi = _reconstructed_cox(sim, with_events=False)
    diff = yi - b0
    assert np.abs(diff).mean() <= 0.02
    assert np.abs(diff).max() <= 0.12
    assert abs(diff.mean()) <= 0.015
    assert 0.98 <= (vi / v0).mean() <= 1.04
    perf, perf0 = performance(yi, vi, trials.log_hr), performance(b0, v0, trials.log_hr)
    assert perf["n"] == REPS
    assert abs(perf["bias"]) <= 0.04
    assert 0.90 <= perf["coverage"] <= 0.99
    assert abs(perf["coverage"] - perf0["coverage"]) <= 0.04


def test_simulation_with_total_events(sim):
    _, b0, *_ = sim
    yi, _ = _reconstructed_cox(sim, with_events=True)
    diff = yi - b0
    assert np.abs(diff).mean() <= 0.02
    assert np.abs(diff).max() <= 0.1
