"""The worked example review (data/example_km): digitized curves of four public trials.

data/example_km was made by tests/fixtures/example_km.R from the patient data that R's
survival package ships (colon, veteran, pbc, ovarian): each arm's Kaplan-Meier curve and
numbers at risk, "digitized" to 0.01 month and 3 decimals of S. The harmonize step rebuilds
the patients from those curves; these tests hold what it gives against R:

* the log HR against the Cox log HR of the ORIGINAL patients (example_km.json): max
  |difference| 0.039 (Ovarian1979, 13 vs 13 patients), 0.023 on VALung1980, < 0.005 on the
  others; variances within 0.3%. Limits: 0.05 absolute and 0.15 of the original SE.
* ``ph_p`` and the ``rmst_diff`` rows equal R's cox.zph and survfit rmean on the rebuilt
  patients (coxzph_survival.json, rmst_survival.json) to 1e-6: the whole path from the
  tables to effects.csv, against R.
* the RMST difference against that of the original patients: within 0.1 of its SE.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from survmeta.harmonize.run import harmonize
from survmeta.harmonize.survival_extras import survival_extras
from survmeta.validate import load_inputs
from tests.estimators.reference import load

ROOT = Path(__file__).resolve().parents[2]
ORIGINAL = load("example_km.json")
ZPH = {d["id"]: d for d in load("coxzph_survival.json")["datasets"]}
RMST = {d["id"]: d for d in load("rmst_survival.json")["datasets"]}


@pytest.fixture(scope="module")
def example():
    config = yaml.safe_load((ROOT / "data" / "example_km" / "config.yaml").read_text())
    tables = load_inputs(config["inputs"], ROOT, config["arm_classes"], config["modalities"])
    return tables, harmonize(tables, config), survival_extras(tables, config)


def _row(effects: pd.DataFrame, comp: dict, metric: str):
    rows = effects[
        (effects["study_id"] == comp["study_id"])
        & (effects["treatment_arm"] == comp["treatment_arm"])
        & (effects["control_arm"] == comp["control_arm"])
        & (effects["metric"] == metric)
    ]
    assert len(rows) == 1
    return rows.iloc[0]


def _rebuilt(comp: dict) -> str:
    return f"reconstructed_{comp['study_id']}_{comp['treatment_arm']}_vs_{comp['control_arm']}"


@pytest.mark.parametrize("comp", ORIGINAL["comparisons"], ids=lambda c: c["study_id"])
def test_log_hr_close_to_the_original_patients(example, comp):
    row = _row(example[1]["effects"], comp, "log_hr")
    assert row.source_method == "km_reconstruction"
    se = math.sqrt(comp["var"])
    assert abs(row.yi - comp["coef"]) <= min(0.05, 0.15 * se)
    assert row.vi / comp["var"] == pytest.approx(1, abs=0.01)


@pytest.mark.parametrize("comp", ORIGINAL["comparisons"], ids=lambda c: c["study_id"])
def test_ph_p_equals_cox_zph_on_the_rebuilt_patients(example, comp):
    ref = ZPH[_rebuilt(comp)]
    for metric in ("log_hr", "rmst_diff"):
        assert _row(example[1]["effects"], comp, metric).ph_p == pytest.approx(ref["p"], abs=1e-6)
    ph = example[2]["ph"]
    mine = ph[(ph["study_id"] == comp["study_id"]) & (ph["treatment_arm"] == comp["treatment_arm"])]
    assert mine["ph_chisq"].tolist() == pytest.approx([ref["chisq"]] * 2, abs=1e-6)
    assert mine["ph_df"].tolist() == [1, 1]


@pytest.mark.parametrize("comp", ORIGINAL["comparisons"], ids=lambda c: c["study_id"])
def test_rmst_rows_equal_survfit_on_the_rebuilt_patients(example, comp):
    row = _row(example[1]["effects"], comp, "rmst_diff")
    (ref,) = [h for h in RMST[_rebuilt(comp)]["horizons"] if h["case"] == "example_horizon"]
    assert row.rmst_horizon == ORIGINAL["rmst_horizon"] == ref["tau"]
    assert row.yi == pytest.approx(ref["rmean_treatment"] - ref["rmean_control"], abs=1e-6)
    assert row.vi == pytest.approx(ref["se_treatment"] ** 2 + ref["se_control"] ** 2, abs=1e-6)
    assert row.sei == pytest.approx(math.sqrt(row.vi), rel=1e-12)
    assert row.source_method == "km_reconstruction"
    assert "RMST up to 18.17 months" in row.assumptions
    # And against the original patients' RMST difference.
    orig = comp["rmean_treatment"] - comp["rmean_control"]
    orig_se = math.hypot(comp["se_rmean_treatment"], comp["se_rmean_control"])
    assert abs(row.yi - orig) <= 0.1 * orig_se


def test_rmst_horizon_is_where_every_curve_still_runs(example):
    tables, out, _ = example
    # The veteran trial's standard arm ends first, at 553 days = 18.17 months.
    last = tables["km_points"].groupby(["study_id", "arm_id"])["time_months"].max()
    assert last.min() == ORIGINAL["rmst_horizon"] == 18.17
    assert out["effects"].loc[out["effects"]["metric"] == "log_hr", "rmst_horizon"].isna().all()
    assert out["excluded"].empty


def test_reconstructed_patients_match_the_arms(example):
    tables, _, extras = example
    rec = extras["reconstructed"]
    assert list(rec.columns) == ["study_id", "outcome", "arm_id", "time_months", "event"]
    per_arm = rec.groupby(["study_id", "arm_id"]).agg(n=("event", "size"), ev=("event", "sum"))
    arms = tables["arms"].set_index(["study_id", "arm_id"]).loc[per_arm.index]
    assert per_arm["n"].tolist() == arms["n"].tolist()
    assert per_arm["ev"].tolist() == arms["events"].tolist()  # reported totals kept
    assert len(per_arm) == 9  # the shared control arm of Moertel1990 once


def test_example_config_is_valid_and_horizon_checked():
    from survmeta.config import schema_problems

    schema = ROOT / "workflow" / "schemas" / "config.schema.yaml"
    config = yaml.safe_load((ROOT / "data" / "example_km" / "config.yaml").read_text())
    assert schema_problems(config, schema, "config.yaml") == []
    config["rmst"]["horizon"] = "soon"
    assert [str(p) for p in schema_problems(config, schema, "config.yaml")] == [
        "config.yaml:rmst.horizon: 'soon' is not valid; expected auto or a number of months > 0"
    ]
