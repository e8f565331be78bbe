"""Every number the report and the figures print, formatted in one place.

Values arrive from result CSVs (floats, NaN for a blank cell) or as text. A missing
value prints as an en dash. Ratios come from log-scale values through :func:`ratio`,
which never overflows: a ratio beyond 10^6 (or below 10^-6) prints as "> 1e6"
("< 1e-6") rather than as a number no study can support, and never crashes.
Free of pandas and numpy.
"""

from __future__ import annotations

import math

DASH = "–"
#: Ratios beyond these print as bounds: exp(13.8) is 10^6.
RATIO_MAX = 1e6
LOG_RATIO_MAX = math.log(RATIO_MAX)


def as_float(x) -> float | None:
    """A number (int, float, numeric text) as float, else None; booleans are not numbers."""
    if x is None or isinstance(x, bool):
        return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def finite(x) -> bool:
    """True for a number that is not NaN/inf (text that is not a number, None and blanks
    are not)."""
    if isinstance(x, str):
        return False
    v = as_float(x)
    return v is not None and math.isfinite(v)


def missing(x) -> bool:
    """None, NaN or a blank text: shown as a dash."""
    if x is None:
        return True
    if isinstance(x, str):
        return not x.strip()
    v = as_float(x)
    return v is not None and math.isnan(v)


def ratio(log_value) -> float | None:
    """exp(log_value), clipped to [1e-6 / 10, 1e6 * 10] so that huge values stay finite
    (they print as bounds, see :func:`fmt_ratio`); None when not a finite number."""
    if not finite(log_value):
        return None
    return math.exp(max(-LOG_RATIO_MAX - 3, min(LOG_RATIO_MAX + 3, float(log_value))))


def _bound(v: float) -> str | None:
    if v > RATIO_MAX:
        return "> 1e6"
    if v < 1 / RATIO_MAX:
        return "< 1e-6"
    return None


def fmt_num(x, digits: int = 3) -> str:
    """3 decimals, or 3 significant digits for small values so tau² ~ 0.001 stays visible."""
    if missing(x):
        return DASH
    v = as_float(x)
    if v is None:
        return str(x)
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if v == 0 or abs(v) >= 0.1:
        return f"{v:.{digits}f}"
    return f"{v:.{digits}g}"


def fmt_g(x, digits: int = 6) -> str:
    """Significant digits, for the audit trail's yi and vi (enough to recompute by hand)."""
    if missing(x):
        return DASH
    v = as_float(x)
    return str(x) if v is None else f"{v:.{digits}g}"


def fmt_dec(x, digits: int = 2) -> str:
    """Fixed decimals (the figures' two), a dash when missing."""
    return f"{float(x):.{digits}f}" if finite(x) else DASH


def fmt_int(x) -> str:
    """A whole number (numeric text too); a dash when missing or not finite."""
    if missing(x):
        return DASH
    v = as_float(x)
    if v is None:
        return str(x)
    return str(int(v)) if math.isfinite(v) else DASH


def fmt_p(x) -> str:
    if missing(x):
        return DASH
    v = as_float(x)
    if v is None:
        return str(x)
    return "< 0.001" if v < 0.001 else f"{v:.3f}"


def p_eq(x) -> str:
    """'p = 0.109' or 'p < 0.001'."""
    v = fmt_p(x)
    return f"p {v}" if v.startswith("<") else f"p = {v}"


def p_text(x) -> str:
    """As :func:`p_eq`, but a dash alone when missing (the figures' footers)."""
    return p_eq(x) if finite(x) else DASH


def fmt_pct(x, digits: int = 1) -> str:
    return DASH if not finite(x) else f"{float(x):.{digits}f}%"


def fmt_text(x) -> str:
    return DASH if missing(x) else str(x)


def fmt_ratio(x, digits: int | None = None) -> str:
    """A ratio on its own scale (already exponentiated): fmt_num's rule, or ``digits``
    decimals; beyond 1e6 (below 1e-6) it prints as a bound."""
    if not finite(x):
        return fmt_num(x) if digits is None else DASH
    bound = _bound(float(x))
    if bound:
        return bound
    return fmt_num(x) if digits is None else f"{float(x):.{digits}f}"


def fmt_ci(est, lo, hi) -> str:
    """'0.304 [0.0568, 1.626]' (ratios as given, e.g. pooled.csv's hr columns)."""
    if missing(est):
        return DASH
    return f"{fmt_ratio(est)} [{fmt_ratio(lo)}, {fmt_ratio(hi)}]"


def fmt_ci_log(est, lo, hi) -> str:
    """The ratio and its CI from log-scale values."""
    return fmt_ci(ratio(est), ratio(lo), ratio(hi))


def fmt_exp(x, digits: int = 2) -> str:
    """A ratio from its log with ``digits`` decimals (the figures' two)."""
    return fmt_ratio(ratio(x), digits) if finite(x) else DASH


def ci_text(est, lo, hi) -> str:
    """'0.62 [0.45, 0.85]' from log-scale values, two decimals (the figures)."""
    return DASH if not finite(est) else f"{fmt_exp(est)} [{fmt_exp(lo)}, {fmt_exp(hi)}]"


def fmt_interval(lo, hi) -> str:
    """'[0.012, 1.3]' of plain numbers (tau², coefficients)."""
    return DASH if missing(lo) else f"[{fmt_num(lo)}, {fmt_num(hi)}]"


def fmt_ratio_interval(lo, hi) -> str:
    """'[0.31, 1.6]' of ratios, bounds beyond 1e6 printed as such."""
    return DASH if missing(lo) else f"[{fmt_ratio(lo)}, {fmt_ratio(hi)}]"


def events_n(events, n) -> str:
    """'12/58' (events/N), '–/58' when events were not reported."""
    return f"{fmt_int(events)}/{fmt_int(n)}" if finite(n) else DASH


class Scale:
    """How an analysis's effects read: ratios from log-scale values (log_hr, log_mr) or
    months as they are (rmst_diff). Every effect the report prints goes through one.
    """

    NAMES = {"log_hr": "HR", "log_mr": "Ratio of medians", "rmst_diff": "RMST difference"}

    def __init__(self, metric: str = "log_hr"):
        self.metric = metric
        self.ratio = metric != "rmst_diff"
        self.name = self.NAMES.get(metric, metric)
        #: the unit after a difference, "" for a ratio
        self.unit = "" if self.ratio else " months"

    def ci(self, est, lo, hi) -> str:
        """'0.62 [0.45, 0.85]' (ratio) or '2.10 [0.31, 3.89] months' from model-scale values."""
        if self.ratio:
            return fmt_ci_log(est, lo, hi)
        if missing(est):
            return DASH
        return f"{fmt_num(est)} [{fmt_num(lo)}, {fmt_num(hi)}]{self.unit}"

    def interval(self, lo, hi) -> str:
        if self.ratio:
            return fmt_ratio_interval(ratio(lo), ratio(hi))
        return fmt_interval(lo, hi) + ("" if missing(lo) else self.unit)

    def value(self, x, digits: int | None = None) -> str:
        if self.ratio:
            return fmt_ratio(ratio(x), digits) if finite(x) else DASH
        return fmt_num(x) if digits is None else fmt_dec(x, digits)

    def favours_treatment(self, x) -> bool | None:
        """Whether a model-scale value favours the treatment (HR < 1; ratio of medians and
        RMST difference > 0); None when not a number."""
        if not finite(x):
            return None
        return float(x) < 0 if self.metric == "log_hr" else float(x) > 0

    @property
    def null(self) -> str:
        return "1" if self.ratio else "0"
