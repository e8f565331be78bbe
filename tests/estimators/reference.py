"""Reading metafor's fixture numbers and comparing ours with them (1e-5 abs + 1e-5 rel)."""

import json
import math
from pathlib import Path

FIXTURES = Path(__file__).parents[1] / "fixtures"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def value(x):
    """A fixture number: JSON null is NA (nan), "Inf"/"-Inf"/"NaN" strings, length-1 lists."""
    if isinstance(x, list):
        assert len(x) == 1, x
        x = x[0]
    if x is None:
        return math.nan
    if isinstance(x, str):
        return float(x.replace("Inf", "inf"))
    return float(x)


def close(ours, ref) -> bool:
    if math.isnan(ref):
        return math.isnan(ours)
    if math.isinf(ref):
        return ours == ref
    return abs(ours - ref) <= 1e-5 + 1e-5 * abs(ref)
