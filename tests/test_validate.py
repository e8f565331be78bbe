"""Bad input: one line per problem naming file, spreadsheet row and column."""

import csv
import shutil
from pathlib import Path

import pytest
import yaml

from survmeta.validate import InputError, load_inputs

ROOT = Path(__file__).parents[1]
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())


@pytest.fixture
def data(tmp_path):
    shutil.copytree(ROOT / "data", tmp_path / "data")
    return tmp_path


def edit(path: Path, old: str, new: str):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def problems(base) -> list[str]:
    with pytest.raises(InputError) as err:
        load_inputs(CONFIG["inputs"], base)
    return [str(p) for p in err.value.problems]


def test_shipped_tables_are_valid():
    tables = load_inputs(CONFIG["inputs"], ROOT)
    assert len(tables["studies"]) == 8 and len(tables["arms"]) == 24


@pytest.mark.parametrize(
    "table,old,new,expected",
    [
        (
            "arms",
            "Kim2010,local_only,liver_directed,mixed,os,28,",
            "Kim2010,local_only,liver_directed,mixed,os,O.62,",
            "data/nelm/arms.csv:2:n: 'O.62' is not a number",
        ),
        (
            "arms",
            "Kim2010,local_only,liver_directed,mixed,os,28,",
            "Kim2010,local_only,liver_directed,mixed,os,0,",
            "data/nelm/arms.csv:2:n: 0 is not > 0",
        ),
        (
            "arms",
            "Kim2010,local_only,liver_directed,mixed,os,28,",
            "Kim2010,local_only,liver_directed,mixed,os,28.5,",
            "data/nelm/arms.csv:2:n: '28.5' is not a whole number",
        ),
        (
            "arms",
            "Kim2010,local_only,liver_directed,mixed,os,28,,",
            "Kim2010,local_only,liver_directed,mixed,os,28,30,",
            "data/nelm/arms.csv:2:events: 30 is not in 0..n",
        ),
        (
            "arms",
            "Kim2010,local_only,liver_directed,",
            "Kim2010,local_only,liver_directd,",
            "data/nelm/arms.csv:2:arm_class: 'liver_directd' is not allowed (did you mean "
            "'liver_directed'?)",
        ),
        (
            "arms",
            "Kim2010,systemic_only,",
            "Kim2010,local_only,",
            "data/nelm/arms.csv:3:outcome: duplicate row",
        ),
        (
            "arms",
            "Kim2010,local_only,",
            "Kim2011,local_only,",
            "data/nelm/arms.csv:2:study_id: 'Kim2011' is not in studies",
        ),
        ("studies", "Kim2010,", ",", "data/nelm/studies.csv:2:study_id: blank"),
        (
            "contrasts",
            ",0.006,false",
            ",1.5,false",
            "data/nelm/contrasts.csv:2:p_value: p = 1.5 is outside (0, 1]",
        ),
        (
            "contrasts",
            "ldt,no_ldt",
            "ldt,nobody",
            "data/nelm/contrasts.csv:2:ref_arm_id: arm 'nobody'",
        ),
        (
            "survival_points",
            "hepatic_resection,os,120,0.7",
            "hepatic_resection,os,120,0.95",
            "data/nelm/survival_points.csv:3:surv_prop: survival increases",
        ),
        (
            "survival_points",
            "hepatic_resection,os,60,0.9",
            "hepatic_resection,os,60,1.9",
            "data/nelm/survival_points.csv:2:surv_prop: 1.9 is outside [0, 1]",
        ),
    ],
)
def test_problem_is_named(data, table, old, new, expected):
    edit(data / "data" / "nelm" / f"{table}.csv", old, new)
    found = problems(data)
    assert any(p.startswith(expected) for p in found), found


def test_hr_outside_ci_beyond_rounding(data):
    path = data / "data" / "nelm" / "contrasts.csv"
    edit(path, "os,ldt,no_ldt,,,,", "os,ldt,no_ldt,0.62,0.64,0.85,")
    assert any("contrasts.csv:2:hr: HR 0.62 is outside its CI" in p for p in problems(data))


def test_hr_on_ci_bound_within_rounding_is_accepted(data):
    path = data / "data" / "nelm" / "contrasts.csv"
    edit(path, "os,ldt,no_ldt,,,,", "os,ldt,no_ldt,0.62,0.624,0.85,")
    load_inputs(CONFIG["inputs"], data)  # 0.62 printed to 2 decimals may be 0.624


def test_missing_column_and_typo(data):
    path = data / "data" / "nelm" / "arms.csv"
    path.write_text(path.read_text().replace("median_months", "median_month", 1))
    found = problems(data)
    assert any(
        "arms.csv:1:median_month: unknown column, looks like a typo of 'median_months'" in p
        for p in found
    ), found


def test_bom_and_windows_line_endings_are_read(data):
    path = data / "data" / "nelm" / "studies.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    assert len(load_inputs(CONFIG["inputs"], data)["studies"]) == 8


def test_missing_file(data):
    (data / "data" / "nelm" / "arms.csv").unlink()
    assert problems(data) == ["data/nelm/arms.csv: file not found"]


def test_template_headers_are_the_contract():
    """data/template/ gives every table with exactly the columns validation knows."""
    from survmeta.tables import read_raw, table_specs

    template = Path(__file__).parents[1] / "data" / "template"
    for name, spec in table_specs().items():
        raw = read_raw(template / f"{name}.csv")
        assert raw.empty
        assert list(raw.columns) == [c.name for c in spec.columns if c.name != "notes"], name


def _typed_equal(a, b):
    assert list(a.columns) == list(b.columns)
    assert a.astype(str).values.tolist() == b.astype(str).values.tolist()


def _numeric(col):
    import pandas as pd

    try:
        return pd.to_numeric(col)
    except ValueError:
        return col


def _xlsx_inputs(data, one_workbook: bool) -> dict:
    """The shipped CSVs saved as Excel, numbers as numbers (as a spreadsheet stores them)."""
    import pandas as pd

    inputs = {}
    frames = {}
    for name, rel in CONFIG["inputs"].items():
        df = pd.read_csv(data / rel, dtype=str, keep_default_na=False)
        frames[name] = df.apply(_numeric) if name != "studies" else df
    if one_workbook:
        with pd.ExcelWriter(data / "review.xlsx") as xl:
            for name, df in frames.items():
                df.to_excel(xl, sheet_name=name, index=False)
        return {name: "review.xlsx" for name in frames}
    for name, df in frames.items():
        df.to_excel(data / f"{name}.xlsx", index=False)
        inputs[name] = f"{name}.xlsx"
    return inputs


@pytest.mark.parametrize("one_workbook", [False, True])
def test_xlsx_tables_read_as_the_csvs(data, one_workbook):
    csv = load_inputs(CONFIG["inputs"], data)
    xlsx = load_inputs(_xlsx_inputs(data, one_workbook), data)
    for name in csv:
        _typed_equal(csv[name], xlsx[name])


def test_xlsx_problem_names_the_sheet_row(data):
    import openpyxl

    inputs = _xlsx_inputs(data, one_workbook=False)
    book = openpyxl.load_workbook(data / "arms.xlsx")
    book.active["F3"] = "n/a"  # column F is n, row 3 the second arm
    book.save(data / "arms.xlsx")
    with pytest.raises(InputError) as err:
        load_inputs(inputs, data)
    assert [str(p) for p in err.value.problems] == [
        "arms.xlsx:3:n: 'n/a' is not a number, expected a whole number > 0"
    ]


def test_trailing_blanks_are_ignored(data):
    path = data / "data" / "nelm" / "studies.csv"
    path.write_text(path.read_text().replace(",retrospective,", ",retrospective  ,", 1))
    assert len(load_inputs(CONFIG["inputs"], data)["studies"]) == 8


def test_empty_file(data):
    (data / "data" / "nelm" / "contrasts.csv").write_text("")
    (found,) = problems(data)
    assert found.startswith("data/nelm/contrasts.csv: cannot be read as a table")


def test_header_only_file(data):
    path = data / "data" / "nelm" / "studies.csv"
    path.write_text(path.read_text().splitlines()[0] + "\n")
    assert "data/nelm/studies.csv: the table has no rows" in problems(data)


def test_missing_required_column(data):
    path = data / "data" / "nelm" / "studies.csv"
    path.write_text(path.read_text().replace("design", "kind", 1))
    assert "data/nelm/studies.csv:1:design: required column is missing" in problems(data)


@pytest.mark.parametrize(
    "table,old,new,expected",
    [
        (
            "arms",
            "Kim2010,local_only,liver_directed,mixed,os,28,",
            'Kim2010,local_only,liver_directed,mixed,os,"0,62",',
            "data/nelm/arms.csv:2:n: '0,62' is not a number, expected a whole number > 0",
        ),
        (
            "arms",
            "Kim2010,local_only,liver_directed,mixed,os,28,,43.0",
            "Kim2010,local_only,liver_directed,mixed,os,28,,0",
            "data/nelm/arms.csv:2:median_months: 0 is not > 0, expected a number > 0",
        ),
        (
            "arms",
            "Kim2010,local_only,liver_directed,mixed,os,28,,",
            "Kim2010,local_only,liver_directed,mixed,os,28,-1,",
            "data/nelm/arms.csv:2:events: -1 is not in 0..n (n = 28)",
        ),
        (
            "survival_points",
            "hepatic_resection,os,60,0.9",
            "hepatic_resection,os,-60,0.9",
            "data/nelm/survival_points.csv:2:time_months: -60 is not > 0, expected a number > 0",
        ),
        (
            "contrasts",
            "os,ldt,no_ldt,,,,",
            "os,ldt,no_ldt,0,0.4,0.8,",
            "data/nelm/contrasts.csv:2:hr: 0 is not > 0, expected a number > 0",
        ),
        (
            "contrasts",
            "os,ldt,no_ldt,,,,",
            "os,ldt,no_ldt,0.6,0.8,0.4,",
            "data/nelm/contrasts.csv:2:ci_low: CI (0.8, 0.4) is reversed; expected ci_low < "
            "ci_high",
        ),
        (
            "contrasts",
            "os,ldt,no_ldt,,,,",
            "os,ldt,no_ldt,0.6,0.4,0.8,1.5",
            "data/nelm/contrasts.csv:2:ci_level: 1.5 is outside (0, 1)",
        ),
        (
            "contrasts",
            ",0.006,false",
            ",0,false",
            "data/nelm/contrasts.csv:2:p_value: p = 0 is outside (0, 1]",
        ),
    ],
)
def test_more_problems_are_named(data, table, old, new, expected):
    edit(data / "data" / "nelm" / f"{table}.csv", old, new)
    found = problems(data)
    assert expected in found, found


# --- helpers that edit a table as a spreadsheet would (cells by row number and column name)


def read_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def write_rows(path: Path, rows) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def set_cells(path: Path, cells: dict) -> None:
    """Set {(spreadsheet row, column name): text}; a new column is added at the end."""
    rows = read_rows(path)
    for (row, col), value in cells.items():
        if col not in rows[0]:
            for r in rows:
                r.append(col if r is rows[0] else "")
        rows[row - 1][rows[0].index(col)] = value
    write_rows(path, rows)


NELM = Path("data") / "nelm"


# --- item 6 of issue 19: contrasts that cannot be a comparison


def test_contrast_of_an_arm_with_itself(data):
    set_cells(data / NELM / "contrasts.csv", {(2, "ref_arm_id"): "ldt"})
    assert problems(data) == [
        "data/nelm/contrasts.csv:2:ref_arm_id: 'ldt' is also the arm_id; expected two different "
        "arms"
    ]


def test_same_pair_in_both_orientations(data):
    path = data / NELM / "contrasts.csv"
    rows = read_rows(path)
    rows.append(["CCR_EHD_PMC11395682", "os", "no_ldt", "ldt"] + [""] * (len(rows[0]) - 4))
    write_rows(path, rows)
    assert problems(data) == [
        "data/nelm/contrasts.csv:4:arm_id: no_ldt vs ldt is row 2's pair the other way round; "
        "expected one row per pair of arms (an HR of the reverse comparison is 1/HR)"
    ]


def test_events_total_above_both_arms_n(data):
    path = data / NELM / "contrasts.csv"
    set_cells(path, {(2, "events_total"): "328"})  # ldt n = 71, no_ldt n = 256
    assert problems(data) == [
        "data/nelm/contrasts.csv:2:events_total: 328 is above the two arms' n (71 + 256 = 327); "
        "expected at most 327"
    ]
    set_cells(path, {(2, "events_total"): "327"})
    load_inputs(CONFIG["inputs"], data)


# --- issue 16: follow-up minimum <= median <= maximum


@pytest.mark.parametrize(
    "fmin,fmed,fmax,expected",
    [
        (
            "50",
            "44",
            "",
            "data/nelm/arms.csv:5:followup_min_months: 50 is above the median follow-up 44 "
            "(followup_months); expected minimum <= median",
        ),
        (
            "",
            "44",
            "40",
            "data/nelm/arms.csv:5:followup_months: 44 is above the maximum follow-up 40 "
            "(followup_max_months); expected median <= maximum",
        ),
        (
            "60",
            "",
            "50",
            "data/nelm/arms.csv:5:followup_min_months: 60 is above the maximum 50",
        ),
    ],
)
def test_followup_out_of_order(data, fmin, fmed, fmax, expected):
    cells = {"followup_min_months": fmin, "followup_months": fmed, "followup_max_months": fmax}
    set_cells(data / NELM / "arms.csv", {(5, c): v for c, v in cells.items()})
    assert problems(data) == [expected]


@pytest.mark.parametrize(
    "fmin,fmed,fmax", [("44", "44", "44"), ("12", "44", "44"), ("44", "", "44")]
)
def test_followup_equal_bounds_allowed(data, fmin, fmed, fmax):
    cells = {"followup_min_months": fmin, "followup_months": fmed, "followup_max_months": fmax}
    set_cells(data / NELM / "arms.csv", {(5, c): v for c, v in cells.items()})
    load_inputs(CONFIG["inputs"], data)


# --- item 8: reading tables


def test_equal_ci_bounds_are_not_called_reversed(data):
    set_cells(data / NELM / "contrasts.csv", {(2, "hr"): "0.62", (2, "ci_low"): "0.62"})
    set_cells(data / NELM / "contrasts.csv", {(2, "ci_high"): "0.62"})
    assert problems(data) == [
        "data/nelm/contrasts.csv:2:ci_low: CI (0.62, 0.62) has zero width (equal bounds); "
        "expected ci_low < ci_high"
    ]


@pytest.mark.parametrize("header_too", [True, False])
def test_trailing_comma_on_every_row_reads_as_without(data, header_too):
    path = data / NELM / "arms.csv"
    before = load_inputs(CONFIG["inputs"], data)["arms"]
    rows = read_rows(path)
    write_rows(path, [r + [""] if (i or header_too) else r for i, r in enumerate(rows)])
    _typed_equal(load_inputs(CONFIG["inputs"], data)["arms"], before)


def test_value_under_no_header(data):
    path = data / NELM / "studies.csv"
    rows = read_rows(path)
    rows[2].append("stray")
    write_rows(path, rows)
    assert problems(data) == [
        "data/nelm/studies.csv:3:column H: 'stray' is under no header; expected a column name in "
        "row 1 or no value"
    ]


def test_blank_rows_keep_the_file_row_numbers(data):
    path = data / NELM / "arms.csv"
    rows = read_rows(path)
    width = len(rows[0])
    rows[3][5] = "O.62"  # row 4: the n of an arm
    write_rows(path, [rows[0], [], [""] * width, *rows[1:]])  # a blank line, a row of commas
    assert problems(data) == [
        "data/nelm/arms.csv:6:n: 'O.62' is not a number, expected a whole number > 0"
    ]


def test_line_break_in_a_cell_stays_one_line(data):
    set_cells(data / NELM / "arms.csv", {(2, "study_id"): "Kim\n2010"})
    assert problems(data) == ["data/nelm/arms.csv:2:study_id: 'Kim\\n2010' is not in studies"]


def test_a_cell_over_two_lines_is_one_row(data):
    path = data / NELM / "arms.csv"
    set_cells(path, {(2, "quote"): "first line\nsecond line", (4, "n"): "many"})
    assert problems(data) == [
        "data/nelm/arms.csv:4:n: 'many' is not a number, expected a whole number > 0"
    ]


def test_control_characters_in_messages_are_escaped():
    from survmeta.problems import Problem

    line = str(Problem("a.csv", 2, "x", "'a\r\nb\tc\x0bd\u2028e' is odd"))
    assert line == "a.csv:2:x: 'a\\r\\nb\\tc\\x0bd\\u2028e' is odd"
    assert len(line.splitlines()) == 1


@pytest.mark.parametrize(
    "text,expected",
    [
        ("4_0", "'4_0' is not a number, expected a whole number > 0"),
        ("1_000", "'1_000' is not a number, expected a whole number > 0"),
        ("٣", "'٣' is not a number, expected a whole number > 0"),
        ("0x1c", "'0x1c' is not a number, expected a whole number > 0"),
        ("inf", "'inf' is not a finite number, expected a whole number > 0"),
        ("nan", "'nan' is not a finite number, expected a whole number > 0"),
        ("1e400", "'1e400' is not a finite number, expected a whole number > 0"),
    ],
)
def test_python_number_spellings_are_not_numbers(data, text, expected):
    set_cells(data / NELM / "arms.csv", {(2, "n"): text})
    assert problems(data) == [f"data/nelm/arms.csv:2:n: {expected}"]


@pytest.mark.parametrize("text,value", [("28", 28), ("+28", 28), ("28.0", 28), ("2.8e1", 28)])
def test_plain_number_spellings_are_read(data, text, value):
    set_cells(data / NELM / "arms.csv", {(2, "n"): text})
    assert load_inputs(CONFIG["inputs"], data)["arms"].at[0, "n"] == value


def test_extreme_but_valid_numbers_are_accepted(data):
    path = data / NELM / "contrasts.csv"
    cells = {"hr": "1e-300", "ci_low": "1e-301", "ci_high": "1e-299", "p_value": "1e-320"}
    set_cells(path, {(2, c): v for c, v in cells.items()})
    cells = {"hr": "1e300", "ci_low": "1e299", "ci_high": "1e301"}
    set_cells(path, {(3, c): v for c, v in cells.items()})
    row = load_inputs(CONFIG["inputs"], data)["contrasts"].iloc[0]
    assert row["hr"] == 1e-300 and row["p_value"] == "1e-320"


@pytest.mark.parametrize("na", ["NA", "None", "null", "nan", "N/A", "NaN", "#N/A"])
def test_na_like_ids_and_values_are_text(data, na):
    old = "Kim2010"
    for name in ("studies", "arms"):
        path = data / NELM / f"{name}.csv"
        path.write_text(path.read_text(encoding="utf-8").replace(old, na), encoding="utf-8")
    tables = load_inputs(CONFIG["inputs"], data)
    assert tables["studies"].at[0, "study_id"] == na
    assert list(tables["arms"]["study_id"][:3]) == [na] * 3


# --- .xlsx: formulas, errors, hidden sheets


def _arms_book(data):
    """The shipped tables with arms as a workbook (other tables stay CSV)."""
    import pandas as pd

    df = pd.read_csv(data / NELM / "arms.csv", dtype=str, keep_default_na=False).apply(_numeric)
    df.to_excel(data / "arms.xlsx", index=False)
    return {**CONFIG["inputs"], "arms": "arms.xlsx"}


def _xlsx_problems(data, inputs):
    with pytest.raises(InputError) as err:
        load_inputs(inputs, data)
    return [str(p) for p in err.value.problems]


def test_xlsx_formula_without_saved_value_is_a_problem(data):
    import openpyxl

    inputs = _arms_book(data)
    book = openpyxl.load_workbook(data / "arms.xlsx")
    book.active["F2"] = "=20+8"  # n of row 2, written without a computed value (as openpyxl does)
    book.save(data / "arms.xlsx")
    assert _xlsx_problems(data, inputs) == [
        "arms.xlsx:2:n: formula =20+8 has no saved value (the file was written without "
        "computing it); expected a value: open and save the workbook in Excel or LibreOffice, "
        "or type the value"
    ]


def test_xlsx_formula_with_saved_value_is_read(data):
    import openpyxl

    inputs = _arms_book(data)
    book = openpyxl.load_workbook(data / "arms.xlsx")
    book.active["F2"] = "=20+8"
    book.save(data / "arms.xlsx")
    _store_cached_value(data / "arms.xlsx", "F2", "28")  # as Excel saves it: <f> and <v>
    assert load_inputs(inputs, data)["arms"].at[0, "n"] == 28


def _store_cached_value(path: Path, ref: str, value: str) -> None:
    import zipfile

    with zipfile.ZipFile(path) as z:
        parts = {name: z.read(name) for name in z.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    xml = parts[sheet].decode()
    start = xml.index(f'<c r="{ref}"')
    end = xml.index("</c>", start)
    assert "<v />" in xml[start:end]
    parts[sheet] = (
        xml[:start] + xml[start:end].replace("<v />", f"<v>{value}</v>") + xml[end:]
    ).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, content in parts.items():
            z.writestr(name, content)


def test_xlsx_error_cell_is_a_problem(data):
    import openpyxl

    inputs = _arms_book(data)
    book = openpyxl.load_workbook(data / "arms.xlsx")
    book.active["G2"] = "#DIV/0!"  # events of row 2
    book.save(data / "arms.xlsx")
    assert _xlsx_problems(data, inputs) == [
        "arms.xlsx:2:events: the cell holds the error #DIV/0!; expected a value"
    ]


def test_xlsx_hidden_first_sheet_is_not_used(data):
    import openpyxl

    inputs = _arms_book(data)
    book = openpyxl.load_workbook(data / "arms.xlsx")
    old = book.create_sheet("old draft", 0)
    old.append(["study_id", "arm_id"])
    old.append(["Nobody", "x"])
    old.sheet_state = "hidden"
    book.save(data / "arms.xlsx")
    assert len(load_inputs(inputs, data)["arms"]) == 24


def test_xlsx_blank_rows_keep_sheet_row_numbers(data):
    import openpyxl

    inputs = _arms_book(data)
    book = openpyxl.load_workbook(data / "arms.xlsx")
    book.active.insert_rows(2, amount=2)
    book.active["F6"] = "n/a"  # the n of the shipped row 4
    book.save(data / "arms.xlsx")
    assert _xlsx_problems(data, inputs) == [
        "arms.xlsx:6:n: 'n/a' is not a number, expected a whole number > 0"
    ]


def test_not_utf8_names_the_line(data):
    path = data / NELM / "studies.csv"
    rows = path.read_bytes().split(b"\n")
    rows[3] = rows[3].replace(b"Du", b"D\xfc", 1)  # a Latin-1 u-umlaut on line 4
    path.write_bytes(b"\n".join(rows))
    assert problems(data) == [
        "data/nelm/studies.csv:4: byte 0xfc is not UTF-8 text; expected the file saved as CSV UTF-8"
    ]
