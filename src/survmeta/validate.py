"""Check the extraction tables against the contract before anything is computed.

Each problem is one line ``file:row:column: what is wrong, what was expected``,
with the row as the spreadsheet shows it (header = row 1). :func:`load_inputs`
returns the typed tables only when there is no problem, so nothing downstream
ever sees a half-valid table.
"""

from __future__ import annotations

import csv
import difflib
import math
import re
import zipfile
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd

from .problems import InputError, Problem
from .pvalues import parse_p
from .tables import (
    BOOLEANS,
    DEFAULT_ARM_CLASSES,
    DEFAULT_MODALITIES,
    Column,
    TableSpec,
    is_workbook,
    read_table_text,
    table_specs,
)

OPTIONAL_TABLES = ("contrasts", "survival_points", "km_points", "km_at_risk")
#: Tables of per-arm values over time: the value's column, and whether a rise is an error.
#: Digitized Kaplan-Meier points may rise a little (digitizing error); the reconstruction
#: cleans and records them.
CURVE_TABLES = {
    "survival_points": ("surv_prop", True),
    "km_points": ("surv_prop", False),
    "km_at_risk": ("n_at_risk", True),
}


#: A number as a paper or a spreadsheet prints it: ASCII digits, one point, an exponent.
#: Python's float() also takes ``4_0`` (40), ``inf``, ``nan`` and other scripts' digits;
#: none of those is a number a team meant to type (issue 19, item 8).
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_NOT_FINITE = {"inf", "infinity", "nan"}


def _show(x) -> str:
    """A typed number as it was most likely typed: 44 for 44.0, 0.62 for 0.62."""
    return str(int(x)) if isinstance(x, float) and x.is_integer() and abs(x) < 1e15 else str(x)


def _decimals(text: str) -> int:
    try:
        exp = Decimal(text).as_tuple().exponent
    except InvalidOperation:
        return 0
    return max(0, -exp) if isinstance(exp, int) else 0


def _convert(col: Column, text: str, problem) -> object:
    """Typed value of one cell, or None (after reporting) when it is not valid."""
    if text == "":
        if col.required:
            problem(f"blank, expected {_expected(col)}")
        return None
    if col.kind in ("int", "float"):
        if not NUMBER.fullmatch(text):
            if text.lower().lstrip("+-") in _NOT_FINITE:
                problem(f"'{text}' is not a finite number, expected {_expected(col)}")
            else:
                problem(f"'{text}' is not a number, expected {_expected(col)}")
            return None
        value = float(text)
        if not math.isfinite(value):
            problem(f"'{text}' is not a finite number, expected {_expected(col)}")
            return None
        if col.kind == "int":
            if value != int(value):
                problem(f"'{text}' is not a whole number, expected {_expected(col)}")
                return None
            value = int(value)
        if col.positive and value <= 0:
            problem(f"{text} is not > 0, expected {_expected(col)}")
            return None
        return value
    if col.kind == "choice":
        if text not in col.choices:
            close = difflib.get_close_matches(text, col.choices, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problem(f"'{text}' is not allowed{hint}, expected one of: {', '.join(col.choices)}")
            return None
        return text
    if col.kind == "bool":
        if text.lower() not in BOOLEANS:
            problem(f"'{text}' is not true/false")
            return None
        return BOOLEANS[text.lower()]
    if col.kind == "pvalue":
        parsed = parse_p(text)
        if parsed is None:
            problem(f"'{text}' is not a p-value, expected e.g. 0.03, .03 or <0.001")
            return None
        if not 0 < parsed.value <= 1:
            problem(f"p = {text} is outside (0, 1]")
            return None
        return text
    return text


def _expected(col: Column) -> str:
    return {
        "int": "a whole number" + (" > 0" if col.positive else ""),
        "float": "a number" + (" > 0" if col.positive else ""),
        "choice": "one of: " + ", ".join(col.choices),
        "bool": "true or false",
        "pvalue": "a p-value such as 0.03 or <0.001",
    }.get(col.kind, "a value")


def check_table(
    raw: pd.DataFrame, spec: TableSpec, label: str, header_row: int = 1
) -> tuple[pd.DataFrame, list]:
    """Type one table cell by cell; problems name file, row and column.

    ``raw``'s index holds the spreadsheet row numbers (:func:`read_table_text`); the
    typed table keeps them, for the checks across rows and tables.
    """
    problems: list[Problem] = []
    cols = spec.by_name
    for name in raw.columns:
        if name not in cols and name.lower() in cols:
            problems.append(
                Problem(label, header_row, name, f"unknown column; did you mean '{name.lower()}'?")
            )
        elif name not in cols:
            close = difflib.get_close_matches(name, list(cols), n=1, cutoff=0.75)
            if close and close[0] not in raw.columns:
                problems.append(
                    Problem(
                        label,
                        header_row,
                        name,
                        f"unknown column, looks like a typo of '{close[0]}'",
                    )
                )
    seen: set[str] = set()
    for name in raw.columns:
        if name in seen:
            problems.append(Problem(label, header_row, name, "column appears twice; expected once"))
        seen.add(name)
    if len(seen) < len(raw.columns):
        return raw, problems
    missing = [c.name for c in spec.columns if c.required and c.name not in raw.columns]
    for name in missing:
        problems.append(Problem(label, header_row, name, "required column is missing"))
    if missing:
        return raw, problems
    if raw.empty:
        problems.append(Problem(label, None, None, "the table has no rows"))
        return raw, problems

    typed = raw.copy().astype(object)
    for name, col in cols.items():
        if name not in raw.columns:
            typed[name] = None
            continue
        values = []
        for row, text in raw[name].items():
            values.append(
                _convert(
                    col, text, lambda m, r=row, c=name: problems.append(Problem(label, r, c, m))
                )
            )
        typed[name] = pd.Series(values, index=raw.index, dtype=object)
    if spec.key:
        dup = typed.duplicated(list(spec.key), keep="first")
        for i in dup[dup].index:
            key = ", ".join(f"{k}={typed.at[i, k]}" for k in spec.key)
            problems.append(
                Problem(label, i, spec.key[-1], f"duplicate row ({key}); expected unique keys")
            )
    return typed, problems


def arm_keys_list(arms: pd.DataFrame) -> list[tuple]:
    return list(zip(arms["study_id"], arms["arm_id"], arms["outcome"], strict=True))


def _row_checks(tables: dict, raw: dict, labels: dict) -> list[Problem]:
    """Ranges and references that span columns or tables."""
    problems = _arm_checks(tables, labels["arms"])
    if "contrasts" in tables:
        problems += _contrast_checks(tables, raw["contrasts"], labels["contrasts"])
    arms = tables["arms"]
    arm_n = dict(zip(arm_keys_list(arms), arms["n"], strict=True))
    for name, (value, monotone) in CURVE_TABLES.items():
        if name in tables:
            problems += _curve_checks(tables[name], labels[name], value, monotone, arm_n)
    return problems


def _arm_checks(tables: dict, lab: str) -> list[Problem]:
    """Each arm: a known study, events within n, the median inside its CI, and the
    follow-up ordered minimum <= median <= maximum (equal values allowed: a trial closed
    on one date)."""
    problems: list[Problem] = []
    studies = set(tables["studies"]["study_id"].dropna())
    for row, r in tables["arms"].iterrows():
        if r["study_id"] is not None and r["study_id"] not in studies:
            problems.append(Problem(lab, row, "study_id", f"'{r['study_id']}' is not in studies"))
        n, ev = r["n"], r["events"]
        if ev is not None and n is not None and not 0 <= ev <= n:
            problems.append(Problem(lab, row, "events", f"{ev} is not in 0..n (n = {n})"))
        lo, med, hi = r["median_ci_low"], r["median_months"], r["median_ci_high"]
        if med is not None and lo is not None and lo > med:
            problems.append(
                Problem(lab, row, "median_ci_low", f"{_show(lo)} is above the median {_show(med)}")
            )
        if med is not None and hi is not None and hi < med:
            problems.append(
                Problem(lab, row, "median_ci_high", f"{_show(hi)} is below the median {_show(med)}")
            )
        fmin, fmed, fmax = r["followup_min_months"], r["followup_months"], r["followup_max_months"]
        if fmin is not None and fmax is not None and fmin > fmax:
            problems.append(
                Problem(
                    lab,
                    row,
                    "followup_min_months",
                    f"{_show(fmin)} is above the maximum {_show(fmax)}",
                )
            )
        if fmin is not None and fmed is not None and fmin > fmed:
            problems.append(
                Problem(
                    lab,
                    row,
                    "followup_min_months",
                    f"{_show(fmin)} is above the median follow-up {_show(fmed)} (followup_months);"
                    " expected minimum <= median",
                )
            )
        if fmed is not None and fmax is not None and fmed > fmax:
            problems.append(
                Problem(
                    lab,
                    row,
                    "followup_months",
                    f"{_show(fmed)} is above the maximum follow-up {_show(fmax)}"
                    " (followup_max_months);"
                    " expected median <= maximum",
                )
            )
    return problems


def _contrast_checks(tables: dict, raw: pd.DataFrame, lab: str) -> list[Problem]:
    """Each reported contrast: two different known arms, entered once, with a CI,
    p and event count that can hold (issue 19, item 6)."""
    problems: list[Problem] = []
    arms = tables["arms"]
    arm_n = dict(zip(arm_keys_list(arms), arms["n"], strict=True))
    pairs: dict[tuple, int] = {}
    for row, r in tables["contrasts"].iterrows():
        for col in ("arm_id", "ref_arm_id"):
            key = (r["study_id"], r[col], r["outcome"])
            if None not in key and key not in arm_n:
                problems.append(
                    Problem(
                        lab,
                        row,
                        col,
                        f"arm '{r[col]}' of {r['study_id']} ({r['outcome']}) is not in arms",
                    )
                )
        if r["arm_id"] is not None and r["arm_id"] == r["ref_arm_id"]:
            problems.append(
                Problem(
                    lab,
                    row,
                    "ref_arm_id",
                    f"'{r['ref_arm_id']}' is also the arm_id; expected two different arms",
                )
            )
        elif None not in (r["study_id"], r["outcome"], r["arm_id"], r["ref_arm_id"]):
            pair = (r["study_id"], r["outcome"], frozenset((r["arm_id"], r["ref_arm_id"])))
            first = pairs.setdefault(pair, row)
            if first != row and tables["contrasts"].at[first, "arm_id"] != r["arm_id"]:
                problems.append(
                    Problem(
                        lab,
                        row,
                        "arm_id",
                        f"{r['arm_id']} vs {r['ref_arm_id']} is row {first}'s pair the other way"
                        " round; expected one row per pair of arms (an HR of the reverse"
                        " comparison is 1/HR)",
                    )
                )
        total = r["events_total"]
        n_index = arm_n.get((r["study_id"], r["arm_id"], r["outcome"]))
        n_ref = arm_n.get((r["study_id"], r["ref_arm_id"], r["outcome"]))
        if total is not None and n_index is not None and n_ref is not None:
            if r["arm_id"] != r["ref_arm_id"] and total > n_index + n_ref:
                problems.append(
                    Problem(
                        lab,
                        row,
                        "events_total",
                        f"{total} is above the two arms' n ({n_index} + {n_ref} ="
                        f" {n_index + n_ref}); expected at most {n_index + n_ref}",
                    )
                )
        if r["favours"] is not None and r["favours"] not in (r["arm_id"], r["ref_arm_id"]):
            problems.append(Problem(lab, row, "favours", "expected arm_id or ref_arm_id"))
        level = r["ci_level"]
        if level is not None and not 0 < level < 1:
            problems.append(Problem(lab, row, "ci_level", f"{level} is outside (0, 1)"))
        problems += _ci_checks(r, raw.loc[row], lab, row)
        if r["logrank_var"] is not None and r["o_minus_e"] is None:
            problems.append(Problem(lab, row, "o_minus_e", "logrank_var given without O-E"))
    return problems


def _ci_checks(r, text, lab: str, row: int) -> list[Problem]:
    """Both CI bounds or neither, low < high, and the HR inside (allowing its rounding)."""
    hr, lo, hi = r["hr"], r["ci_low"], r["ci_high"]
    if (lo is None) != (hi is None):
        which = "ci_low" if lo is None else "ci_high"
        return [Problem(lab, row, which, "only one CI bound given; expected both or neither")]
    if lo is None:
        return []
    if lo == hi:
        return [
            Problem(
                lab,
                row,
                "ci_low",
                f"CI ({_show(lo)}, {_show(hi)}) has zero width (equal bounds); expected"
                " ci_low < ci_high",
            )
        ]
    if lo > hi:
        return [
            Problem(
                lab,
                row,
                "ci_low",
                f"CI ({_show(lo)}, {_show(hi)}) is reversed; expected ci_low < ci_high",
            )
        ]
    if hr is None:
        return []
    half = {c: 0.5 * 10 ** -_decimals(text[c]) for c in ("hr", "ci_low", "ci_high")}
    if lo - half["ci_low"] - half["hr"] <= hr <= hi + half["ci_high"] + half["hr"]:
        return []
    return [Problem(lab, row, "hr", f"HR {hr} is outside its CI ({lo}, {hi}) beyond rounding")]


def _curve_checks(
    tab: pd.DataFrame, lab: str, value: str, monotone: bool, arm_n: dict
) -> list[Problem]:
    """Per-arm values over time: known arm, time >= 0, S in [0, 1], at-risk in 0..n."""
    problems: list[Problem] = []
    for row, r in tab.iterrows():
        key = (r["study_id"], r["arm_id"], r["outcome"])
        if None not in key and key not in arm_n:
            msg = f"arm '{r['arm_id']}' of {r['study_id']} ({r['outcome']}) is not in arms"
            problems.append(Problem(lab, row, "arm_id", msg))
        t, x = r["time_months"], r[value]
        if t is not None and t < 0:
            problems.append(Problem(lab, row, "time_months", f"{t} is negative, expected >= 0"))
        if x is None:
            continue
        if value == "surv_prop" and not 0 <= x <= 1:
            problems.append(Problem(lab, row, value, f"{x} is outside [0, 1]"))
        if value == "n_at_risk" and not 0 <= x <= (arm_n.get(key) or math.inf):
            problems.append(
                Problem(lab, row, value, f"{x} is not in 0..n (n = {arm_n.get(key)} in arms)")
            )
    if not monotone:
        return problems
    ok = tab.dropna(subset=["time_months", value])
    noun = "survival" if value == "surv_prop" else "the number at risk"
    for _, grp in ok.groupby(["study_id", "arm_id", "outcome"], sort=False):
        grp = grp.sort_values("time_months", kind="stable")
        rises = grp[value].astype(float).diff() > 0
        for i in grp.index[rises.to_numpy()]:
            problems.append(
                Problem(lab, i, value, f"{noun} increases over time; expected non-increasing")
            )
    return problems


def _not_utf8(path: Path, label: str) -> Problem:
    """Where a CSV stops being UTF-8 (a spreadsheet's "CSV" in a legacy code page)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        return Problem(
            label,
            line,
            None,
            f"byte 0x{data[err.start]:02x} is not UTF-8 text; expected the file saved as CSV UTF-8",
        )
    return Problem(label, None, None, "cannot be read as UTF-8 text")


#: What reading a file that is not a table can raise (a text file that is not UTF-8, a
#: NUL byte, a damaged or renamed workbook).
READ_ERRORS = (UnicodeDecodeError, ValueError, csv.Error, OSError, zipfile.BadZipFile, KeyError)


def load_inputs(inputs: dict, base: str | Path = ".", arm_classes=None, modalities=None) -> dict:
    """Read and check every table named in ``inputs``; raise :class:`InputError` on problems.

    Returns typed DataFrames keyed by table name (optional tables only when given),
    rows numbered 0.. as usual.
    """
    base = Path(base)
    specs = table_specs(arm_classes or DEFAULT_ARM_CLASSES, modalities or DEFAULT_MODALITIES)
    problems: list[Problem] = []
    tables, raws, labels = {}, {}, {}
    for name, spec in specs.items():
        if name not in inputs:
            if name not in OPTIONAL_TABLES:
                problems.append(Problem("config.yaml", None, f"inputs.{name}", "required table"))
            continue
        label = str(inputs[name])
        labels[name] = label
        path = base / label
        if not path.is_file():
            problems.append(Problem(label, None, None, "file not found"))
            continue
        try:
            raw = read_table_text(path, name, label)
        except UnicodeDecodeError as err:
            if is_workbook(path):
                problems.append(Problem(label, None, None, f"cannot be read as a table ({err})"))
            else:
                problems.append(_not_utf8(path, label))
            continue
        except READ_ERRORS as err:
            problems.append(Problem(label, None, None, f"cannot be read as a table ({err})"))
            continue
        typed, found = check_table(raw.frame, spec, label, raw.header_row)
        unread = {(p.row, p.column) for p in raw.problems}  # one problem per cell
        problems += raw.problems + [p for p in found if (p.row, p.column) not in unread]
        raws[name], tables[name] = raw.frame, typed
    if problems:
        raise InputError(problems)
    problems = _row_checks(tables, raws, labels)
    if problems:
        raise InputError(problems)
    return {name: table.reset_index(drop=True) for name, table in tables.items()}
