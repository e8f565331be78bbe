"""Sensitivity analyses equal R metafor's within 1e-5 abs + 1e-5 rel.

The reference is tests/fixtures/sensitivity_metafor.json, made by
sensitivity_metafor.R (metafor 3.8.1, control tol = threshold = 1e-12,
maxiter = 10000): leave1out, cumul, influence, gosh and permutest.
"""

import math

import numpy as np
import pandas as pd
import pytest

from survmeta.estimators.gosh import gosh, included, mask_members, subset_masks, write_gosh_csv
from survmeta.estimators.permutation import permutest
from survmeta.estimators.sensitivity import cumul, influence, leave1out

from .reference import close, load, value

FIXTURE = load("sensitivity_metafor.json")
DATASETS = {d["id"]: d for d in FIXTURE["datasets"]}

LIST_FIELDS = {
    "estimate": "estimate", "se": "se", "zval": "zval", "pval": "pval", "ci_lb": "ci.lb",
    "ci_ub": "ci.ub", "q": "Q", "qp": "Qp", "tau2": "tau2", "i2": "I2", "h2": "H2",
}  # fmt: skip
INFLUENCE_FIELDS = {
    "rstudent": "rstudent", "dffits": "dffits", "cook_d": "cook.d", "cov_r": "cov.r",
    "tau2_del": "tau2.del", "qe_del": "QE.del", "hat": "hat", "weight": "weight",
    "dfbs": "dfbs",
}  # fmt: skip
GOSH_FIELDS = {"estimate": "estimate", "tau2": "tau2", "i2": "I2", "h2": "H2", "q": "QE"}

COUNT = {"compared": 0}


def compare(df, fields, ref):
    """Every (row, column) against metafor; returns the mismatches."""
    bad = []
    for ours, theirs in fields.items():
        got = df[ours].to_numpy(dtype=float)
        want = [value(x) for x in ref[theirs]]
        assert len(got) == len(want), (ours, len(got), len(want))
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            COUNT["compared"] += 1
            if not close(float(g), w):
                bad.append(f"{ours}[{i}]: {g!r} != {w!r}")
    return bad


def data(case):
    d = DATASETS[case["dataset"]]
    return np.array(d["yi"]), np.array(d["vi"]), np.array(d["year"])


def cases(name):
    """The fixture's records; a decline that does not depend on the test is checked once."""
    z_errors = {
        (c["dataset"], c["method"], c["error"]) for c in FIXTURE[name] if c.get("test") == "z"
    }
    return [
        c
        for c in FIXTURE[name]
        if c["error"] is None
        or c.get("test") != "knha"
        or (c["dataset"], c["method"], c["error"]) not in z_errors
    ]


def case_id(c):
    return "-".join(str(c[key]) for key in ("dataset", "method", "test") if key in c)


def check_declines(case, func, *args, **kwargs):
    """Where metafor stops, we raise ValueError with metafor's reason."""
    with pytest.raises(ValueError) as err:
        func(*args, **kwargs)
    reason = case["error"].split(": ")[-1].split(".")[0]
    assert reason in str(err.value), (str(err.value), case["error"])


@pytest.mark.parametrize("case", cases("leave1out"), ids=case_id)
def test_leave1out(case):
    y, v, _ = data(case)
    args = (y, v, case["method"], case["test"])
    if case["error"] is not None:
        return check_declines(case, leave1out, *args)
    df = leave1out(*args)
    assert list(df["study_id"]) == list(range(1, len(y) + 1))
    bad = compare(df, LIST_FIELDS, case["rows"])
    assert not bad, "; ".join(bad)


@pytest.mark.parametrize("case", cases("cumul"), ids=case_id)
def test_cumul(case):
    y, v, year = data(case)
    args = (y, v, case["method"], case["test"])
    if case["error"] is not None:
        return check_declines(case, cumul, *args, order=year)
    df = cumul(*args, order=year)
    assert list(df["study_id"]) == [int(i) for i in case["order"]]
    bad = compare(df, LIST_FIELDS, case["rows"])
    assert not bad, "; ".join(bad)


@pytest.mark.parametrize("case", cases("influence"), ids=case_id)
def test_influence(case):
    y, v, _ = data(case)
    args = (y, v, case["method"], case["test"])
    if case["error"] is not None:
        return check_declines(case, influence, *args)
    df = influence(*args)
    bad = compare(df, INFLUENCE_FIELDS, case["rows"])
    assert not bad, "; ".join(bad)
    assert list(df["inf"]) == [flag == "*" for flag in case["inf"]]


@pytest.mark.parametrize("case", FIXTURE["gosh"], ids=case_id)
def test_gosh(case):
    y, v, _ = data(case)
    if case["error"] is not None:
        return check_declines(case, gosh, y, v, case["method"])
    df = gosh(y, v, case["method"])
    assert df.attrs["exact"]
    assert df["mask"].tolist() == [int(m) for m in case["mask"]]
    assert df["k"].tolist() == [int(m) for m in case["k"]]
    bad = compare(df, GOSH_FIELDS, case)
    assert not bad, "; ".join(bad[:20])


@pytest.mark.parametrize("case", cases("permutest"), ids=case_id)
def test_permutest_exact(case):
    y, v, _ = data(case)
    args = (y, v, case["method"], case["test"])
    if case["error"] is not None:
        return check_declines(case, permutest, *args, exact=case["exact_arg"])
    df = permutest(*args, exact=case["exact_arg"])
    assert bool(df["exact"].iloc[0]) is case["exact"] is True
    assert int(df["iter"].iloc[0]) == case["iter"]
    COUNT["compared"] += 1
    assert close(float(df["pval"].iloc[0]), value(case["pval"]))


def test_permutest_random_decision():
    """k = 12 without exact=TRUE: 1000 random sign flips, as metafor decides."""
    case = FIXTURE["permutest_random"]
    y, v, _ = data(case)
    df = permutest(y, v, case["method"], case["test"], seed=1)
    assert not df["exact"].iloc[0] and case["exact"] is False
    assert int(df["iter"].iloc[0]) == case["iter"] == 1000


@pytest.mark.parametrize("method,test", [("REML", "z"), ("REML", "knha"), ("DL", "z")])
def test_permutest_random_agrees_with_exact(method, test):
    """The sampled p lies within Monte-Carlo error of metafor's exact p (k = 12)."""
    case = next(
        c
        for c in FIXTURE["permutest"]
        if c["dataset"] == "outlier_k12" and c["method"] == method and c["test"] == test
    )
    y, v, _ = data(case)
    p_exact = value(case["pval"])
    iters = 4000
    a = permutest(y, v, method, test, iter=iters, seed=11)
    b = permutest(y, v, method, test, iter=iters, seed=11)
    pd.testing.assert_frame_equal(a, b)
    assert not a["exact"].iloc[0] and a["iter"].iloc[0] == iters
    sd = math.sqrt(p_exact * (1 - p_exact) / iters)
    assert abs(a["pval"].iloc[0] - p_exact) <= 4 * sd + 1 / iters
    ours_exact = permutest(y, v, method, test, exact=True)
    assert ours_exact["pval"].iloc[0] == pytest.approx(p_exact, abs=1e-12)


def test_gosh_mask_is_subset():
    """Bit i of mask <-> study i in the subset: a k = 1 subset's estimate is that study's."""
    d = DATASETS["het_k8"]
    y, v = np.array(d["yi"]), np.array(d["vi"])
    df = gosh(y, v, "REML")
    singles = df[df["k"] == 1]
    for mask, est in zip(singles["mask"], singles["estimate"], strict=True):
        assert est == y[int(mask).bit_length() - 1]
    # a subset fitted alone equals its row
    row = df[df["mask"] == 0b10110101].iloc[0]
    members = [i for i in range(8) if 0b10110101 >> i & 1]
    alone = gosh(y[members], v[members], "REML")
    np.testing.assert_allclose(
        alone.iloc[-1][["estimate", "tau2", "q"]].to_numpy(dtype=float),
        row[["estimate", "tau2", "q"]].to_numpy(dtype=float),
        rtol=1e-12,
    )
    assert np.bitwise_count(df["mask"].to_numpy()).tolist() == df["k"].tolist()
    idx = mask_members(np.array([0b1011, 0b1110]), 4, 3)
    assert idx.tolist() == [[0, 1, 3], [1, 2, 3]]
    assert included(np.array([0b101]), ["a", "b", "c"]) == ["a;c"]


def test_gosh_random_sample_is_seeded(tmp_path):
    """Beyond ``subsets`` a random sample is drawn; the same seed gives the same rows."""
    d = DATASETS["outlier_k12"]
    y, v = np.array(d["yi"]), np.array(d["vi"])
    a = gosh(y, v, "REML", subsets=500, seed=3)
    b = gosh(y, v, "REML", subsets=500, seed=3)
    c = gosh(y, v, "REML", subsets=500, seed=4)
    assert not a.attrs["exact"] and len(a) == 500
    pd.testing.assert_frame_equal(a, b)
    assert not a["mask"].equals(c["mask"])
    assert (np.diff(a["k"]) >= 0).all() and a["k"].min() >= 1
    assert (np.bitwise_count(a["mask"].to_numpy()) == a["k"].to_numpy()).all()
    # each sampled row equals the exact enumeration's row for that subset
    full = gosh(y, v, "REML").set_index("mask")
    pd.testing.assert_frame_equal(
        a.set_index("mask"), full.loc[a["mask"]], check_exact=False, rtol=1e-12
    )
    masks, sizes, exact = subset_masks(20, 10**6, seed=0)
    assert not exact and masks.size == 10**6 and sizes.max() <= 20
    # written as the workflow writes it
    write_gosh_csv(a, tmp_path / "g.csv", labels=[f"s{i}" for i in range(12)])
    back = pd.read_csv(tmp_path / "g.csv")
    assert list(back.columns) == ["mask", "included", "k", "estimate", "tau2", "i2", "h2", "q"]
    np.testing.assert_allclose(back["estimate"], a["estimate"], rtol=1e-11)


def test_declines_like_metafor():
    with pytest.raises(ValueError, match="k = 1"):
        leave1out([0.1], [0.1])
    with pytest.raises(ValueError, match="k = 1"):
        influence([0.1], [0.1])
    with pytest.raises(ValueError, match="k = 1"):
        gosh([0.1], [0.1])
    with pytest.raises(ValueError, match="subsets"):
        gosh([0.1, 0.2], [0.1, 0.1], subsets=1)
    with pytest.raises(ValueError, match="iter"):
        permutest([0.1, 0.2], [0.1, 0.1], iter=1)
    # knha model with zero Knapp-Hartung variance: metafor's chol() fails
    with pytest.raises(ValueError, match="positive definite"):
        influence([0.3, 0.3, 0.3], [0.1, 0.2, 0.3], "REML", "knha")
    # k = 1: cumul and permutest still work (a single z-test fit)
    assert cumul([0.3], [0.1])["estimate"].tolist() == [0.3]
    assert permutest([0.3], [0.1])["pval"].iloc[0] == 1.0


def test_zz_numbers_compared():
    """Runs last (module order): how many numbers were compared with metafor."""
    print(f"\n{COUNT['compared']} numbers compared with metafor")
    assert COUNT["compared"] > 10_000
