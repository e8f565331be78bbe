"""Harmonization: every study comparison onto the log hazard ratio (methods.md section 1).

Each method lives in the module of its reporting form and declares itself there once
(``registry.method``: name, precedence, formula, sources, report text). Every module of
this package is imported below, so adding a method touches only its own module.

``METHODS`` is the precedence order: the first method that can estimate a
comparison wins, the others are kept as alternatives for the audit trail.
"""

import importlib
import pkgutil

from .registry import REGISTRY, methods

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

METHODS = methods("log_hr")

#: Methods whose estimate is a ratio of medians, usable for ``metric: log_mr``.
MEDIAN_METHODS = methods("log_mr")

#: Shown beside the winner, never chosen while its twin can be.
SECONDARY = {m.name for m in METHODS if m.secondary}

__all__ = ["MEDIAN_METHODS", "METHODS", "REGISTRY", "SECONDARY", "methods"]
