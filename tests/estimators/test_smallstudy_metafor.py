"""regtest, ranktest and trimfill equal R metafor's within 1e-5 abs + 1e-5 rel.

Reference: tests/fixtures/moderators_metafor.json ("smallstudy", "trimfill_extra"),
made by moderators_metafor.R (metafor 3.8.1, fully converged control).
"""

import math

import numpy as np
import pytest

from survmeta.estimators.smallstudy import kendall_cdf, ranktest, regtest, trimfill

from .reference import close, load, value

FIXTURE = load("moderators_metafor.json")
DATASETS = {d["id"]: d for d in FIXTURE["datasets"]}
CASES = [c for c in FIXTURE["smallstudy"] if c["error"] is None]


def data(case):
    d = DATASETS[case["dataset"]]
    return np.array(d["yi"]), np.array(d["vi"])


def ids(c):
    return f"{c['dataset']}-{c['method']}-{c['test']}"


def check(got: dict, ref: dict, names) -> list[str]:
    bad = []
    for ours, theirs in names.items():
        g, r = float(got[ours]), value(ref[theirs])
        if not close(g, r):
            bad.append(f"{ours}: {g!r} != {r!r}")
    return bad


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_regtest(case):
    y, v = data(case)
    ref = case["regtest"]
    if ref["error"] is not None and y.size < 3:
        with pytest.raises(ValueError, match=ref["error"][:30]):
            regtest(y, v, case["method"], case["test"])
        return
    row = regtest(y, v, case["method"], case["test"]).iloc[0]
    if ref["error"] is not None:
        assert row["error"] == ref["error"]
        assert math.isnan(row["zval"])
        return
    assert row["error"] is None
    bad = check(
        row,
        ref,
        {
            "zval": "zval",
            "pval": "pval",
            "dfs": "dfs",
            "est": "est",
            "ci_lb": "ci_lb",
            "ci_ub": "ci_ub",
            "tau2": "tau2",
        },
    )
    assert not bad, "; ".join(bad)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c["method"] == "REML" and c["test"] == "z"], ids=ids
)
def test_ranktest(case):
    y, v = data(case)
    ref = case["ranktest"]
    row = ranktest(y, v).iloc[0]
    assert close(row["tau"], value(ref["tau"])), (row["tau"], ref["tau"])
    assert close(row["pval"], value(ref["pval"])), (row["pval"], ref["pval"])
    assert (row["warning"] or None) == (ref["warning"] or None)


TF_FIELDS = {
    "estimate": "estimate",
    "se": "se",
    "zval": "zval",
    "pval": "pval",
    "ci_lb": "ci_lb",
    "ci_ub": "ci_ub",
    "tau2": "tau2",
    "i2": "I2",
    "h2": "H2",
    "qe": "QE",
    "qep": "QEp",
    "se_k0": "se_k0",
    "p_k0": "p_k0",
}


def check_trimfill(y, v, ref, **kw):
    if ref["error"] is not None:
        with pytest.raises(ValueError) as exc:
            trimfill(y, v, **kw)
        assert str(exc.value) == ref["error"]
        return
    tf = trimfill(y, v, **kw)
    assert tf.k0 == value(ref["k0"]) and tf.side == ref["side"] and tf.k == value(ref["k"])
    assert tf.test == ref["test_used"] and tf.level * 100 == value(ref["level_used"])
    got = {name: getattr(tf, name) for name in TF_FIELDS}
    bad = check(got, ref, TF_FIELDS)
    fill_y = [value(x) for x in ref.get("fill_yi") or []]
    fill_v = [value(x) for x in ref.get("fill_vi") or []]
    np.testing.assert_allclose(tf.filled["yi"], fill_y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tf.filled["vi"], fill_v, rtol=1e-12)
    assert not bad, "; ".join(bad)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_trimfill(case):
    y, v = data(case)
    kw = {"method": case["method"], "test": case["test"]}
    check_trimfill(y, v, case["trimfill"], **kw)
    if "trimfill_test" in case:
        check_trimfill(y, v, case["trimfill_test"], refit_as_model=True, **kw)


@pytest.mark.parametrize(
    "case",
    FIXTURE["trimfill_extra"],
    ids=lambda c: f"{c['dataset']}-{c['method']}-{c['side_arg']}-{c['estimator']}",
)
def test_trimfill_side_and_estimator(case):
    y, v = data(case)
    check_trimfill(
        y, v, case, method=case["method"], side=case["side_arg"], estimator=case["estimator"]
    )


def test_trimfill_fills_both_sides():
    """The fixture's asymmetric funnels are filled on the side metafor picks."""
    sides = {c["dataset"]: c["trimfill"].get("side") for c in CASES if c["method"] == "REML"}
    assert sides["asym_left"] == "left" and sides["asym_right"] == "right"
    assert trimfill(*data({"dataset": "asym_left"})).k0 > 0
    assert trimfill(*data({"dataset": "asym_right"})).k0 > 0


def test_regtest_stacked_equals_single():
    sets = [DATASETS[i] for i in ("het_k12", "outlier_k12", "ties_k10")]
    sets = [d for d in sets if len(d["yi"]) == 12]
    y = np.column_stack([d["yi"] for d in sets])
    v = np.column_stack([d["vi"] for d in sets])
    stacked = regtest(y, v, "REML", "knha")
    for j, d in enumerate(sets):
        single = regtest(np.array(d["yi"]), np.array(d["vi"]), "REML", "knha")
        np.testing.assert_allclose(stacked.loc[j, "zval"], single.loc[0, "zval"], rtol=1e-10)


def test_kendall_exact_distribution():
    """The exact null distribution: small n by enumeration, symmetric, sums to 1."""
    from itertools import combinations, permutations

    for n in (2, 3, 4, 5):
        counts = np.zeros(n * (n - 1) // 2 + 1)
        for perm in permutations(range(n)):
            conc = sum(perm[i] < perm[j] for i, j in combinations(range(n), 2))
            counts[conc] += 1
        np.testing.assert_allclose(kendall_cdf(n), np.cumsum(counts) / counts.sum())
    assert kendall_cdf(60)[-1] == pytest.approx(1.0)


def test_ranktest_needs_two_studies():
    with pytest.raises(ValueError, match="not enough finite observations"):
        ranktest(np.array([0.1]), np.array([0.01]))


@pytest.mark.parametrize("case", FIXTURE["ranktest_extra"], ids=lambda c: c["id"])
def test_ranktest_large_k_and_ties(case):
    """Exact Kendall p up to 170 studies, NaN past it (as R), ties: normal approximation."""
    row = ranktest(np.array(case["yi"]), np.array(case["vi"])).iloc[0]
    assert close(row["tau"], value(case["tau"])), (row["tau"], case["tau"])
    assert close(row["pval"], value(case["pval"])), (row["pval"], case["pval"])
    assert (row["warning"] or None) == (case["warning"] or None)
