"""The multilevel model equals R metafor's rma.mv (and clubSandwich's CR2) within 1e-5.

Reference: tests/fixtures/multilevel_metafor.json, made by multilevel_metafor.R (metafor
3.8.1, clubSandwich 0.5.8; every number from rma.mv(..., sigma2 = the exact optimum)).
"""

import numpy as np
import pandas as pd
import pytest

from survmeta.estimators.multilevel import leave1study, rma_mv, robust_cr2
from survmeta.estimators.vcov import sampling_covariance

from .reference import close, load, value

FIXTURE = load("multilevel_metafor.json")
DATASETS = {d["id"]: d for d in FIXTURE["datasets"]}
COUNT = {"compared": 0}


def check(got: dict, ref: dict, what: str):
    bad = []
    for name, g in got.items():
        COUNT["compared"] += 1
        if not close(float(g), value(ref[name])):
            bad.append(f"{name}: {g!r} != {ref[name]!r}")
    assert not bad, f"{what}: " + "; ".join(bad)


def fitted(case):
    d = DATASETS[case["dataset"]]
    return rma_mv(d["yi"], d["V"], d["study"], case["method"])


@pytest.mark.parametrize(
    "case", FIXTURE["fits"], ids=lambda c: f"{c['dataset']}-{c['method']}-{c['test']}"
)
def test_fit_matches_metafor(case):
    res = fitted(case).results(case["test"])
    pred = res.predict()
    got = {
        "sigma2_study": res.sigma2_study, "sigma2_comparison": res.sigma2_comparison,
        "estimate": res.estimate, "se": res.se[0, 0], "zval": res.zval[0, 0],
        "pval": res.pval[0, 0], "ci_lb": res.ci_lb[0, 0], "ci_ub": res.ci_ub[0, 0],
        "QE": res.qe, "QEp": res.qep, "df": res.dfs, "pi_lb": pred.pi_lb[0],
        "pi_ub": pred.pi_ub[0],
    }  # fmt: skip
    check(got, case, case["dataset"])
    assert res.k_studies == case["k_studies"] and res.qe_df == value(case["QE_df"])


@pytest.mark.parametrize("case", FIXTURE["robust"], ids=lambda c: f"{c['dataset']}-{c['method']}")
def test_cr2_matches_clubsandwich(case):
    rb = robust_cr2(fitted(case))
    got = {
        "estimate": rb.beta[0], "se": rb.se[0], "tval": rb.tval[0], "df": rb.dfs[0],
        "pval": rb.pval[0], "ci_lb": rb.ci_lb[0], "ci_ub": rb.ci_ub[0], "pi_lb": rb.pi_lb,
        "pi_ub": rb.pi_ub,
    }  # fmt: skip
    check(got, case, case["dataset"])
    assert rb.n_clusters == case["n_clusters"]


@pytest.mark.parametrize("name", sorted({c["dataset"] for c in FIXTURE["leave1study"]}))
def test_leave_one_study_out_matches_metafor(name):
    d = DATASETS[name]
    for test in ("z", "t"):
        cases = [c for c in FIXTURE["leave1study"] if c["dataset"] == name and c["test"] == test]
        rows = {r["study_id"]: r for r in leave1study(d["yi"], d["V"], d["study"], "REML", test)}
        assert set(rows) == {c["omitted_study"] for c in cases}
        for c in cases:
            r = rows[c["omitted_study"]]
            if c["error"] is not None:
                assert r["status"] == c["error"] and np.isnan(r["estimate"])
                continue
            fields = ["estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "pi_lb", "pi_ub"]
            got = {f: r[f] for f in fields} | {"QE": r["q"]}
            if c["solved"] == "exact_total_only":
                got["sigma2_total"] = r["sigma2_study"] + r["sigma2_comparison"]
            else:
                got |= {"sigma2_study": r["sigma2_study"],
                        "sigma2_comparison": r["sigma2_comparison"]}  # fmt: skip
            check(got, c, f"{name} without {c['omitted_study']}")


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_sampling_covariance_equals_the_fixture(name):
    """Our V from the arms' events and vi equals the V metafor was given, pair rules too."""
    d = DATASETS[name]
    rows = pd.DataFrame({
        "study_id": d["study"], "comparison_id": d["comparison"], "treatment_arm": d["treatment"],
        "control_arm": d["control"], "vi": d["vi"],
        "events_t": [np.nan if e is None else e for e in d["events_t"]],
        "events_c": [np.nan if e is None else e for e in d["events_c"]],
    })  # fmt: skip
    V, pairs = sampling_covariance(rows)
    np.testing.assert_allclose(V, np.array(d["V"], dtype=float), rtol=1e-14, atol=1e-17)
    assert len(pairs) == sum(1 for p in d["shared_arm"] if p["cov"] != 0)
    for p, ref in zip(pairs.to_dict("records"), d["shared_arm"], strict=False):
        assert p["rule"].startswith(ref["rule"]) and ("capped" in p["rule"]) == ref["capped"]


def test_fixture_is_not_vacuous():
    assert len(FIXTURE["fits"]) >= 60 and len(FIXTURE["robust"]) >= 30
    zeros = {(c["dataset"], c["method"]) for c in FIXTURE["fits"]
             if c["sigma2_study"] == 0 or c["sigma2_comparison"] == 0}  # fmt: skip
    assert len(zeros) >= 6  # sigma2 components at 0
    assert {DATASETS[c["dataset"]]["k_studies"] for c in FIXTURE["fits"]} >= {2, 3}
