"""Every metafor 3.8.1 rma.uni estimator with every test, and both tau^2 CIs, within 1e-5.

Reference: tests/fixtures/fewstudies_metafor.json, made by fewstudies_metafor.R (k = 2 to
40; DL, REML, ML, PM, SJ, HE, EB, HS, HSk, PMM x z, t, knha, adhoc; Q-profile and, for ML
and REML, profile-likelihood CIs of tau^2; failures with metafor's reason).
"""

import numpy as np
import pytest

from survmeta.estimators.rma import rma

from .reference import close, load, value

FIXTURE = load("fewstudies_metafor.json")
DATASETS = {d["id"]: d for d in FIXTURE["datasets"]}
MODEL = {
    "estimate": "estimate", "se": "se", "zval": "zval", "pval": "pval", "ci_lb": "ci_lb",
    "ci_ub": "ci_ub", "dfs": "df", "tau2": "tau2", "i2": "I2", "h2": "H2", "qe": "QE",
    "qep": "QEp",
}  # fmt: skip


def _id(c):
    return f"{c['dataset']}-{c['method']}-{c['test']}-{c['level']}"


@pytest.mark.parametrize("case", FIXTURE["fits"], ids=_id)
def test_matches_metafor(case):
    d = DATASETS[case["dataset"]]
    level = case["level"] / 100
    res = rma(np.array(d["yi"]), np.array(d["vi"]), case["method"], case["test"], level)
    if case["error"] is not None:
        assert res.error[0] is not None, f"metafor failed ({case['error']}) but we did not"
        assert case["error"].startswith(res.error[0].split(".")[0])
        assert np.isnan(res.estimate[0])
        return
    assert res.error[0] is None, res.error[0]
    got = {theirs: float(res.column(ours)[0]) for ours, theirs in MODEL.items()}
    pred = res.predict()
    got |= {"pi_lb": pred.pi_lb[0], "pi_ub": pred.pi_ub[0]}
    if case["confint_error"] is None:
        ci = res.confint()
        got |= {"tau2_ci_lb": ci.tau2_ci_lb[0], "tau2_ci_ub": ci.tau2_ci_ub[0],
                "I2_ci_lb": ci.i2_ci_lb[0], "I2_ci_ub": ci.i2_ci_ub[0]}  # fmt: skip
    if case["method"] in ("ML", "REML"):
        lb, ub = res.confint_pl()
        got |= {"tau2_pl_lb": lb[0], "tau2_pl_ub": ub[0]}
    bad = [f"{k}: {g!r} != {case[k]!r}" for k, g in got.items() if not close(g, value(case[k]))]
    assert not bad, "; ".join(bad)


def test_fixture_covers_what_the_issue_asks():
    fits = FIXTURE["fits"]
    assert {f["method"] for f in fits} == {
        "DL", "REML", "ML", "PM", "SJ", "HE", "EB", "HS", "HSk", "PMM"
    }  # fmt: skip
    assert {f["test"] for f in fits} == {"z", "t", "knha", "adhoc"}
    assert {len(d["yi"]) for d in DATASETS.values()} >= {2, 3, 5, 10, 20, 40}
    assert sum(f["error"] is not None for f in fits) >= 20  # estimators that fail
    assert sum(f["error"] is None and value(f["tau2"]) == 0 for f in fits) > 100
    assert sum(f.get("tau2_pl_ub_sign") == ">" for f in fits) > 10  # PL bound at its cap
