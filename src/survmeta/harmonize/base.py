"""The shape every harmonization method shares: what it returns, and how it declines."""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist

#: The standard normal (stdlib: the harmonize job needs only its quantiles, not scipy).
NORMAL = NormalDist()


class NotEstimable(Exception):
    """The comparison lacks what this method needs; the message says what."""


@dataclass
class Derivation:
    """One way of getting a log effect and its variance from reported numbers.

    ``yi`` is the log hazard ratio of treatment versus control (for median methods
    ``log_mr`` holds ln(M_T / M_C) as well). ``reported`` lists the numbers used, as
    reported; ``assumptions`` every assumption the method needed; ``flags`` marks
    derivations to leave out in a sensitivity analysis (e.g. p printed as a bound).
    """

    method: str
    yi: float
    vi: float
    reported: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    log_mr: float | None = None


def z_two_sided(p: float) -> float:
    """z_{1-p/2} as -Phi^{-1}(p/2) (never Phi^{-1}(1 - p/2), which is infinite for tiny p)."""
    return -NORMAL.inv_cdf(p / 2.0) if p < 1.0 else 0.0


def z_level(level: float) -> float:
    """The normal quantile z_{(1+L)/2} for a CI at level L."""
    return -NORMAL.inv_cdf((1.0 - level) / 2.0)


def fmt(x: float) -> str:
    """A reported number as printed (no trailing zeros)."""
    return f"{x:g}"
