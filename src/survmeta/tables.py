"""The input tables: their columns, and reading them the way a spreadsheet shows them.

Tables are read as text (nothing guessed by pandas), so validation sees exactly
what the team typed and can name the row and column of every problem. Row
numbers are the spreadsheet's: the header is row 1, the first study row 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

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


def read_raw(path: str | Path, table: str | None = None) -> pd.DataFrame:
    """Read a CSV or .xlsx table as text, blanks as "", names and cells stripped.

    A UTF-8 byte-order mark and Windows line endings are accepted. A workbook may
    hold one table (its first sheet) or all of them, one sheet named for each table.
    """
    import pandas as pd  # not at import: the workflow checks its config before pandas loads

    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        with pd.ExcelFile(path) as book:
            sheet = table if table in book.sheet_names else 0
            df = pd.read_excel(book, sheet_name=sheet, dtype=str, keep_default_na=False)
    else:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    df.columns = [str(c).strip() for c in df.columns]
    return df.apply(lambda col: col.str.strip())
