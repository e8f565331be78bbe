"""The input tables: their columns, and reading them the way a spreadsheet shows them.

Tables are read as text (nothing guessed by pandas, no ``NA`` strings), so validation
sees exactly what the team typed and can name the row and column of every problem.
Row numbers are the spreadsheet's: the header is row 1, the first study row 2, and a
blank row still counts (a CSV record spanning two lines, a quoted line break, is one
row, as a spreadsheet shows it).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .problems import Problem

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_ARM_CLASSES = ("liver_directed", "systemic", "combined", "observation", "other")
DEFAULT_MODALITIES = (
    "resection ablation tace tae sirt transplant ssa everolimus sunitinib prrt chemotherapy "
    "interferon mixed none"
).split()
DESIGNS = ("rct", "prospective", "retrospective", "registry")
RISK_OF_BIAS = ("low", "moderate", "serious", "critical", "unclear")
OUTCOMES = ("os", "pfs", "ttp")
BOOLEANS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


@dataclass(frozen=True)
class Column:
    """One column of an input table: its type, whether it is required, allowed values."""

    name: str
    kind: str = "text"  # text | int | float | bool | pvalue | choice
    required: bool = False
    choices: tuple[str, ...] = ()
    positive: bool = False


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = field(default=())

    @property
    def by_name(self) -> dict[str, Column]:
        return {c.name: c for c in self.columns}


def table_specs(arm_classes=DEFAULT_ARM_CLASSES, modalities=DEFAULT_MODALITIES) -> dict:
    """The contract of design.md, with the config's arm classes and modalities."""
    notes = (Column("source"), Column("quote"), Column("notes"))
    return {
        "studies": TableSpec(
            "studies",
            (
                Column("study_id", required=True),
                Column("citation", required=True),
                Column("year", "int", required=True),
                Column("doi"),
                Column("design", "choice", required=True, choices=DESIGNS),
                Column("risk_of_bias", "choice", choices=RISK_OF_BIAS),
                *notes,
            ),
            key=("study_id",),
        ),
        "arms": TableSpec(
            "arms",
            (
                Column("study_id", required=True),
                Column("arm_id", required=True),
                Column("arm_class", "choice", required=True, choices=tuple(arm_classes)),
                Column("modality", "choice", required=True, choices=tuple(modalities)),
                Column("outcome", "choice", required=True, choices=OUTCOMES),
                Column("n", "int", required=True, positive=True),
                Column("events", "int"),
                Column("median_months", "float", positive=True),
                Column("median_ci_low", "float", positive=True),
                Column("median_ci_high", "float", positive=True),
                Column("followup_months", "float", positive=True),
                Column("followup_min_months", "float", positive=True),
                Column("followup_max_months", "float", positive=True),
                *notes,
            ),
            key=("study_id", "arm_id", "outcome"),
        ),
        "contrasts": TableSpec(
            "contrasts",
            (
                Column("study_id", required=True),
                Column("outcome", "choice", required=True, choices=OUTCOMES),
                Column("arm_id", required=True),
                Column("ref_arm_id", required=True),
                Column("hr", "float", positive=True),
                Column("ci_low", "float", positive=True),
                Column("ci_high", "float", positive=True),
                Column("ci_level", "float"),
                Column("p_value", "pvalue"),
                Column("adjusted", "bool"),
                Column("o_minus_e", "float"),
                Column("logrank_var", "float", positive=True),
                Column("events_total", "int", positive=True),
                Column("favours"),
                *notes,
            ),
            key=("study_id", "outcome", "arm_id", "ref_arm_id"),
        ),
        "survival_points": TableSpec(
            "survival_points",
            (
                Column("study_id", required=True),
                Column("arm_id", required=True),
                Column("outcome", "choice", required=True, choices=OUTCOMES),
                Column("time_months", "float", required=True, positive=True),
                Column("surv_prop", "float", required=True),
                *notes,
            ),
            key=("study_id", "arm_id", "outcome", "time_months"),
        ),
        "km_points": TableSpec(
            "km_points",
            (
                Column("study_id", required=True),
                Column("arm_id", required=True),
                Column("outcome", "choice", required=True, choices=OUTCOMES),
                Column("time_months", "float", required=True),
                Column("surv_prop", "float", required=True),
                *notes,
            ),
        ),
        "km_at_risk": TableSpec(
            "km_at_risk",
            (
                Column("study_id", required=True),
                Column("arm_id", required=True),
                Column("outcome", "choice", required=True, choices=OUTCOMES),
                Column("time_months", "float", required=True),
                Column("n_at_risk", "int", required=True),
                *notes,
            ),
            key=("study_id", "arm_id", "outcome", "time_months"),
        ),
    }


@dataclass
class RawTable:
    """A table's cells as text, indexed by spreadsheet row, and what reading it found.

    ``problems``: cells that cannot be trusted as read (an Excel formula with no saved
    value, an Excel error such as ``#DIV/0!``, a value under no header).
    """

    frame: pd.DataFrame
    problems: list[Problem]
    header_row: int = 1


def column_letter(j: int) -> str:
    """Spreadsheet letters of the 0-based column ``j`` (0 -> A, 26 -> AA)."""
    out = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        out = chr(65 + r) + out
    return out


def is_workbook(path: Path) -> bool:
    """Whether ``path`` is read as an Excel workbook (else as CSV)."""
    return Path(path).suffix.lower() in (".xlsx", ".xlsm")


def _csv_records(path: Path):
    """(row number, [cell text], {}) per CSV record; a blank line is a row too."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        for number, record in enumerate(reader, start=1):
            yield number, record, {}


def _excel_text(value) -> str:
    """A cell's value as text, as pandas' ``read_excel(dtype=str)`` gives it."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _excel_records(path: Path, table: str | None):
    """(row number, [cell text], {column index: problem}) per row of the table's sheet.

    The sheet named for the table, else the first visible sheet (a hidden sheet is
    never used). Formulas are read as the value Excel saved with them; a formula with
    no saved value (a file written by a program that does not compute formulas) is a
    problem rather than a blank.
    """
    import openpyxl

    book = openpyxl.load_workbook(path, data_only=False)
    try:
        if table in book.sheetnames:
            name = table
        else:
            visible = [ws.title for ws in book.worksheets if ws.sheet_state == "visible"]
            if not visible:
                raise ValueError("the workbook has no visible sheet")
            name = visible[0]
        formulas = book[name]
        cached = None
        if any(c.data_type == "f" for row in formulas.iter_rows() for c in row):
            cached = openpyxl.load_workbook(path, data_only=True)[name]
        for row in formulas.iter_rows():
            notes, cells = {}, []
            for j, cell in enumerate(row):
                value = cell.value
                if cell.data_type == "f":
                    text = value if isinstance(value, str) else getattr(value, "text", str(value))
                    saved = cached.cell(row=cell.row, column=cell.column)
                    value = saved.value
                    if value is None:
                        notes[j] = (
                            f"formula {text} has no saved value (the file was written without"
                            " computing it); expected a value: open and save the workbook in"
                            " Excel or LibreOffice, or type the value"
                        )
                    elif saved.data_type == "e":
                        notes[j] = f"formula {text} gives the error {value}; expected a value"
                        value = None
                elif cell.data_type == "e":
                    notes[j] = f"the cell holds the error {value}; expected a value"
                    value = None
                cells.append(_excel_text(value))
            if row:
                yield row[0].row, cells, notes
    finally:
        book.close()


def read_table_text(
    path: str | Path, table: str | None = None, label: str | None = None
) -> RawTable:
    """Read a CSV or .xlsx table as text: blanks as "", names and cells stripped.

    A UTF-8 byte-order mark and Windows line endings are accepted. A workbook may
    hold one table (its first visible sheet) or all of them, one sheet named for each
    table. Blank rows are skipped but counted, so row numbers stay the file's. A
    trailing comma on every row (an unnamed, empty last column) is read as no
    column; a value under no header is a problem.
    """
    import pandas as pd  # not at import: the workflow checks its config before pandas loads

    path = Path(path)
    label = label or str(path)
    records = _excel_records(path, table) if is_workbook(path) else _csv_records(path)
    header: list[str] | None = None
    header_row, header_notes = 1, {}
    rows, numbers, problems = [], [], []
    for number, record, notes in records:
        cells = [c.strip() for c in record]
        if header is None:
            if any(cells):
                header, header_row, header_notes = cells, number, notes
            continue
        if not any(cells) and not notes:
            continue
        numbers.append(number)
        rows.append((cells, notes))
    if header is None:
        raise ValueError("no header row")
    width = max([len(header), *(len(c) for c, _ in rows)])
    header = header + [""] * (width - len(header))
    names = [h if h else f"column {column_letter(j)}" for j, h in enumerate(header)]
    for j, message in header_notes.items():
        problems.append(Problem(label, header_row, names[j], message))
    keep = [j for j, h in enumerate(header) if h or any(j < len(c) and c[j] for c, _ in rows)]
    for (cells, notes), number in zip(rows, numbers, strict=True):
        for j, message in notes.items():
            problems.append(Problem(label, number, names[j], message))
        for j in keep:
            if not header[j] and j < len(cells) and cells[j]:
                problems.append(
                    Problem(
                        label,
                        number,
                        names[j],
                        f"'{cells[j]}' is under no header; expected a column name in row"
                        f" {header_row} or no value",
                    )
                )
    data = [[cells[j] if j < len(cells) else "" for j in keep] for cells, _ in rows]
    frame = pd.DataFrame(data, columns=[names[j] for j in keep], index=numbers, dtype=object)
    if not rows:
        frame = pd.DataFrame(columns=[names[j] for j in keep], dtype=object)
    return RawTable(frame, problems, header_row)


def read_raw(path: str | Path, table: str | None = None) -> pd.DataFrame:
    """A table's cells as text, rows numbered 0.. (for showing a validated table)."""
    return read_table_text(path, table).frame.reset_index(drop=True)
