"""The Grambsch-Therneau test equals R's cox.zph (survival 3.5, transform "km", Breslow ties).

Reference: tests/fixtures/coxzph_survival.json, made by coxzph_survival.R on 17 datasets:
8 simulated (proportional hazards with and without ties, crossing hazards, a delayed effect,
coarse ties, censorings tied with events, two small trials), the 4 original trials of the
worked example and the 5 comparisons reconstructed from its digitized curves. Tolerance
1e-6 absolute on chisq and p.
"""

from __future__ import annotations

import numpy as np
import pytest

from survmeta.survival.cox import cox_loghr
from survmeta.survival.zph import cox_zph
from tests.estimators.reference import load

DATASETS = load("coxzph_survival.json")["datasets"]


def _data(ds):
    d = ds["data"]
    return np.asarray(d["time"], float), np.asarray(d["event"]) == 1, np.asarray(d["arm"], float)


@pytest.mark.parametrize("ds", DATASETS, ids=lambda d: d["id"])
def test_cox_zph_equals_r_at_r_coefficient(ds):
    time, event, arm = _data(ds)
    res = cox_zph(time, event, arm, ds["coef"])
    assert res.df == ds["df"] == 1
    assert res.chisq == pytest.approx(ds["chisq"], abs=1e-6)
    assert res.p == pytest.approx(ds["p"], abs=1e-6)


@pytest.mark.parametrize("ds", DATASETS, ids=lambda d: d["id"])
def test_cox_zph_equals_r_with_our_cox_fit(ds):
    """End to end: statsmodels' Breslow Cox fit, then the test (what the harmonize job does)."""
    time, event, arm = _data(ds)
    fit = cox_loghr(time[arm == 1], event[arm == 1], time[arm == 0], event[arm == 0])
    assert fit.coef == pytest.approx(ds["coef"], abs=1e-6)
    assert fit.var == pytest.approx(ds["var"], abs=1e-6)
    res = cox_zph(time, event, arm, fit.coef)
    assert res.chisq == pytest.approx(ds["chisq"], abs=1e-6)
    assert res.p == pytest.approx(ds["p"], abs=1e-6)


def test_fixture_covers_the_cases_asked_for():
    kinds = {d["kind"] for d in DATASETS}
    assert kinds == {"simulated", "original", "reconstructed"}
    ties = [d["n_distinct_times"] < d["n"] for d in DATASETS]
    assert any(ties) and not all(ties)
    assert min(d["n"] for d in DATASETS) <= 15
    assert any(d["p"] < 0.001 for d in DATASETS)  # crossing hazards are detected
    assert any(d["p"] > 0.5 for d in DATASETS)


def test_cox_zph_does_not_depend_on_arm_coding():
    """Swapping treatment and control (x -> 1 - x, beta -> -beta) gives the same test."""
    ds = next(d for d in DATASETS if d["id"] == "crossing_weibull_150v150")
    time, event, arm = _data(ds)
    a = cox_zph(time, event, arm, ds["coef"])
    b = cox_zph(time, event, 1 - arm, -ds["coef"])
    assert b.chisq == pytest.approx(a.chisq, rel=1e-12)


def test_cox_zph_undefined():
    with pytest.raises(ValueError, match="no deaths"):
        cox_zph([1, 2, 3], [False, False, False], [1, 0, 1], 0.0)
    with pytest.raises(ValueError, match="does not vary"):
        cox_zph([1, 2, 3], [True, True, False], [1, 1, 1], 0.0)
