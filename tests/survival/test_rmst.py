"""RMST and its standard error equal R's survfit (survival 3.5, ``summary(fit, rmean = tau)``).

Reference: tests/fixtures/rmst_survival.json, made by rmst_survival.R: the 17 datasets of
the PH-test fixture (simulated, original trials, reconstructed), each at 4-6 horizons
(inside an interval, at an event time, the smaller last time, between the two arms' last
times, past both, and for the reconstructed ones the worked example's horizon): 88
horizons, 176 arm values. Tolerance 1e-6 absolute.
"""

from __future__ import annotations

import numpy as np
import pytest

from survmeta.survival.rmst import rmst, rmst_difference
from tests.estimators.reference import load

DATASETS = load("rmst_survival.json")["datasets"]
CASES = [(ds, h) for ds in DATASETS for h in ds["horizons"]]


def _arms(ds):
    d = ds["data"]
    time, event, arm = (np.asarray(d[k], float) for k in ("time", "event", "arm"))
    t, c = arm == 1, arm == 0
    return time[t], event[t] == 1, time[c], event[c] == 1


@pytest.mark.parametrize(("ds", "h"), CASES, ids=[f"{d['id']}-{h['case']}" for d, h in CASES])
def test_rmst_equals_survfit_rmean(ds, h):
    tt, et, tc, ec = _arms(ds)
    res = rmst_difference(tt, et, tc, ec, h["tau"])
    assert res.treatment.rmean == pytest.approx(h["rmean_treatment"], abs=1e-6)
    assert res.treatment.se == pytest.approx(h["se_treatment"], abs=1e-6)
    assert res.control.rmean == pytest.approx(h["rmean_control"], abs=1e-6)
    assert res.control.se == pytest.approx(h["se_control"], abs=1e-6)
    assert res.diff == pytest.approx(h["rmean_treatment"] - h["rmean_control"], abs=2e-6)
    assert res.var == pytest.approx(h["se_treatment"] ** 2 + h["se_control"] ** 2, abs=1e-6)
    assert res.treatment.extended == (h["tau"] > ds["last_time_treatment"])
    assert res.control.extended == (h["tau"] > ds["last_time_control"])


def test_fixture_covers_the_cases_asked_for():
    cases = {h["case"] for _, h in CASES}
    assert cases == {
        "inside",
        "at_event",
        "common_auto",
        "beyond_one",
        "beyond_both",
        "example_horizon",
    }
    assert any(d["n_distinct_times"] < d["n"] for d in DATASETS)  # ties
    # Beyond a curve that ends in an event (S = 0) and one that ends censored (S > 0).
    ends = {d["last_is_event_treatment"] for d in DATASETS} | {
        d["last_is_event_control"] for d in DATASETS
    }
    assert ends == {True, False}


def test_worked_example_by_hand():
    """Five patients: deaths at 2 and 5 (two), censored at 3 and 8.

    KM: S = 1 on [0, 2), 4/5 on [2, 5), 4/5 * (1 - 2/3) = 4/15 from 5 (at risk at 5: 3).
    Up to tau = 6: rmean = 2 + 3 * 4/5 + 1 * 4/15 = 4.666667. Areas after each death up to
    6: after 2, 3 * 4/5 + 4/15 = 2.666667; after 5, 4/15. Variance = 2.666667^2 * 1 / (5 * 4)
    + (4/15)^2 * 2 / (3 * 1) = 0.355556 + 0.047407 = 0.402963.
    """
    r = rmst([2, 3, 5, 5, 8], [True, False, True, True, False], 6.0)
    assert r.rmean == pytest.approx(2 + 3 * 0.8 + 4 / 15, abs=1e-12)
    assert r.se**2 == pytest.approx((8 / 3) ** 2 / 20 + (4 / 15) ** 2 * 2 / 3, abs=1e-12)
    assert (r.last_time, r.extended) == (8.0, False)
    # Before the first time: the whole horizon, no variance (R refuses such a tau).
    assert rmst([2, 3], [True, False], 1.5)[:2] == (1.5, 0.0)
    # Beyond the last time: carried flat (4/15 from 5 on) to 10.
    assert rmst([2, 3, 5, 5, 8], [True, False, True, True, False], 10.0).rmean == pytest.approx(
        2 + 3 * 0.8 + 5 * 4 / 15, abs=1e-12
    )


def test_bad_horizon():
    for tau in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="horizon"):
            rmst([1, 2], [True, True], tau)
