"""km_points.csv and km_at_risk.csv, validated and harmonized as a team would supply them."""

import numpy as np
import pandas as pd

from survmeta.harmonize.run import harmonize
from survmeta.validate import load_inputs

from .simulate import cox, km_at, n_at_risk, simulate_trials


def write_tables(tmp_path, trials, rep: int = 0) -> dict:
    grid = np.arange(0, 120.5, 0.5)
    risk_times = np.arange(0, 121, 12)
    km_rows, risk_rows = [], []
    for arm, treat in (("t", True), ("c", False)):
        time, event = trials.arm(treat)
        s = km_at(time[rep : rep + 1], event[rep : rep + 1], grid)[0]
        km_rows += [
            dict(
                study_id="S1", arm_id=arm, outcome="os", time_months=t, surv_prop=round(float(x), 3)
            )
            for t, x in zip(grid, s, strict=True)
        ]
        n = n_at_risk(time[rep : rep + 1], risk_times)[0]
        risk_rows += [
            dict(study_id="S1", arm_id=arm, outcome="os", time_months=int(t), n_at_risk=int(x))
            for t, x in zip(risk_times, n, strict=True)
        ]
    pd.DataFrame([dict(study_id="S1", citation="Simulated", year=2020, design="rct")]).to_csv(
        tmp_path / "studies.csv", index=False
    )
    pd.DataFrame(
        [
            dict(
                study_id="S1",
                arm_id="t",
                arm_class="liver_directed",
                modality="tace",
                outcome="os",
                n=int(trials.treat.sum()),
            ),
            dict(
                study_id="S1",
                arm_id="c",
                arm_class="systemic",
                modality="ssa",
                outcome="os",
                n=int((~trials.treat).sum()),
            ),
        ]
    ).to_csv(tmp_path / "arms.csv", index=False)
    pd.DataFrame(km_rows).to_csv(tmp_path / "km_points.csv", index=False)
    pd.DataFrame(risk_rows).to_csv(tmp_path / "km_at_risk.csv", index=False)
    return {name: f"{name}.csv" for name in ("studies", "arms", "km_points", "km_at_risk")}


def test_digitized_curves_enter_the_analysis(tmp_path):
    trials = simulate_trials(7, 1)
    inputs = write_tables(tmp_path, trials)
    tables = load_inputs(inputs, tmp_path)
    config = {
        "analyses": [
            {"id": "a", "outcome": "os", "treatment": "liver_directed", "control": "systemic"}
        ]
    }
    out = harmonize(tables, config)
    (row,) = out["effects"].itertuples()
    assert row.source_method == "km_reconstruction"
    assert "Guyot" in row.assumptions and row.source == "km_points, km_at_risk"
    beta, var = cox(trials)
    assert abs(row.yi - beta[0]) < 0.05
    assert abs(row.vi / var[0] - 1) < 0.1


def test_at_risk_above_n_is_an_input_error(tmp_path):
    import pytest

    from survmeta.validate import InputError

    inputs = write_tables(tmp_path, simulate_trials(7, 1))
    risk = pd.read_csv(tmp_path / "km_at_risk.csv")
    risk.loc[0, "n_at_risk"] = 500
    risk.to_csv(tmp_path / "km_at_risk.csv", index=False)
    with pytest.raises(InputError) as err:
        load_inputs(inputs, tmp_path)
    assert [str(p) for p in err.value.problems] == [
        "km_at_risk.csv:2:n_at_risk: 500 is not in 0..n (n = 100 in arms)",
    ]


def _config(metric: str, horizon=None) -> dict:
    config = {
        "analyses": [
            {
                "id": "a",
                "outcome": "os",
                "treatment": "liver_directed",
                "control": "systemic",
                "metric": metric,
            }
        ]
    }
    if horizon is not None:
        config["rmst"] = {"horizon": horizon}
    return config


def test_rmst_diff_analysis_from_digitized_curves(tmp_path):
    """An rmst_diff row equals the RMST difference of the rebuilt patients (survival.rmst,
    checked against R in tests/survival/test_rmst.py); auto horizon = the shorter curve."""
    from survmeta.harmonize.comparisons import build_comparisons
    from survmeta.harmonize.km_reconstruction import arm_ipd
    from survmeta.survival.rmst import rmst_difference

    trials = simulate_trials(7, 1)
    tables = load_inputs(write_tables(tmp_path, trials), tmp_path)
    out = harmonize(tables, _config("rmst_diff"))
    (row,) = out["effects"].itertuples()
    (comp,) = build_comparisons(tables, _config("rmst_diff")["analyses"][0])
    rec_t, rec_c = arm_ipd(comp.t)[0], arm_ipd(comp.c)[0]
    # Digitized to 120 months, but the at-risk tables reach 0 at 120: the last rebuilt
    # patients are at 113.75 (t) and 115.75 (c). The horizon stops where both arms still
    # have patients, so nothing is extrapolated.
    assert rec_t.t[-1] == rec_c.t[-1] == 120.0
    assert (rec_t.time.max(), rec_c.time.max()) == (113.75, 115.75)
    assert row.rmst_horizon == 113.75
    ref = rmst_difference(rec_t.time, rec_t.event, rec_c.time, rec_c.event, 113.75)
    assert (row.metric, row.yi, row.vi) == ("rmst_diff", ref.diff, ref.var)
    assert row.yi > 0  # HR 0.7: the treatment arm lives longer
    assert 0 <= row.ph_p <= 1
    assert "carried flat" not in row.assumptions
    # A horizon past the curves carries them flat, and says so.
    out = harmonize(tables, _config("rmst_diff", 150))
    (row,) = out["effects"].itertuples()
    assert row.rmst_horizon == 150.0
    assert "t: curve ends at 113.75 months, carried flat to 150 (an extrapolation)" in (
        row.assumptions
    )
    assert "c: curve ends at 115.75 months, carried flat to 150" in row.assumptions


def test_rmst_diff_without_curves_is_excluded_with_the_reason(tmp_path):
    tables = load_inputs(write_tables(tmp_path, simulate_trials(7, 1)), tmp_path)
    del tables["km_points"]
    out = harmonize(tables, _config("rmst_diff"))
    assert out["effects"].empty
    (reason,) = out["excluded"]["reason"]
    assert reason == (
        "not estimable: km_reconstruction: no comparison of the analysis has digitized curves "
        "for both arms, so there is no common RMST horizon (set rmst: horizon: in months)"
    )
    out = harmonize(tables, _config("rmst_diff", 24))
    assert out["excluded"]["reason"].tolist() == [
        "not estimable: km_reconstruction: no digitized Kaplan-Meier curve for both arms"
    ]
