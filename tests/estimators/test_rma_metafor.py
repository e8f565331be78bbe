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

# ours -> metafor's name: the model (rma), predict() and confint()
MODEL = {
    "estimate": "estimate", "se": "se", "ci_lb": "ci_lb", "ci_ub": "ci_ub", "zval": "zval",
    "pval": "pval", "tau2": "tau2", "i2": "I2", "h2": "H2", "qe": "QE", "qep": "QEp",
}  # fmt: skip
PREDICT = {"pi_lb": "pi_lb", "pi_ub": "pi_ub"}
CONFINT = {
    "tau2_ci_lb": "tau2_ci_lb", "tau2_ci_ub": "tau2_ci_ub", "i2_ci_lb": "I2_ci_lb",
    "i2_ci_ub": "I2_ci_ub", "h2_ci_lb": "H2_ci_lb", "h2_ci_ub": "H2_ci_ub",
}  # fmt: skip
FIELDS = {**MODEL, **PREDICT, **CONFINT}


class Fitted:
    """One fixture case fitted: rma(), predict() and confint() values by our name."""

    def __init__(self, res):
        self.res, self.pred, self.ci = res, res.predict(), res.confint()

    def __getattr__(self, name):
        src = self.pred if name in PREDICT else self.ci if name in CONFINT else self.res
        arr = getattr(src, name)
        return arr[0] if name in ("se", "zval", "pval", "ci_lb", "ci_ub") else arr


def fit_case(case, level=0.95):
    data = DATASETS[case["dataset"]]
    y, v = np.array(data["yi"]), np.array(data["vi"])
    return Fitted(rma(y, v, case["method"], case["test"], level))


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
        "ci_lb",
        "ci_ub",
        "pi_lb",
        "pi_ub",
        "tau2",
        "tau2_ci_lb",
        "tau2_ci_ub",
    ):
        assert close(float(getattr(res, ours)[0]), value(case[FIELDS[ours]])), ours


@pytest.mark.parametrize("method", ["DL", "REML", "PM", "EB", "SJ"])
@pytest.mark.parametrize("test", ["z", "knha"])
def test_ragged_stack_matches_metafor(method, test):
    """Every dataset of the fixture (k = 2 to 30) in one padded call equals metafor's fits."""
    from survmeta.estimators.stack import stack

    cases = [c for c in FIXTURE["fits"] if c["method"] == method and c["test"] == test]
    data = [(DATASETS[c["dataset"]]["yi"], DATASETS[c["dataset"]]["vi"]) for c in cases]
    y, v, m = stack(data)
    assert len({len(d[0]) for d in data}) > 5  # really ragged
    res = rma(y, v, method, test, present=m)
    ci = res.confint()
    for j, case in enumerate(cases):
        if case["error"] is not None:
            assert res.error[j] is not None
            continue
        for ours, theirs, got in (
            ("estimate", "estimate", res.estimate[j]),
            ("se", "se", res.se[0, j]),
            ("tau2", "tau2", res.tau2[j]),
            ("qe", "QE", res.qe[j]),
            ("tau2_ci_ub", "tau2_ci_ub", ci.tau2_ci_ub[j]),
        ):
            if case.get("confint_error") and ours == "tau2_ci_ub":
                continue
            assert close(float(got), value(case[theirs])), (case["dataset"], ours)
