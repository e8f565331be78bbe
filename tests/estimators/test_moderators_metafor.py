"""Meta-regression equals R metafor's rma.uni(yi, vi, mods = ...) within 1e-5 abs + 1e-5 rel.

The reference is tests/fixtures/moderators_metafor.json, made by moderators_metafor.R
(metafor 3.8.1, control tol = threshold = 1e-12, maxiter = 10000).
"""

import math

import numpy as np
import pytest

from survmeta.estimators.moderators import dummy_mods, metareg, rma_mods
from survmeta.estimators.pymare_ext import MetaforEstimator
from survmeta.estimators.rma import rma

from .reference import close, load, value

FIXTURE = load("moderators_metafor.json")
DATASETS = {d["id"]: d for d in FIXTURE["datasets"]}

#: per-term arrays: ours -> metafor's
TERM_FIELDS = {
    "beta": "b",
    "se": "se",
    "zval": "zval",
    "pval": "pval",
    "ci_lb": "ci_lb",
    "ci_ub": "ci_ub",
}
#: per-model values: ours -> metafor's
MODEL_FIELDS = {
    "tau2": "tau2",
    "qe": "QE",
    "qep": "QEp",
    "qm": "QM",
    "qmp": "QMp",
    "i2": "I2",
    "h2": "H2",
    "r2": "R2",
}


def design(data, spec):
    """Moderators of a fixture spec as (mods, terms) for rma_mods."""
    if spec == "none":
        return None, []
    cols, terms = [], []
    for name in spec.split("+"):
        col = data["cols"][name]
        if isinstance(col[0], str):
            m, t, _ = dummy_mods(col, name)
            cols.append(m)
            terms += t
        else:
            cols.append(np.array(col, dtype=float)[:, None])
            terms.append(name)
    return np.column_stack(cols), terms


def fit_case(case):
    data = DATASETS[case["dataset"]]
    mods, terms = design(data, case["mods"])
    return rma_mods(
        np.array(data["yi"]),
        np.array(data["vi"]),
        mods,
        case["method"],
        case["test"],
        case["level"] / 100,
        terms=terms,
    )


def compare(res, case, d=0):
    """Names of the numbers that differ from metafor's, and how many were compared."""
    bad, n = [], 0
    assert res.terms == case["terms"], (res.terms, case["terms"])
    for ours, theirs in TERM_FIELDS.items():
        for j, ref in enumerate(case[theirs]):
            got = float(getattr(res, ours)[j, d])
            n += 1
            if not close(got, value(ref)):
                bad.append(f"{ours}[{j}]: {got!r} != {ref!r}")
    for ours, theirs in MODEL_FIELDS.items():
        got, ref = float(getattr(res, ours)[d]), value(case[theirs])
        n += 1
        if not close(got, ref):
            bad.append(f"{ours}: {got!r} != {ref!r}")
    qmdf = case["QMdf"]
    assert res.qm_df == value(qmdf[0])
    assert (math.isnan(res.qm_df2[d]) and qmdf[1] is None) or res.qm_df2[d] == value(qmdf[1])
    return bad, n


CASES = FIXTURE["metareg"]


def metareg_case(dataset, mods, method, test, level=95):
    """The fixture's fit for these settings."""
    want = (dataset, mods, method, test, level)
    return next(
        c for c in CASES if (c["dataset"], c["mods"], c["method"], c["test"], c["level"]) == want
    )


@pytest.mark.parametrize(
    "case",
    CASES,
    ids=lambda c: f"{c['dataset']}-{c['mods']}-{c['method']}-{c['test']}-{c['level']}",
)
def test_matches_metafor(case):
    if case["error"] is not None and case["error"].startswith("Number of parameters"):
        with pytest.raises(ValueError, match="Number of parameters"):
            fit_case(case)
        return
    res = fit_case(case)
    if case["error"] is not None:
        assert res.error[0] is not None, f"metafor failed ({case['error']}) but we did not"
        assert case["error"].startswith(res.error[0].split(".")[0]), (res.error[0], case["error"])
        assert np.isnan(res.beta[:, 0]).all() and np.isnan(res.tau2[0])
        return
    assert res.error[0] is None, res.error[0]
    bad, _ = compare(res, case)
    assert not bad, "; ".join(bad)
    if case["warning"] and "local maximum" in case["warning"]:
        assert res.warning[0] is not None and "local maximum" in res.warning[0]


def test_fixture_is_not_vacuous():
    """Most fits succeed in metafor and so have their numbers compared above."""
    ok = [c for c in CASES if c["error"] is None]
    assert len(ok) > 600 and sum(len(c["b"]) for c in ok) > 1000


@pytest.mark.parametrize("method", ["REML", "PM", "EB", "DL"])
def test_stacked_fit_equals_single_fits(method):
    """D datasets with a common X in one call give each one's own numbers."""
    data = DATASETS["het_k12"]
    x = np.array(data["cols"]["x"])
    rng = np.random.default_rng(1)
    y = np.array(data["yi"])[:, None] + rng.normal(0, 0.3, (12, 5))
    v = np.array(data["vi"])[:, None] * rng.uniform(0.5, 2, (12, 5))
    stacked = rma_mods(y, v, x, method, "knha")
    for j in range(5):
        single = rma_mods(y[:, j], v[:, j], x, method, "knha")
        np.testing.assert_allclose(stacked.beta[:, j], single.beta[:, 0], rtol=1e-10)
        np.testing.assert_allclose(stacked.tau2[j], single.tau2[0], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(stacked.r2[j], single.r2[0], rtol=1e-10, atol=1e-12)


def test_metareg_frame_columns_and_factor():
    data = DATASETS["bcg"]
    y, v = np.array(data["yi"]), np.array(data["vi"])
    frame = metareg(y, v, data["cols"]["alloc"], "REML", "z", name="alloc")
    assert list(frame["term"]) == ["intrcpt", "allocrandom", "allocsystematic"]
    for col in "estimate se zval pval ci_lb ci_ub qm qmp r2 qm_df tau2 qe qep i2".split():
        assert col in frame
    ref = metareg_case("bcg", "alloc", "REML", "z")
    assert close(frame["qm"].iloc[0], value(ref["QM"]))
    cont = metareg(y, v, data["cols"]["ablat"], "REML", "knha", name="ablat")
    assert list(cont["term"]) == ["intrcpt", "ablat"]


def test_redundant_moderator_dropped_as_metafor():
    """A constant moderator is dropped (metafor: 'Redundant predictors dropped')."""
    data = DATASETS["het_k12"]
    y, v = np.array(data["yi"]), np.array(data["vi"])
    res = rma_mods(y, v, np.full(12, 3.0), "REML", "z")
    assert res.terms == ["intrcpt"] and res.notes
    np.testing.assert_allclose(res.tau2, rma(y, v, "REML").tau2)


def test_pymare_estimator_interface():
    data = DATASETS["bcg"]
    y, v = np.array(data["yi"]), np.array(data["vi"])
    X = np.column_stack([np.ones(13), data["cols"]["ablat"]])
    est = MetaforEstimator("REML").fit(y, v, X)
    ref = metareg_case("bcg", "ablat", "REML", "z")
    assert close(float(est.params_["tau2"][0]), value(ref["tau2"]))
    assert close(float(est.params_["fe_params"][1, 0]), value(ref["b"][1]))
    assert est.params_["inv_cov"].shape == (2, 2, 1)
