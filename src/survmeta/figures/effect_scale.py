"""How an analysis's effects read on a figure: ratios on a log axis, or months on a linear one.

Results hold effects on the model scale: log hazard ratios and log ratios of medians
(exponentiated for the reader, two decimals, a log axis symmetric about 1), or restricted
mean survival time differences in months (printed as they are, one decimal, a linear axis
symmetric about 0; methods.md §6). Every figure asks one :class:`EffectScale` instead of
testing the metric itself; it is the report's :class:`~survmeta.numbers.Scale` (same metric,
same side of the null favouring the treatment) with the figures' decimals and an axis.
"""

from __future__ import annotations

import math

from ..numbers import DASH, Scale, finite, fmt_exp, ratio
from .svg import ratio_ticks

#: RevMan's symmetric ratio axes: 0.5-2 ... 0.01-100; beyond, an arrow at the edge.
RATIO_LIMITS = (2.0, 5.0, 10.0, 20.0, 50.0, 100.0)


class EffectScale(Scale):
    """The figures' view of a metric (``log_hr``, ``log_mr`` or ``rmst_diff``)."""

    def __init__(self, metric: str = "log_hr"):
        super().__init__(metric)
        self.months = not self.ratio
        #: the null effect on the axis (a ratio of 1, a difference of 0)
        self.null_x = 0.0 if self.months else 1.0
        #: whether an effect above the null favours the treatment (an HR below 1 does not)
        self.high_favours_treatment = bool(self.favours_treatment(1.0))
        #: a column heading: 'HR [95% CI]'
        self.column = {"log_mr": "Ratio", "rmst_diff": "Months"}.get(metric, "HR")
        #: in a sentence: 'Pooled HR 0.62 [0.45, 0.85]'
        self.what = {"log_mr": "ratio of medians", "rmst_diff": "RMST difference"}.get(metric, "HR")
        #: the x axis label
        self.label = {
            "log_mr": "Ratio of medians (log scale)",
            "rmst_diff": "RMST difference (months)",
        }.get(metric, "Hazard ratio (log scale)")

    def x(self, v) -> float:
        """A model-scale value as drawn on a ratio or month axis."""
        return float(v) if self.months else ratio(v)

    def value(self, v, digits: int | None = None) -> str:
        """'0.62' (a ratio, two decimals, bounded as numbers.fmt_exp) or '2.1' (months, one
        decimal); ``digits`` decimals when given."""
        if not finite(v):
            return DASH
        if not self.months:
            return fmt_exp(v, 2 if digits is None else digits)
        text = f"{float(v):.{1 if digits is None else digits}f}"
        return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.0"

    def ci(self, est, lo, hi) -> str:
        """'0.62 [0.45, 0.85]' or '2.1 [0.3, 3.9]' from model-scale values."""
        if not finite(est):
            return DASH
        return f"{self.value(est)} [{self.value(lo)}, {self.value(hi)}]"

    def limits(self, bounds: list[float]) -> tuple[float, float]:
        """An axis symmetric about the null covering ``bounds`` (axis units): RevMan's
        ratio scales (what lies beyond is drawn to the edge), or 1, 2, 5, 10, ... months."""
        if self.months:
            need = max([abs(b) for b in bounds if finite(b)] + [0.5])
            e = 10.0 ** math.floor(math.log10(need))
            m = next(m for m in (1, 2, 5, 10) if need <= m * e * 1.0001)
            return -m * e, m * e
        need = max([1.0] + [max(b, 1 / b) for b in bounds if finite(b) and b > 0])
        lim = next((lim for lim in RATIO_LIMITS if need <= lim * 1.0001), RATIO_LIMITS[-1])
        return 1 / lim, lim

    def ticks(self, x0: float, x1: float) -> list[float]:
        """Plain-number ticks between x0 and x1 (axis units)."""
        if self.months:
            return [x0, x0 / 2, 0.0, x1 / 2, x1]
        return ratio_ticks(x0, x1)

    def frac(self, v: float, x0: float, x1: float) -> float:
        """Where ``v`` (axis units) lies between x0 and x1, as a fraction of the width."""
        if self.months:
            return (v - x0) / (x1 - x0)
        return math.log(v / x0) / math.log(x1 / x0)

    def inward(self, edge: float, sign: int, x0: float, x1: float) -> float:
        """A point 12% of the half-width inside ``edge`` (the tail of an arrow that marks a
        CI running beyond the axis; ``sign`` -1 at the left edge, +1 at the right)."""
        if self.months:
            return edge - sign * 0.12 * (x1 - x0) / 2
        return edge * math.exp(-sign * 0.12 * math.log(x1))

    def log_axis_ticks(self, lo: float, hi: float):
        """For figures drawn on the model scale (funnel, GOSH): tick positions and a label
        function, ratios read off a log-scale x (None for months: matplotlib's own)."""
        if self.months:
            return None
        ticks = ratio_ticks(ratio(lo), ratio(hi))  # bounded: an HR of 1e300 has an axis
        return [math.log(t) for t in ticks], lambda v, _: f"{round(ratio(v), 6):g}"
