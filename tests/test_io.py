"""Result tables: safe to open in a spreadsheet, and read back exactly (issue 19, items 9-10)."""

import csv

import numpy as np
import pandas as pd
import pytest

from survmeta.io import escape_cell, read_result, unescape_cell, write_csv


@pytest.mark.parametrize(
    "cell,shown",
    [
        ("=1+2", "'=1+2"),
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("'=1", "''=1"),  # already quoted by the team: one more, so it reads back as typed
        ("-", "'-"),
        # left alone: plain numbers, ordinary text, a quote before ordinary text
        ("-0.5", "-0.5"),
        ("+1e-3", "+1e-3"),
        ("Kim2010", "Kim2010"),
        ("'hello", "'hello"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_owasp_formula_cells_get_a_leading_quote(cell, shown):
    assert escape_cell(cell) == shown
    assert unescape_cell(shown) == cell


@pytest.mark.parametrize("value", [-0.5, -1, np.float64(-2.5), None, True])
def test_non_text_is_left_alone(value):
    assert escape_cell(value) is value


def test_written_file_as_a_spreadsheet_sees_it(tmp_path):
    df = pd.DataFrame(
        {
            "study_id": ["=cmd", "NA", "None", "-0.5", "ok"],
            "yi": [-0.5, -1e-300, 0.25, -2.0, np.nan],
            "k": [1, 2, 3, 4, 5],
        }
    )
    path = tmp_path / "t.csv"
    write_csv(path, df)
    with path.open(newline="") as fh:
        cells = list(csv.reader(fh))
    assert cells == [
        ["study_id", "yi", "k"],
        ["'=cmd", "-0.5", "1"],
        ["NA", "-1e-300", "2"],
        ["None", "0.25", "3"],
        ["-0.5", "-2", "4"],
        ["ok", "", "5"],
    ]
    back = read_result(path)
    assert back["study_id"].tolist() == ["=cmd", "NA", "None", "-0.5", "ok"]
    assert back["yi"].tolist()[:4] == [-0.5, -1e-300, 0.25, -2.0] and np.isnan(back.at[4, "yi"])
    assert back["k"].dtype.kind == "i"


@pytest.mark.parametrize("na", ["NA", "N/A", "None", "null", "NULL", "nan", "NaN", "#N/A", "n/a"])
def test_na_strings_are_read_as_text(tmp_path, na):
    path = tmp_path / "t.csv"
    path.write_text(f"analysis_id,subgroup,k\na,{na},2\na,,3\n", encoding="utf-8")
    back = read_result(path)
    assert back.at[0, "subgroup"] == na
    assert pd.isna(back.at[1, "subgroup"])  # only a blank cell is missing
