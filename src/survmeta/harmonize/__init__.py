"""Harmonization: every study comparison onto the log hazard ratio (methods.md section 1).

``METHODS`` is the precedence order: the first method that can estimate a
comparison wins, the others are kept as alternatives for the audit trail.
"""

from .hazard_ratio import hr_ci, hr_p, logrank_oe, p_events
from .km_reconstruction import km_reconstruction
from .medians import median_ci, median_p, median_ratio
from .survival_curve import survival_curve, survival_curve_oe

METHODS = (
    hr_ci,
    logrank_oe,
    hr_p,
    p_events,
    km_reconstruction,
    survival_curve,
    survival_curve_oe,
    median_ratio,
    median_ci,
    median_p,
)

#: Methods whose estimate is a ratio of medians, usable for ``metric: log_mr``.
MEDIAN_METHODS = (median_ratio, median_ci, median_p)

#: Shown beside the winner, never chosen while its twin can be.
SECONDARY = {"survival_curve_oe"}
