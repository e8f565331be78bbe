"""PyMARE estimators for the tau^2 methods PyMARE lacks, in PyMARE's own interface.

PyMARE 0.0.13 has DerSimon-Laird, Hedges and likelihood estimators; it lacks
Paule-Mandel, Sidik-Jonkman and empirical Bayes, and its ML/REML maximize by a
bounded scalar search rather than metafor's Fisher scoring (which differs where
the likelihood is bimodal). These classes fit the same mould as
``pymare.estimators.DerSimonianLaird``: ``fit(y, v, X)`` on (K, D) stacks,
``params_`` with ``fe_params``, ``tau2``, ``inv_cov``, ``dof``, and ``summary()``
returning PyMARE's ``MetaRegressionResults``. ``errors_`` holds, per dataset,
why the method failed (metafor's message) or None.

Only the intercept-only model (X a column of ones) is supported: that is what
pooling needs; meta-regression goes through statsmodels/metafor's ``mods``.
"""

from __future__ import annotations

import numpy as np
from pymare.estimators.estimators import BaseEstimator, DerSimonianLaird, Hedges
from pymare.stats import ensure_2d, weighted_least_squares

from .tau2 import TAU2_ESTIMATORS


class MetaforTau2Estimator(BaseEstimator):
    """Random-effects pooling with one of metafor's tau^2 estimators (``method``)."""

    method = "REML"

    def fit(self, y, v, X):
        """Estimate tau^2 per dataset, then the inverse-variance weighted mean."""
        self.dataset_ = None
        y, v = ensure_2d(y), ensure_2d(v)
        v = np.broadcast_to(v, y.shape)
        X = np.ones((y.shape[0], 1)) if X is None else np.asarray(X, dtype=float)
        if X.shape[1] != 1 or not np.all(X == 1):
            raise NotImplementedError("only the intercept-only model is supported")
        fit = TAU2_ESTIMATORS[self.method](y, v)
        failed = np.isnan(fit.tau2)
        beta, cov = weighted_least_squares(
            y, v, X, tau2=np.where(failed, 0, fit.tau2), return_cov=True
        )
        beta[:, failed] = np.nan
        cov[..., failed] = np.nan
        self.params_ = {"fe_params": beta, "tau2": fit.tau2, "inv_cov": cov, "dof": None}
        self.errors_ = fit.error
        return self


class PauleMandel(MetaforTau2Estimator):
    """Paule-Mandel (metafor ``method = "PM"``)."""

    method = "PM"


class SidikJonkman(MetaforTau2Estimator):
    """Sidik-Jonkman (metafor ``method = "SJ"``)."""

    method = "SJ"


class EmpiricalBayes(MetaforTau2Estimator):
    """Empirical Bayes, Morris's iteration (metafor ``method = "EB"``)."""

    method = "EB"


class FisherScoringML(MetaforTau2Estimator):
    """Maximum likelihood by metafor's Fisher scoring (metafor ``method = "ML"``)."""

    method = "ML"


class FisherScoringREML(MetaforTau2Estimator):
    """Restricted maximum likelihood by metafor's Fisher scoring (``method = "REML"``)."""

    method = "REML"


#: The estimator used for each of metafor's method names. DL and HE are PyMARE's own
#: (their tau^2 equals metafor's: tests/estimators/test_rma_metafor.py).
ESTIMATORS = {
    "DL": lambda: DerSimonianLaird(small_sample_correction="wald"),
    "HE": lambda: Hedges(small_sample_correction="wald"),
    "PM": PauleMandel,
    "SJ": SidikJonkman,
    "EB": EmpiricalBayes,
    "ML": FisherScoringML,
    "REML": FisherScoringREML,
}


def estimate_tau2(method: str, y: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """tau^2 and failure reasons for D stacked datasets, through the estimator objects."""
    est = ESTIMATORS[method]()
    est.fit(y, v, np.ones((y.shape[0], 1)))
    tau2 = np.asarray(est.params_["tau2"], dtype=float).reshape(-1)
    errors = getattr(est, "errors_", np.full(tau2.shape, None, dtype=object))
    return np.maximum(0.0, tau2), errors
