"""Bad input: one line per problem naming file, spreadsheet row and column."""

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
            "data/nelm/contrasts.csv:2:ci_low: CI (0.8, 0.4) is reversed; expected ci_low < ci_high",
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
