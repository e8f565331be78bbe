"""Weighted least squares for a design X: the pieces every tau^2 estimator and test needs.

metafor writes its estimators with the projection P = W - W X (X'WX)^-1 X'W.
Both designs here give the same quantities without forming a K x K matrix, for D
stacked datasets at once, with w = 0 on padding rows (stack.py):

    y'Py = sum w r^2 (``rss``),  y'PPy = sum (w r)^2,  tr P,  tr PP,
    log det X'WX,  (X'WX)^-1,  the hat values h,

with r = y - X beta_W. :class:`Intercept` (X = 1, the pooled estimate) has them
in closed form, which is what makes GOSH's million fits cheap; :class:`Moderators`
(any X) gets them from the QR decomposition of sqrt(W) X. Every estimator and test
is written once against this interface (tau2.py, rma.py).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .stack import blas_colsum, colsum


class WLSFit(NamedTuple):
    """beta (p, D), residuals (K, D), sum w r^2 (D,), the weights, and the design's own parts."""

    beta: np.ndarray
    resid: np.ndarray
    rss: np.ndarray
    w: np.ndarray
    sw: np.ndarray
    q: np.ndarray | None = None  # Moderators: Q of the QR of sqrt(W) X, (D, K, p)
    r: np.ndarray | None = None  # Moderators: R, (D, p, p)


class Intercept:
    """X = 1: the weighted mean and its closed forms.

    ``blas``: sum columns with one BLAS product (GOSH's many small subsets; the rounding
    then depends on a column's position in the call), else in row order (stack.colsum).
    """

    p = 1
    intercept = True
    terms = ("intrcpt",)
    notes = ()

    def __init__(self, blas: bool = False):
        self.sum = blas_colsum if blas else colsum

    def take(self, idx) -> Intercept:
        return self

    def center(self, data) -> np.ndarray:
        """The outcome the estimators use: y itself (centring does not change X = 1 fits)."""
        return data.y

    def wls(self, y: np.ndarray, w: np.ndarray) -> WLSFit:
        sw = self.sum(w)
        mu = self.sum(w * y) / sw
        r = y - mu
        return WLSFit(mu[None, :], r, self.sum(w * (r * r)), w, sw)

    def hat(self, fit: WLSFit) -> np.ndarray:
        return fit.w / fit.sw

    def trace_p(self, fit: WLSFit) -> np.ndarray:
        """tr P = sum w - sum w^2 / sum w, as sum_i w_i (S - w_i) / S: no cancellation when
        one weight dominates (a study with a tiny variance), where metafor, forming P, has none."""
        w, sw = fit.w, fit.sw
        return self.sum(w * np.maximum(sw - w, 0.0)) / sw

    def traces(self, fit: WLSFit) -> tuple[np.ndarray, np.ndarray]:
        """tr P and tr PP: the textbook sums, and an exact evaluation where they cancel."""
        w, sw = fit.w, fit.sw
        w2 = w * w
        sw2 = self.sum(w2)
        tr_p = sw - sw2 / sw
        tr_pp = sw2 - 2.0 * self.sum(w2 * w) / sw + (sw2 / sw) ** 2
        lost = ~(tr_pp > 1e-8 * sw2)
        if lost.any():
            tr_p[lost], tr_pp[lost] = _exact_traces(w[:, lost])
        return tr_p, tr_pp

    def logdet(self, fit: WLSFit) -> np.ndarray:
        """log det X'WX = log sum w."""
        return np.log(fit.sw)

    def vb(self, fit: WLSFit) -> np.ndarray:
        """(X'WX)^-1 as (D, 1, 1)."""
        return (1.0 / fit.sw)[:, None, None]


def _exact_traces(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """tr P and tr PP of X = 1 element by element, free of cancellation.

    P_ii = w_i s_i / S with s_i = S - w_i and P_ij = -w_i w_j / S; the off-diagonal
    sum of squares is accumulated over the weights in increasing order, so no large
    terms cancel.
    """
    sw = w.sum(0)
    s_other = np.maximum(sw - w, 0.0)
    tr_p = (w * s_other).sum(0) / sw
    w2 = np.sort(w, axis=0) ** 2
    below = np.zeros_like(w2)
    below[1:] = np.cumsum(w2[:-1], axis=0)
    tr_pp = (((w * s_other) ** 2).sum(0) + 2.0 * (w2 * below).sum(0)) / sw**2
    return tr_p, tr_pp


class Moderators:
    """Any full-rank design X, (K, p) for every dataset or (D, K, p) one per dataset."""

    intercept = True
    sum = staticmethod(colsum)

    def __init__(self, X: np.ndarray, terms=None, intercept: bool = True, notes=()):
        self.X = np.asarray(X, dtype=float)
        self.p = self.X.shape[-1]
        self.terms = tuple(terms) if terms is not None else tuple(f"x{j}" for j in range(self.p))
        self.intercept = intercept
        self.notes = tuple(notes)  # metafor's warnings about the design

    def take(self, idx) -> Moderators:
        if self.X.ndim == 2:
            return self
        return Moderators(self.X[idx], self.terms, self.intercept, self.notes)

    def center(self, data) -> np.ndarray:
        """metafor estimates tau^2 from the mean-centred outcomes (``Ymc``)."""
        return data.centered()

    def stacked(self, d: int) -> np.ndarray:
        if self.X.ndim == 2:
            return np.broadcast_to(self.X, (d, *self.X.shape))
        return self.X

    def wls(self, y: np.ndarray, w: np.ndarray) -> WLSFit:
        """beta = (X'WX)^-1 X'Wy per dataset, through the QR of sqrt(W) X (metafor ``.invcalc``)."""
        Xs = self.stacked(y.shape[1])
        sq = np.sqrt(w).T  # (D, K)
        q, r = np.linalg.qr(Xs * sq[:, :, None])
        qty = np.einsum("dkp,dk->dp", q, sq * y.T)
        beta = np.linalg.solve(r, qty[:, :, None])[:, :, 0]
        resid = y - np.einsum("dkp,dp->kd", Xs, beta)
        return WLSFit(beta.T, resid, colsum(w * resid**2), w, colsum(w), q, r)

    def hat(self, fit: WLSFit) -> np.ndarray:
        return (fit.q**2).sum(2).T

    def trace_p(self, fit: WLSFit) -> np.ndarray:
        return colsum(fit.w * (1.0 - self.hat(fit)))

    def traces(self, fit: WLSFit) -> tuple[np.ndarray, np.ndarray]:
        """tr P and tr PP = sum w^2 - 2 sum w^2 h + ||Q'WQ||_F^2."""
        w = fit.w
        qwq = np.einsum("dkp,kd,dkq->dpq", fit.q, w, fit.q)
        h = self.hat(fit)
        tr_pp = colsum(w**2) - 2.0 * colsum(w**2 * h) + (qwq**2).sum((1, 2))
        return colsum(w * (1.0 - h)), tr_pp

    def logdet(self, fit: WLSFit) -> np.ndarray:
        """log det X'WX = 2 sum log |diag R|."""
        return 2.0 * np.log(np.abs(np.diagonal(fit.r, axis1=1, axis2=2))).sum(1)

    def vb(self, fit: WLSFit) -> np.ndarray:
        """(X'WX)^-1 = R^-1 R^-T, (D, p, p)."""
        rinv = np.linalg.inv(fit.r)
        return np.einsum("dpr,dqr->dpq", rinv, rinv)
