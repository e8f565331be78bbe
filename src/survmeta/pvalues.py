"""p-values as papers print them: ``0.03``, ``.03``, ``p=0.03``, ``P < .05``, ``<0.001``."""

from __future__ import annotations

import re
from typing import NamedTuple

#: ASCII digits only (``re.ASCII``): ``\d`` alone also matches other scripts' digits.
_P_RE = re.compile(
    r"^\s*(?:p\s*)?(=|<=|<|≤)?\s*(\d*\.?\d+(?:[eE][-+]?\d+)?)\s*$", re.IGNORECASE | re.ASCII
)


class PValue(NamedTuple):
    """A printed p: its value and whether it was printed as a bound (``<``)."""

    value: float
    bound: bool


def parse_p(text: str) -> PValue | None:
    """Parse a printed p-value; None when the text is not one."""
    m = _P_RE.match(str(text))
    if not m:
        return None
    op, num = m.groups()
    return PValue(float(num), op in ("<", "<=", "≤"))
