"""Result tables: written whole or not at all, safe to open in a spreadsheet, read one way.

Writing goes to a temporary file, then a rename, so a reader never sees a partial
file. Text cells that a spreadsheet would run as a formula are defused on the way
out (:func:`escape_cell`) and restored on the way in (:func:`read_result`), so the
workflow's own jobs see what the team typed.
"""

from __future__ import annotations

import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

FLOAT_FORMAT = "%.12g"

#: OWASP's CSV-injection rule: a cell beginning with = + - @, a tab or a carriage return
#: is run as a formula by spreadsheets; a leading single quote makes it text
#: (https://owasp.org/www-community/attacks/CSV_Injection). Cells already beginning
#: with quotes before such a character get one more, so reading back is exact.
_FORMULA_START = re.compile(r"'*[=+\-@\t\r]")
_ESCAPED = re.compile(r"'+[=+\-@\t\r]")
#: A plain number in a text cell (-0.5, +1e-3) is shown as a number, never run: left as is.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def escape_cell(value):
    """``value`` with a leading ``'`` when a spreadsheet would read it as a formula.

    Only text is touched: numbers (and text that is a plain number, such as ``-0.5``)
    stay as they are. The inverse is :func:`unescape_cell`.
    """
    if isinstance(value, str) and _FORMULA_START.match(value):
        if not _PLAIN_NUMBER.fullmatch(value):
            return "'" + value
    return value


def unescape_cell(value):
    """The text that :func:`escape_cell` escaped (one leading ``'`` removed)."""
    if isinstance(value, str) and _ESCAPED.match(value):
        return value[1:]
    return value


@contextmanager
def atomic_open(path: str | Path):
    """A text file that appears at ``path`` only when the block ends without an error.

    It is written beside ``path`` (``.<name>.<random>.tmp``) and renamed over it. A job
    killed mid-write (SIGKILL, power loss) can leave such a file; the next write of the
    same output removes it (snakemake gives each output to one job at a time).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            yield fh
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; outputs are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` atomically (a reader never sees a partial file)."""
    with atomic_open(path) as fh:
        fh.write(text)


def _text_columns(df: pd.DataFrame) -> list:
    from pandas.api.types import is_object_dtype, is_string_dtype

    return [c for c, t in df.dtypes.items() if is_object_dtype(t) or is_string_dtype(t)]


def write_csv(path: str | Path, df: pd.DataFrame, digits: int = 12) -> None:
    """A DataFrame as CSV, 12 significant digits, so runs on two machines agree byte for byte.

    ``digits``: fewer for numbers only that accurate (the Bayesian integrals: 1e-6), whose
    last digits would otherwise follow the rounding noise of the vectorized arithmetic.
    Text cells that would run as a spreadsheet formula get a leading ``'``
    (:func:`escape_cell`); numeric columns are written as numbers.
    """
    text = _text_columns(df)
    if text:
        df = df.copy()
        for col in text:
            df[col] = df[col].map(escape_cell)
    fmt = FLOAT_FORMAT if digits == 12 else f"%.{digits}g"
    write_text(path, df.to_csv(index=False, float_format=fmt, lineterminator="\n"))


def read_result(path, columns=None) -> pd.DataFrame:
    """A result CSV as the workflow wrote it: blank cells are missing, nothing else is.
    ``columns``: read only those of them the file has (a GOSH table's few hundred
    thousand rows are parsed only where a job needs them).

    pandas' default NA strings (``NA``, ``None``, ``null``, ``nan``, ...) would turn a
    study called ``NA`` or a subgroup ``None`` into a missing value; every job reads
    result tables here instead, the same way (issue 19, item 9). Formula-escaped text is
    restored (:func:`unescape_cell`).
    """
    import pandas as pd

    usecols = None if columns is None else (lambda c: c in set(columns))
    df = pd.read_csv(path, keep_default_na=False, na_values=[""], usecols=usecols)
    for col in _text_columns(df):
        df[col] = df[col].map(unescape_cell)
    return df
