"""The shape every harmonization method shares: what it returns, and how it declines."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from statistics import NormalDist

#: The standard normal (stdlib: the harmonize job needs only its quantiles, not scipy).
NORMAL = NormalDist()


class NotEstimable(Exception):
    """The comparison lacks what this method needs; the message says what."""


class Failed(NotEstimable):
    """The method had its inputs, but they cannot give a finite yi with a vi > 0.

    Raised for one method and one comparison only (zero events, a p whose half
    underflows, a CI of zero width, an arithmetic error, a Cox fit that did not
    converge); the runner records it in the audit trail ("not estimable: why") and
    tries the next method (methods.md §1; issue 19, item 1).
    """


@dataclass
class Derivation:
    """One way of getting a log effect and its variance from reported numbers.

    ``yi`` is the log hazard ratio of treatment versus control (for median methods
    ``log_mr`` holds ln(M_T / M_C) as well). ``reported`` lists the numbers used, as
    reported; ``assumptions`` every assumption the method needed; ``flags`` marks
    derivations to leave out in a sensitivity analysis (e.g. p printed as a bound).
    ``events`` (treatment, control): events the method estimated (None where it did
    not), for effects.csv when the arm does not report them.
    """

    method: str
    yi: float
    vi: float
    reported: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    log_mr: float | None = None
    events: tuple[float | None, float | None] = (None, None)


def z_two_sided(p: float) -> float:
    """z_{1-p/2} as -Phi^{-1}(p/2) (never Phi^{-1}(1 - p/2), which is infinite for tiny p).

    A p whose half is below the smallest normal double (2.2e-308) has lost its
    precision (or is 0): not estimable, rather than a z from an underflowed number.
    """
    if p >= 1.0:
        return 0.0
    if p / 2.0 < sys.float_info.min:
        raise Failed(f"p = {p:.3g}: p/2 underflows double precision, no z can be read from it")
    return -NORMAL.inv_cdf(p / 2.0)


def z_level(level: float) -> float:
    """The normal quantile z_{(1+L)/2} for a CI at level L."""
    return -NORMAL.inv_cdf((1.0 - level) / 2.0)


def fmt(x: float) -> str:
    """A reported number as printed (no trailing zeros)."""
    return f"{x:g}"
