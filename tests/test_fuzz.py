"""Property: whatever tables and config a team writes, the run ends in results or clean lines.

Hypothesis mutates the shipped review and runs in-process what the workflow runs, in its
order: the config check, validation, the checks against the tables, the cost warnings,
harmonization, pooling with every sensitivity table and GOSH (as the pool job, reading
effects.csv back with the one result reader), and, in the report profile, the figures and
the HTML. Every outcome must be either problems that are each one line naming one of the
files, or complete results; any other exception is a bug.

The mutations are the shapes issue 19 found: nasty cells (Python number spellings,
NA-like and formula-like text, line breaks), dropped, repeated and renamed rows and
columns, studies renamed ``NA`` or ``=cmd``, zero events, zero-width intervals, extreme
but valid numbers (HR 1e-300..1e300, p 1e-320, O-E 400 with V 0.5, CI level 0.0001),
trailing commas, blank lines, and config changes (overlapping classes, unsafe ids,
unknown subgroup columns, permutations 1, pooling.level 0.999999).

Failures in code owned elsewhere are listed in :data:`KNOWN` (where the exception is
raised, and which issue item owns it) and pinned by a strict xfail test each, so the
suite stays green while they are open and says so when one is fixed. Profiles: the
default runs in well under a minute; ``SURVMETA_FUZZ=long`` runs many more examples and
draws the report for each.
"""

from __future__ import annotations

import copy
import csv
import io
import os
import traceback
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from survmeta.config import config_problems, table_problems, with_defaults
from survmeta.costs import cost_warnings
from survmeta.io import read_result, write_csv, write_text
from survmeta.outputs import DIGITS
from survmeta.problems import InputError
from survmeta.tables import DEFAULT_MODALITIES
from survmeta.validate import load_inputs

ROOT = Path(__file__).parents[1]
SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"
LONG = os.environ.get("SURVMETA_FUZZ") == "long"
NA_LIKE = ["NA", "None", "null", "nan", "NaN", "N/A", "#N/A"]
FORMULA_LIKE = ["=1+2", '=HYPERLINK("http://x","y")', "@SUM(A1)", "+1+cmd", "-2+3", "\t=x"]


def base_config() -> dict:
    """The shipped config, with a sensitivity grid small enough for many examples."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["sensitivity"] = {
        "methods": ["DL", "REML"],
        "tests": ["z", "knha"],
        "gosh": True,
        "permutations": 200,
    }
    config["modalities"] = [*DEFAULT_MODALITIES, *NA_LIKE]
    return config


CONFIG = base_config()
TABLES = {
    name: list(csv.reader(io.StringIO((ROOT / rel).read_text(encoding="utf-8"))))
    for name, rel in CONFIG["inputs"].items()
}

NASTY = [
    "",
    " ",
    "n/a",
    "-",
    "O.62",
    "0,62",
    "-1",
    "0",
    "1",
    "0.5",
    "1e400",
    "inf",
    "4_0",
    "1_000",
    "0x1c",
    "<0.001",
    "p=0.03",
    "P < .05",
    "1e-320",
    "1e-300",
    "1e300",
    "1.5",
    "2",
    " 12 ",
    "12.0",
    "99999999",
    "Kim2010",
    "liver_directd",
    "systemic",
    "os",
    "pfs",
    "true",
    "maybe",
    "٣",
    "🙂",
    '"',
    "a\nb",
    "line\r\nbreak",
    "0.99",
    "120",
    *NA_LIKE,
    *FORMULA_LIKE,
]

row = st.integers(1, 40)
table = st.sampled_from(sorted(TABLES))
table_op = st.one_of(
    st.tuples(st.just("cell"), table, row, st.integers(0, 20), st.sampled_from(NASTY)),
    st.tuples(st.just("drop_row"), table, row),
    st.tuples(st.just("repeat_row"), table, row),
    st.tuples(
        st.just("rename_col"),
        table,
        st.integers(0, 20),
        st.sampled_from(["n_arm", "Study_ID", "hr ", "x", "median_month", ""]),
    ),
    st.tuples(st.just("rename_study"), row, st.sampled_from([*NA_LIKE, *FORMULA_LIKE, "a\nb"])),
    st.tuples(st.just("zero_events"), row),
    st.tuples(st.just("zero_width_median"), row),
    st.tuples(st.just("zero_width_hr"), row),
    st.tuples(st.just("extreme_hr"), row, st.sampled_from([1e-300, 1e-30, 1e30, 1e300])),
    st.tuples(
        st.just("p_value"), row, st.sampled_from(["1e-320", "5e-324", "1e-330", "<1e-300", "1"])
    ),
    st.tuples(st.just("followup_equal"), row),
    st.tuples(st.just("logrank"), row, st.sampled_from([("400", "0.5"), ("-400", "0.5")])),
    st.tuples(st.just("ci_level"), row, st.sampled_from(["0.0001", "0.999999", "0.5"])),
    st.tuples(st.just("modality"), row, st.sampled_from(NA_LIKE)),
    st.tuples(st.just("text"), table, row, st.sampled_from([*FORMULA_LIKE, "x\ny"])),
)
config_op = st.one_of(
    st.tuples(st.just("overlap"), st.integers(0, 2)),
    st.tuples(st.just("level"), st.sampled_from([0.999999, 0.0001, 0.5])),
    st.tuples(
        st.just("subgroups"),
        st.integers(0, 2),
        st.sampled_from(["modality", "design", "year", "risk_of_bias", "notes", "nosuch"]),
    ),
    st.tuples(st.just("metareg"), st.integers(0, 2), st.sampled_from(["year", "design", "nosuch"])),
    st.tuples(st.just("permutations"), st.sampled_from([1, 2, 10])),
    st.tuples(st.just("id"), st.integers(0, 2), st.sampled_from([".", "..", "a/b", "NA", "=x"])),
    st.tuples(st.just("gosh"), st.booleans()),
    st.tuples(st.just("method"), st.sampled_from(["DL", "REML", "ML", "PM", "SJ", "HE", "EB"])),
    st.tuples(st.just("test"), st.sampled_from(["z", "knha"])),
    st.tuples(st.just("dependence"), st.sampled_from(["univariate", "multilevel"])),
)
file_format = st.fixed_dictionaries(
    {
        "trailing_comma": st.sampled_from([None, "all", "data"]),
        "blank_lines": st.lists(st.integers(0, 40), max_size=3),
    }
)


def _col(rows: list, name: str) -> int | None:
    return rows[0].index(name) if rows and name in rows[0] else None


def _pick(rows: list, r: int) -> list | None:
    return rows[1 + r % (len(rows) - 1)] if len(rows) > 1 else None


def _set(rows: list, r: list, name: str, value: str) -> None:
    j = _col(rows, name)
    if j is None:
        rows[0].append(name)
        for other in rows[1:]:
            other.append("")
        j = len(rows[0]) - 1
    while len(r) <= j:
        r.append("")
    r[j] = value


def mutate(tables: dict, ops) -> dict:
    """Apply table operations (cells, rows, columns, and the shapes of issue 19)."""
    tables = copy.deepcopy(tables)
    for op, *args in ops:
        if op in ("cell", "drop_row", "repeat_row", "rename_col", "text"):
            rows = tables[args[0]]
            target = _pick(rows, args[1])
            if op == "cell" and target:
                target[args[2] % len(target)] = args[3]
            elif op == "drop_row" and target:
                rows.remove(target)
            elif op == "repeat_row" and target:
                rows.append(list(target))
            elif op == "rename_col":
                rows[0][args[1] % len(rows[0])] = args[2]
            elif op == "text" and target:
                _set(rows, target, "source", args[2])
        elif op == "rename_study":
            studies = tables["studies"]
            old = _pick(studies, args[0])
            if old is None:
                continue
            old = old[0]
            for rows in tables.values():
                j = _col(rows, "study_id")
                for r in rows[1:] if j is not None else []:
                    if j < len(r) and r[j] == old:
                        r[j] = args[1]
        elif op == "zero_events":
            arms = tables["arms"]
            sid = _pick(arms, args[0])
            for r in arms[1:] if sid else []:
                if r[0] == sid[0]:
                    _set(arms, r, "events", "0")
        elif op == "zero_width_median":
            arms = tables["arms"]
            r = _pick(arms, args[0])
            if r:
                j = _col(arms, "median_months")
                value = r[j] if j is not None and j < len(r) and r[j] else "12"
                for name in ("median_months", "median_ci_low", "median_ci_high"):
                    _set(arms, r, name, value)
        elif op in ("zero_width_hr", "extreme_hr", "p_value", "logrank", "ci_level"):
            contrasts = tables.get("contrasts")
            r = _pick(contrasts, args[0]) if contrasts else None
            if not r:
                continue
            if op == "zero_width_hr":
                cells = {"hr": "0.62", "ci_low": "0.62", "ci_high": "0.62"}
            elif op == "extreme_hr":
                x = args[1]
                cells = {"hr": repr(x), "ci_low": repr(x / 2), "ci_high": repr(x * 2)}
            elif op == "p_value":
                cells = {"p_value": args[1]}
            elif op == "logrank":
                cells = {"o_minus_e": args[1][0], "logrank_var": args[1][1]}
            else:
                cells = {"hr": "0.62", "ci_low": "0.61", "ci_high": "0.63", "ci_level": args[1]}
            for name, value in cells.items():
                _set(contrasts, r, name, value)
        elif op == "followup_equal":  # a trial closed on one date (issue 16)
            arms = tables["arms"]
            r = _pick(arms, args[0])
            if r:
                j = _col(arms, "followup_months")
                value = r[j] if j is not None and j < len(r) and r[j] else "44"
                for name in ("followup_min_months", "followup_months", "followup_max_months"):
                    _set(arms, r, name, value)
        elif op == "modality":
            arms = tables["arms"]
            r = _pick(arms, args[0])
            if r:
                _set(arms, r, "modality", args[1])
    return tables


def configure(ops) -> dict:
    """Apply config operations to the fuzz's base config."""
    config = copy.deepcopy(CONFIG)
    analyses = config["analyses"]
    for op, *args in ops:
        a = (
            analyses[args[0] % len(analyses)]
            if op in ("overlap", "subgroups", "metareg", "id")
            else None
        )
        if op == "overlap":
            treatment = a["treatment"]
            a["control"] = [treatment if isinstance(treatment, str) else treatment[0], "systemic"]
        elif op == "level":
            config["pooling"]["level"] = args[0]
        elif op == "subgroups":
            a["subgroups"] = args[1]
        elif op == "metareg":
            a["metareg"] = [args[1]]
        elif op == "permutations":
            config["sensitivity"]["permutations"] = args[0]
        elif op == "id":
            a["id"] = args[1]
        elif op == "gosh":
            config["sensitivity"]["gosh"] = args[0]
        elif op == "method":
            config["pooling"]["method"] = args[0]
        elif op == "test":
            config["pooling"]["test"] = args[0]
        elif op == "dependence":
            config["dependence"] = args[0]
    return config


def write(tables: dict, base: Path, fmt: dict | None = None) -> None:
    """The tables as CSV files, with trailing commas and blank lines when ``fmt`` says so."""
    fmt = fmt or {}
    for name, rel in CONFIG["inputs"].items():
        rows = [list(r) for r in tables[name]]
        if fmt.get("trailing_comma"):
            rows = [
                r + [""] if i or fmt["trailing_comma"] == "all" else r for i, r in enumerate(rows)
            ]
        for at in sorted(fmt.get("blank_lines", []), reverse=True):
            rows.insert(1 + at % max(1, len(rows)), [])
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows(rows)


class Defect(AssertionError):
    """Results that exist but break the contract; ``owner`` is the stage that made them."""

    def __init__(self, owner: str, what: str):
        self.owner, self.what = owner, what
        super().__init__(f"{owner}: {what}")


def clean(problems, files) -> str:
    """Every problem is one line naming one of the files."""
    assert problems
    for line in map(str, problems):
        assert line.startswith(files), line
        assert len(line.splitlines()) == 1 and "Traceback" not in line, line
    return "stopped"


def _finite_or_blank(df, owner: str, name: str) -> None:
    numbers = df.select_dtypes("number").to_numpy(float)
    if np.isinf(numbers).any():
        raise Defect(owner, f"{name} holds inf")


def run(base: Path, config: dict, report: bool = False) -> str:
    """What the workflow does, in its order, through the jobs' own functions
    (survmeta.jobs); returns how it ended."""
    from survmeta.estimators.gosh import write_gosh_csv
    from survmeta.jobs import harmonize_job, pool_job

    label = "config.yaml"
    files = (*CONFIG["inputs"].values(), label)
    problems = config_problems(config, SCHEMA, label)
    if problems:
        return clean(problems, files)
    config = with_defaults(config, SCHEMA)
    try:
        tables = load_inputs(config["inputs"], base, modalities=config.get("modalities"))
    except InputError as err:
        return clean(err.problems, files)
    problems = table_problems(tables, config, label)
    if problems:
        return clean(problems, files)
    for line in map(str, cost_warnings(tables, config, label)):
        assert len(line.splitlines()) == 1, line

    out = harmonize_job(config, base)
    results = base / "results"
    for name in ("effects", "excluded", "derivations", "univariate", "reconstructed", "inputs"):
        write_csv(results / f"{name}.csv", out[name])
    for name, table in out["tables"].items():
        write_csv(results / "validated" / f"{name}.csv", table)
    effects = read_result(results / "effects.csv")  # as the pool job reads it
    univariate = read_result(results / "univariate.csv")
    if not (np.isfinite(effects["yi"]).all() and (effects["vi"] > 0).all()):
        raise Defect("harmonize", "an effect with a non-finite yi or vi <= 0")
    pooled = pool_job(effects, univariate, config)
    for name in ("pooled", "weights", "vcov", "bayes", "bayes_shrinkage", "bayes_tau"):
        write_csv(results / f"{name}.csv", pooled[name], DIGITS.get(name, 12))
    table = pooled["pooled"]
    ok = table["status"] == "ok"
    if not np.isfinite(table.loc[ok, ["estimate", "se"]].to_numpy(float)).all():
        raise Defect("pool", "an ok row without a finite estimate and se")
    if not (table.loc[~ok, "status"].str.len() > 0).all():
        raise Defect("pool", "a row without a status")
    _finite_or_blank(table, "pool", "pooled.csv")
    sensitivity, gosh = [], []
    for (aid, name), df in pooled["sensitivity"].items():
        path = results / "sensitivity" / aid / f"{name}.csv"
        write_csv(path, df)
        sensitivity.append(path)
    for aid, (gtable, labels) in pooled["gosh"].items():
        path = results / "gosh" / f"{aid}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)  # snakemake makes output folders
        if gtable is None:
            write_text(path, f"status\n{labels}\n")
        else:
            write_gosh_csv(gtable, path, labels)
        gosh.append(path)
    if report:
        draw_report(base, config, sensitivity, gosh)
    return "results"


def draw_report(base: Path, config: dict, sensitivity: list, gosh: list) -> None:
    """The report job: every figure and the HTML, from the files just written."""
    from survmeta.jobs import report_job
    from survmeta.report.build import load_results

    results = base / "results"
    loaded = load_results(
        results / "effects.csv", results / "excluded.csv", results / "derivations.csv",
        results / "pooled.csv", results / "weights.csv",
        [results / "validated" / f"{name}.csv" for name in config["inputs"]],
        results / "inputs.csv", config, sensitivity, gosh, bayes=results / "bayes.csv",
        bayes_tau=results / "bayes_tau.csv", vcov=results / "vcov.csv",
        reconstructed=results / "reconstructed.csv",
    )  # fmt: skip
    _, html = report_job(loaded, config)
    write_text(base / "report" / "index.html", html)


def where(err: BaseException) -> str:
    """``module.py:function`` of the innermost survmeta frame that raised ``err``."""
    if isinstance(err, Defect):
        return f"{err.owner}: {err.what}"
    frames = [f for f in traceback.extract_tb(err.__traceback__) if "/src/survmeta/" in f.filename]
    if not frames:
        return "tests"
    f = frames[-1]
    return f"{f.filename.split('/src/survmeta/')[1]}:{f.name}: {type(err).__name__}"


#: Failures in code owned elsewhere, by :func:`where`, with the issue item that owns them.
#: Each is pinned by a strict xfail case of :data:`SHAPES`: remove both when it is fixed.
KNOWN: dict[str, str] = {}


def attempt(base: Path, config: dict, report: bool = False) -> str:
    try:
        return run(base, config, report)
    except Exception as err:
        site = where(err)
        if site in KNOWN:
            event(f"known: {site}")
            return "known"
        raise


PROFILE = {"max_examples": 400 if LONG else 40, "deadline": None}


@settings(**PROFILE, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ops=st.lists(table_op, min_size=1, max_size=4),
    config_ops=st.lists(config_op, max_size=2),
    fmt=file_format,
)
def test_any_review_ends_in_results_or_clean_messages(ops, config_ops, fmt, tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz")
    write(mutate(TABLES, ops), base, fmt)
    outcome = attempt(base, configure(config_ops), report=LONG)
    event(outcome)
    assert outcome in ("stopped", "results", "known")


@settings(max_examples=100 if LONG else 3, deadline=None)
@given(ops=st.lists(table_op, min_size=1, max_size=2), fmt=file_format)
def test_reports_are_drawn_for_any_valid_review(ops, fmt, tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz_report")
    write(mutate(TABLES, ops), base, fmt)
    assert attempt(base, copy.deepcopy(CONFIG), report=True) in ("stopped", "results", "known")


def test_shipped_review_gives_results(tmp_path):
    write(TABLES, tmp_path)
    assert run(tmp_path, copy.deepcopy(CONFIG), report=True) == "results"


class Shape(NamedTuple):
    """One shape of issue 19 (or 16) as mutations of the shipped review, and how it ends."""

    ops: list
    ends: str  # "results" or "stopped" (clean one-line problems)
    config_ops: list = []
    fmt: dict = {}
    report: bool = False
    known: str | None = None  # the KNOWN site where it fails today


#: Each shape, once; row arguments index data rows of the shipped tables
#: (arms 3-7: Fairweather2017, 14-15: CCR_EHD; contrasts 0: CCR_EHD, 1: Schreckenbach2018).
SHAPES = {
    "zero events in both arms of a p-only contrast": Shape(
        [("zero_events", 14)],
        "results",
    ),
    "zero events in Fairweather2017 (GOSH of k = 1)": Shape(
        [("zero_events", 3)],
        "results",
        report=True,
    ),
    "zero-width median CI": Shape([("zero_width_median", 8)], "results", report=True),
    "zero-width HR CI": Shape([("zero_width_hr", 0)], "stopped"),
    "HR 1e-300": Shape(
        [("extreme_hr", 1, 1e-300)],
        "results",
        report=True,
    ),
    "HR 1e300": Shape([("extreme_hr", 1, 1e300)], "results", report=True),
    "HR 1e-30 in a meta-regression": Shape(
        [("extreme_hr", 0, 1e-30)],
        "results",
        report=True,
    ),
    "O-E 400 with V 0.5": Shape([("logrank", 0, ("400", "0.5"))], "results", report=True),
    "p 1e-320": Shape([("p_value", 0, "1e-320")], "results", report=True),
    "p 5e-324 (p/2 underflows)": Shape(
        [("p_value", 0, "5e-324")],
        "results",
    ),
    "p 1e-330 (reads as 0)": Shape([("p_value", 0, "1e-330")], "stopped"),
    "CI level 0.0001": Shape([("ci_level", 0, "0.0001")], "results", report=True),
    "pooling.level 0.999999": Shape(
        [],
        "results",
        [("level", 0.999999)],
        report=True,
    ),
    "follow-up min = median = max": Shape(
        [("followup_equal", 3)],
        "results",
    ),
    "studies named NA, None, =1+2": Shape(
        [("rename_study", 1, "NA"), ("rename_study", 2, "None"), ("rename_study", 3, "=1+2")],
        "results",
        report=True,
    ),
    "a study id with a line break": Shape([("rename_study", 4, "a\nb")], "results"),
    "modalities None and NA": Shape(
        [("modality", 3, "None"), ("modality", 4, "NA")], "results", report=True
    ),
    "formula-like sources": Shape(
        [("text", "arms", 0, "=1+2"), ("text", "studies", 1, "@x")], "results"
    ),
    "Python number spellings": Shape(
        [("cell", "arms", 0, 5, "4_0"), ("cell", "arms", 1, 5, "٣")], "stopped"
    ),
    "overlapping classes": Shape([], "stopped", [("overlap", 0)]),
    "subgroups by a column no study has": Shape([], "stopped", [("subgroups", 0, "nosuch")]),
    "subgroups by a studies column effects do not carry": Shape(
        [], "results", [("subgroups", 0, "notes")]
    ),
    "permutations 1, analysis id '..'": Shape(
        [], "stopped", [("permutations", 1), ("id", 0, "..")]
    ),
    "trailing commas and blank lines": Shape(
        [], "results", fmt={"trailing_comma": "all", "blank_lines": [0, 3, 7]}
    ),
    "a trailing comma on data rows only": Shape([], "results", fmt={"trailing_comma": "data"}),
}


@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
def test_each_shape_ends_in_results_or_clean_messages(shape, tmp_path):
    """Each shape ends as it should; one that fails today must fail where KNOWN says
    (an xfail), and a fix elsewhere turns it into a failure here until KNOWN is updated."""
    write(mutate(TABLES, shape.ops), tmp_path, shape.fmt)
    try:
        outcome = run(tmp_path, configure(shape.config_ops), report=shape.report)
    except Exception as err:
        if shape.known and where(err) == shape.known:
            pytest.xfail(f"{shape.known}: {KNOWN[shape.known]}")
        raise
    assert not shape.known, f"fixed: remove {shape.known!r} from KNOWN and from this shape"
    assert outcome == shape.ends


#: Config keys a team edits, as paths into the config (integers index lists).
CONFIG_PATHS = [
    ("pooling",),
    ("pooling", "method"),
    ("pooling", "test"),
    ("pooling", "level"),
    ("sensitivity",),
    ("sensitivity", "methods"),
    ("sensitivity", "tests"),
    ("sensitivity", "gosh"),
    ("sensitivity", "gosh_subsets"),
    ("sensitivity", "permutations"),
    ("dependence",),
    ("bayes",),
    ("bayes", "priors"),
    ("rmst",),
    ("rmst", "horizon"),
    ("multiarm",),
    ("arm_classes",),
    ("modalities",),
    ("analyses",),
    ("analyses", 0),
    ("analyses", 0, "id"),
    ("analyses", 0, "treatment"),
    ("analyses", 1, "control"),
    ("analyses", 0, "outcome"),
    ("analyses", 1, "subgroups"),
    ("analyses", 1, "metareg"),
    ("inputs",),
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 2**40),
    st.floats(),
    st.text(max_size=6),
    st.sampled_from(["REML", "cr2", "auto", "halfnormal", "liver_directed", "os", "year"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
SHIPPED_TABLES = load_inputs(CONFIG["inputs"], ROOT, modalities=CONFIG["modalities"])


@settings(max_examples=400 if LONG else 150, deadline=None)
@given(
    edits=st.lists(st.tuples(st.sampled_from(CONFIG_PATHS), json_values), min_size=1, max_size=3)
)
def test_any_config_value_gives_clean_lines(edits):
    """Whatever a key holds, the config checks answer with lines, never an exception."""
    config = copy.deepcopy(CONFIG)
    for path, value in edits:
        node = config
        for part in path[:-1]:
            if isinstance(node, dict):
                node = node.setdefault(part, {})
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            else:
                break
        else:
            if isinstance(node, dict):
                node[path[-1]] = value
            elif isinstance(node, list) and isinstance(path[-1], int) and path[-1] < len(node):
                node[path[-1]] = value
    problems = config_problems(config, SCHEMA, "config.yaml")
    if problems:
        clean(problems, ("config.yaml",))
        return
    config = with_defaults(config, SCHEMA)
    for line in map(str, table_problems(SHIPPED_TABLES, config, "config.yaml")):
        assert line.startswith("config.yaml:") and len(line.splitlines()) == 1, line
    for line in map(str, cost_warnings(SHIPPED_TABLES, config, "config.yaml")):
        assert len(line.splitlines()) == 1, line
