"""A problem in the inputs or the config, as one line: ``file:row:column: message``.

Kept free of pandas so the workflow can check its config while snakemake parses.
"""

from __future__ import annotations

from dataclasses import dataclass


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
        return ":".join(where) + ": " + self.message


class InputError(Exception):
    """The inputs break the contract; ``problems`` says where and how."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
