"""The registry of harmonization methods: the precedence contract and what each declares."""

import re
from pathlib import Path

import pytest

from survmeta.harmonize import MEDIAN_METHODS, METHODS, REGISTRY, SECONDARY
from survmeta.harmonize.base import Derivation, Failed
from survmeta.harmonize.registry import Method, method, methods
from survmeta.report.methods_text import REFERENCES, Citer, method_info, methods_section

from .helpers import arm, comparison

DOCS = Path(__file__).parents[2] / "docs" / "methods.md"

#: methods.md §1's table, in its order: the precedence is a contract (design.md, the report).
PRECEDENCE = [
    "hr_ci",
    "logrank_oe",
    "hr_p",
    "p_events",
    "km_reconstruction",
    "survival_curve",
    "median_ratio",
    "median_ci",
    "median_p",
]


def table_order() -> list[str]:
    """The source_method column of docs/methods.md §1's table, top to bottom."""
    section = DOCS.read_text(encoding="utf-8").split("## 1.")[1].split("## 2.")[0]
    return re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE)


def test_precedence_is_the_table_of_methods_md():
    chosen_by = [m.name for m in METHODS if not m.secondary]
    assert chosen_by == PRECEDENCE
    assert table_order() == PRECEDENCE


def test_secondary_and_median_methods():
    # survival_curve_oe is shown beside survival_curve (just after it), never chosen
    names = [m.name for m in METHODS]
    assert SECONDARY == {"survival_curve_oe"}
    assert names.index("survival_curve_oe") == names.index("survival_curve") + 1
    assert [m.name for m in MEDIAN_METHODS] == ["median_ratio", "median_ci", "median_p"]


def test_hazard_based_are_the_methods_that_do_not_assume_exponential_survival():
    hazard = {m.name for m in METHODS if m.hazard_based and not m.secondary}
    assert hazard == {
        "hr_ci",
        "hr_p",
        "logrank_oe",
        "p_events",
        "km_reconstruction",
        "survival_curve",
    }


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_method_declares_formula_sources_and_report_text(name):
    m = REGISTRY[name]
    assert m.formula and m.needs and m.label
    assert m.sources and all(s.key and len(s.citation) > 40 for s in m.sources)
    assert all(REFERENCES[k] for k in m.refs)  # the report can cite every source
    assert method_info(name) is m  # the report reads the registry, nothing else
    if m.median:
        assert m.formula_mr


def test_the_p_based_methods_are_floored():
    assert {m.name for m in METHODS if m.floor} == {"hr_p", "p_events", "median_p"}


def test_the_report_prints_each_caveat_once_with_its_methods():
    cite = Citer()
    caveats = methods_section({"analyses": []}, {"median_p": 1}, cite)["caveats"]
    texts = [c["text"] for c in caveats]
    assert len(texts) == len(set(texts))
    by_text = {c["text"][:30]: c["methods"] for c in caveats}
    assert by_text["Median-based methods under-cov"] == ("median_ratio", "median_ci", "median_p")
    assert by_text["A p-value printed as a bound ("] == ("hr_p", "p_events", "median_p")
    # the methods paragraph cites the method's own sources, numbered in order of use
    para = methods_section({"analyses": []}, {"median_p": 2}, Citer())["paragraphs"][0]
    assert "median_p (median survival per arm and the p-value of their comparison; 2 " in para


def test_an_undocumented_method_name_still_renders():
    info = method_info("not_a_method")
    assert info.formula == "see docs/methods.md" and info.refs == ()


def test_a_method_cannot_take_a_precedence_already_taken():
    with pytest.raises(RuntimeError, match="registered twice"):
        method(
            precedence=REGISTRY["hr_p"].precedence,
            label="x",
            needs="x",
            formula="x",
            sources=(),
        )(lambda comp: None)
    assert len(methods()) == len(METHODS)


def _bare(derive) -> Method:
    return Method(
        name="bare", precedence=999, derive=derive, label="", needs="", formula="", sources=()
    )


@pytest.mark.parametrize(
    "derive,why",
    [
        (lambda c: Derivation("bare", 1 / 0, 1.0), "ZeroDivisionError"),
        (lambda c: Derivation("bare", __import__("math").log(0), 1.0), "math domain error"),
        (lambda c: Derivation("bare", __import__("math").exp(1000), 1.0), "OverflowError"),
        (lambda c: Derivation("bare", float("inf"), 1.0), "no finite estimate"),
        (lambda c: Derivation("bare", 0.1, float("nan")), "no finite estimate"),
        (lambda c: Derivation("bare", 0.1, 0.0), "infinite precision"),
    ],
)
def test_any_arithmetic_failure_becomes_failed_for_that_method(derive, why):
    with pytest.raises(Failed, match=why):
        _bare(derive)(comparison(arm("t", n=10), arm("c", n=10)))


def test_a_method_declared_to_decline_below_the_floor_declines():
    # vi 0.001 against the arms' 1/n_T + 1/n_C = 0.2: Failed, so the next method is tried
    m = Method(name="bare", precedence=999, derive=lambda c: Derivation("bare", 0.1, 0.001),
               label="", needs="", formula="", sources=(), floor="decline")  # fmt: skip
    with pytest.raises(Failed, match="below the information bound 1/n_T . 1/n_C = 0.2"):
        m(comparison(arm("t", n=10), arm("c", n=10)))


def test_every_method_names_the_tables_it_reads():
    for m in METHODS:
        assert "arms" in m.reads
    assert "contrasts" in REGISTRY["p_events"].reads
    assert "survival_points" in REGISTRY["survival_curve"].reads
