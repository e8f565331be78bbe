"""Pooled numbers equal R metafor's (rma.uni, predict, confint) within 1e-5 abs + 1e-5 rel.

The reference is tests/fixtures/pooling_metafor.json, made by pooling_metafor.R
(metafor 3.8.1, control tol = threshold = 1e-12, maxiter = 10000).
"""

import math

import numpy as np
import pytest

from survmeta.estimators.rma import rma

from .reference import close, load, value

FIXTURE = load("pooling_metafor.json")
DATASETS = {d["id"]: d for d in FIXTURE["datasets"]}

# ours -> metafor's name
FIELDS = {
    "estimate": "estimate",
    "se": "se",
    "ci_low": "ci_lb",
    "ci_high": "ci_ub",
    "stat": "zval",
    "p": "pval",
    "tau2": "tau2",
    "i2": "I2",
    "h2": "H2",
    "q": "QE",
    "q_p": "QEp",
    "pi_low": "pi_lb",
    "pi_high": "pi_ub",
    "tau2_ci_low": "tau2_ci_lb",
    "tau2_ci_high": "tau2_ci_ub",
    "i2_ci_low": "I2_ci_lb",
    "i2_ci_high": "I2_ci_ub",
    "h2_ci_low": "H2_ci_lb",
    "h2_ci_high": "H2_ci_ub",
}


def fit_case(case, level=0.95):
    data = DATASETS[case["dataset"]]
    y, v = np.array(data["yi"]), np.array(data["vi"])
    return rma(y, v, case["method"], case["test"], level)


@pytest.mark.parametrize(
    "case", FIXTURE["fits"], ids=lambda c: f"{c['dataset']}-{c['method']}-{c['test']}"
)
def test_matches_metafor(case):
    res = fit_case(case)
    if case["error"] is not None:
        assert res.error[0] is not None, f"metafor failed ({case['error']}) but we did not"
        assert case["error"].startswith(res.error[0].split(".")[0]), (res.error[0], case["error"])
        assert math.isnan(res.estimate[0]) and math.isnan(res.tau2[0])
        return
    assert res.error[0] is None, res.error[0]
    bad = []
    for ours, theirs in FIELDS.items():
        if theirs not in case or (case.get("confint_error") and "_ci_" in ours):
            continue
        got, ref = float(getattr(res, ours)[0]), value(case[theirs])
        if not close(got, ref):
            bad.append(f"{ours}: {got!r} != {ref!r}")
    assert not bad, "; ".join(bad)


def test_level_90():
    case = FIXTURE["level90"]
    res = fit_case(case, level=0.90)
    for ours in (
        "estimate",
        "ci_low",
        "ci_high",
        "pi_low",
        "pi_high",
        "tau2",
        "tau2_ci_low",
        "tau2_ci_high",
    ):
        assert close(float(getattr(res, ours)[0]), value(case[FIELDS[ours]])), ours


def test_stacked_fit_equals_single_fits():
    """Fitting several datasets of equal k at once gives each one's own numbers."""
    same_k = [d for d in FIXTURE["datasets"] if len(d["yi"]) == 5]
    y = np.column_stack([d["yi"] for d in same_k])
    v = np.column_stack([d["vi"] for d in same_k])
    for method in ("REML", "PM", "EB"):
        stacked = rma(y, v, method, "knha")
        for j, d in enumerate(same_k):
            single = rma(np.array(d["yi"]), np.array(d["vi"]), method, "knha")
            np.testing.assert_allclose(stacked.estimate[j], single.estimate[0], rtol=1e-12)
            np.testing.assert_allclose(stacked.tau2_ci_high[j], single.tau2_ci_high[0], rtol=1e-12)
