"""The engine's estimators in PyMARE's interface, for code that works with PyMARE objects.

PyMARE (``pymare.estimators``) fits stacked datasets with estimator objects:
``fit(y, v, X)`` sets ``params_`` (``fe_params`` (p, D), ``tau2``, ``inv_cov``
(p, p, D), ``dof``) and ``summary()`` returns its ``MetaRegressionResults``.
:class:`MetaforEstimator` is such an object for every metafor method of the
engine (rma.py). The workflow itself does not import PyMARE: its numbers come
from the engine, which stacks datasets of unequal size (PyMARE's estimators need
equal K) and has metafor's Fisher scoring and the estimators PyMARE lacks, and
importing PyMARE costs about 1.5 s more than the engine's own imports
(docs/methods.md, "PyMARE"). tests/estimators/test_pymare.py checks PyMARE's own
DL and HE against metafor's numbers and this class through ``summary()``.
"""

from __future__ import annotations

import numpy as np
from pymare.estimators.estimators import BaseEstimator
from pymare.stats import ensure_2d

from .design import Intercept, Moderators
from .rma import check_method, fit


class MetaforEstimator(BaseEstimator):
    """Random-effects (meta-)regression with one of metafor's tau^2 methods (``method``).

    ``X`` is the full design as PyMARE passes it (intercept column included),
    (K, p) or (D, K, p). ``errors_`` and ``warnings_`` hold metafor's messages per
    dataset (None where none).
    """

    def __init__(self, method: str = "REML"):
        check_method(method)
        self.method = method

    def fit(self, y, v, X):
        """Estimate tau^2 per dataset, then the weighted least-squares coefficients."""
        self.dataset_ = None
        y, v = ensure_2d(y), ensure_2d(v)
        v = np.broadcast_to(v, y.shape).astype(float)
        X = np.ones((y.shape[0], 1)) if X is None else np.asarray(X, dtype=float)
        intercept_only = X.ndim == 2 and X.shape[1] == 1 and np.all(X == 1)
        model = fit(y, v, self.method, Intercept() if intercept_only else Moderators(X))
        beta = model.wls.beta.copy()
        cov = np.moveaxis(model.vb0, 0, -1).copy()
        beta[:, model.failed] = np.nan
        cov[..., model.failed] = np.nan
        self.params_ = {"fe_params": beta, "tau2": model.tau2, "inv_cov": cov, "dof": None}
        self.errors_ = model.error
        self.warnings_ = model.warning
        return self
