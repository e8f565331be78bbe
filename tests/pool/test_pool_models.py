"""The pool stage's tables against metafor's and the independent Bayesian reference.

pooled.csv's multilevel rows (rma.mv REML with z, t and CR2) for effects built from the
multilevel fixture's datasets equal metafor/clubSandwich's numbers; vcov.csv holds the
fixture's covariances; the univariate split rows beside them are pooled too; the Bayesian
table equals tests/fixtures/bayes_reference.json (computed by adaptive quadrature,
independently of the production code); the hazard-based sensitivity table equals
metafor's fit of the hazard-based comparisons alone.
"""

import json

import numpy as np
import pandas as pd
import pytest

from survmeta.diagnostics import hazard_based_table
from survmeta.pool import bayes_tables, pool_tables

from ..estimators.reference import FIXTURES, close, load, value

MV = load("multilevel_metafor.json")
MV_DATA = {d["id"]: d for d in MV["datasets"]}


def effects_from(d: dict, aid: str = "a") -> pd.DataFrame:
    """effects.csv rows of one multilevel fixture dataset (whole arms)."""
    return pd.DataFrame({
        "analysis_id": aid, "study_id": d["study"], "comparison_id": d["comparison"],
        "treatment_arm": d["treatment"], "control_arm": d["control"], "yi": d["yi"],
        "vi": d["vi"], "events_t": [np.nan if e is None else e for e in d["events_t"]],
        "events_c": [np.nan if e is None else e for e in d["events_c"]], "year": 2000,
        "metric": "log_hr", "hazard_based": True,
    })  # fmt: skip


def config(method="REML", test="t", **extra):
    return {"analyses": [{"id": "a", "metric": "log_hr"}],
            "pooling": {"method": method, "test": test, "level": 0.95},
            "sensitivity": {"methods": [method], "tests": [test]}, **extra}  # fmt: skip


@pytest.mark.parametrize("name", ["nelm_like", "three_arm_events_k3", "mixed_rules_k4",
                                  "zero_study_k5", "medium_k6"])  # fmt: skip
def test_multilevel_rows_equal_metafor(name):
    d = MV_DATA[name]
    out = pool_tables(effects_from(d), config())
    pooled = out["pooled"]
    mv = pooled[(pooled["model"] == "rma.mv") & (pooled["method"] == "REML")]
    assert mv["main"].tolist() == [False, True, False]  # z, t (main: knha -> t), cr2
    for test in ("z", "t"):
        row = mv[mv["test"] == test].iloc[0]
        ref = next(f for f in MV["fits"] if (f["dataset"], f["method"], f["test"])
                   == (name, "REML", test))  # fmt: skip
        for ours, theirs in [("estimate", "estimate"), ("se", "se"), ("ci_low", "ci_lb"),
                             ("ci_high", "ci_ub"), ("pi_low", "pi_lb"), ("pi_high", "pi_ub"),
                             ("sigma2_study", "sigma2_study"), ("q", "QE"), ("p", "pval"),
                             ("sigma2_comparison", "sigma2_comparison")]:  # fmt: skip
            assert close(float(row[ours]), value(ref[theirs])), (test, ours)
        assert row["k_studies"] == d["k_studies"] and row["dependence"] == "multilevel"
    cr2 = mv[mv["test"] == "cr2"].iloc[0]
    ref = next(r for r in MV["robust"] if (r["dataset"], r["method"]) == (name, "REML"))
    for ours, theirs in [("se", "se"), ("stat", "tval"), ("df", "df"), ("p", "pval"),
                         ("ci_low", "ci_lb"), ("ci_high", "ci_ub"), ("pi_low", "pi_lb"),
                         ("pi_high", "pi_ub")]:  # fmt: skip
        assert close(float(cr2[ours]), value(ref[theirs])), ours
    pairs = [p for p in d["shared_arm"] if p["cov"] != 0]
    vcov = out["vcov"]
    assert len(vcov) == len(pairs)
    assert vcov["cov"].tolist() == pytest.approx([p["cov"] for p in pairs], rel=1e-13)


def test_one_comparison_per_study_is_rma_uni():
    d = MV_DATA["medium_k6"]
    eff = effects_from(d).drop_duplicates("study_id")
    pooled = pool_tables(eff, config())["pooled"]
    assert set(pooled["model"]) == {"rma.uni"} and set(pooled["dependence"]) == {"none"}


def test_univariate_rows_beside_the_multilevel_model():
    d = MV_DATA["nelm_like"]
    eff = effects_from(d)
    split = eff.assign(multiarm="split", vi=eff["vi"] * 1.5)
    pooled = pool_tables(eff, config(), split)["pooled"]
    uni = pooled[pooled["dependence"] == "split"]
    assert len(uni) == 1 and not uni["main"].any() and (uni["model"] == "rma.uni").all()
    assert uni["k_studies"].iloc[0] == 2 and uni["k"].iloc[0] == 4


BAYES = json.loads((FIXTURES / "bayes_reference.json").read_text())


def test_bayes_table_equals_the_independent_reference():
    """bayes.csv through the pool stage equals the quadrature reference to 1e-6."""
    cases = [c for c in BAYES["cases"] if c["prior"] == "halfnormal" and c["scale"] == 0.5]
    data = BAYES["datasets"]
    checked = 0
    for c in cases[:6]:
        d = data[c["dataset"]]
        k = len(d["y"])
        eff = pd.DataFrame({"analysis_id": "a", "study_id": [f"S{i}" for i in range(k)],
                            "treatment_arm": "t", "control_arm": "c", "yi": d["y"],
                            "vi": d["v"], "year": 2000})  # fmt: skip
        cfg = config(bayes={"priors": [{"tau": "halfnormal", "scale": 0.5}]})
        row = bayes_tables(eff, cfg)["bayes"].iloc[0]
        for col in ("mu_median", "mu_ci_low", "mu_ci_high", "tau_median", "pred_low",
                    "pred_high", "p_mu_below_0"):  # fmt: skip
            if col in c:
                assert abs(float(row[col]) - value(c[col])) < 1e-6, (c["dataset"], col)
                checked += 1
    assert checked >= 20


def test_hazard_based_pool_equals_metafor_on_those_comparisons():
    fixture = load("pooling_metafor.json")
    sets = {d["id"]: d for d in fixture["datasets"]}
    case = next(f for f in fixture["fits"] if (f["method"], f["test"]) == ("REML", "knha")
                and f["error"] is None and len(sets[f["dataset"]]["yi"]) >= 5)  # fmt: skip
    d = sets[case["dataset"]]
    k = len(d["yi"])
    hazard = pd.DataFrame({"analysis_id": "a", "study_id": [f"S{i}" for i in range(k)],
                           "comparison_id": [f"S{i}:t-vs-c" for i in range(k)],
                           "treatment_arm": "t", "control_arm": "c", "yi": d["yi"],
                           "vi": d["vi"], "year": 2000, "hazard_based": True})  # fmt: skip
    medians = hazard.assign(study_id=["M1", "M2"] * (k // 2) + ["M3"] * (k % 2),
                            yi=3.0, hazard_based=False).iloc[:2]  # fmt: skip
    rows = pd.concat([hazard, medians], ignore_index=True)
    table = hazard_based_table(
        rows,
        None,
        {"id": "a", "metric": "log_hr"},
        {"pooling": {"method": "REML", "test": "knha", "level": 0.95}},
    )
    r = table.iloc[0]
    assert r["k"] == k and r["model"] == "rma.uni"
    for ours, theirs in [("estimate", "estimate"), ("se", "se"), ("ci_lb", "ci_lb"),
                         ("ci_ub", "ci_ub"), ("pi_lb", "pi_lb"), ("tau2", "tau2")]:  # fmt: skip
        assert close(float(r[ours]), value(case[theirs])), ours
