"""A problem in the inputs or the config, as one line: ``file:row:column: message``.

Kept free of pandas so the workflow can check its config while snakemake parses.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

#: How a line break or other control character inside a cell is shown, so that a
#: problem stays on one line (issue 19, item 8).
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped (``\\n``, ``\\x0b``).

    Covers everything ``str.splitlines`` breaks on (U+0085, U+2028, U+2029 too), so
    the message is one line whatever a cell held.
    """
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


@dataclass
class Problem:
    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(str(self.row))
        if self.column:
            where.append(self.column)
        return one_line(":".join(where) + ": " + self.message)


class InputError(Exception):
    """The inputs break the contract; ``problems`` says where and how."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
