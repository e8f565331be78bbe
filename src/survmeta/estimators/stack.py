"""Datasets stacked side by side, as PyMARE stacks them, and of unequal size.

Every fit in the engine takes D datasets at once: y and v of shape (K, D), one
dataset per column. Datasets of different sizes (the subgroups of a review, the
prefixes of a cumulative analysis, GOSH's subsets) are padded to K rows; the
mask ``m`` (1 for a study, 0 for padding) keeps the padding out of every sum, so
one call fits them all. Padding rows hold y = 0 and v = 1, which keeps every
intermediate finite.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_ONES: dict[int, np.ndarray] = {}


def colsum(a: np.ndarray) -> np.ndarray:
    """Column sums of a (K, D) array, each added in row order: a column's sum does not
    depend on the other columns of the call (a review split into shards gives the same
    numbers; a BLAS product does not promise that)."""
    return np.add.reduce(a, axis=0)


def blas_colsum(a: np.ndarray) -> np.ndarray:
    """Column sums as one BLAS product: about 1.5x faster than :func:`colsum` where the
    columns are many and small (GOSH's subsets), rounding by column position."""
    k = a.shape[0]
    ones = _ONES.get(k)
    if ones is None:
        ones = _ONES[k] = np.ones(k)
    return ones @ a


@dataclass
class Data:
    """y, v (K, D), the mask m (K, D) of real rows (None: every row is real), k per column."""

    y: np.ndarray
    v: np.ndarray
    m: np.ndarray | None
    k: np.ndarray

    @property
    def d(self) -> int:
        return self.y.shape[1]

    def masked(self, a: np.ndarray) -> np.ndarray:
        """``a`` with the padding rows set to 0."""
        return a if self.m is None else a * self.m

    def take(self, idx) -> Data:
        """The datasets (columns) ``idx``."""
        m = None if self.m is None else self.m[:, idx]
        return Data(self.y[:, idx], self.v[:, idx], m, self.k[idx])

    def mean(self) -> np.ndarray:
        """The unweighted mean of each dataset."""
        return colsum(self.masked(self.y)) / self.k

    def centered(self) -> np.ndarray:
        """y minus its mean (metafor's ``Ymc``), padding kept at 0."""
        return self.masked(self.y - self.mean())

    def mad(self) -> np.ndarray:
        """R's ``mad(y)`` (constant 1.4826) of each dataset."""
        if self.m is None:
            med = np.median(self.y, axis=0)
            return 1.4826 * np.median(np.abs(self.y - med), axis=0)
        y = np.where(self.m > 0, self.y, np.nan)
        med = np.nanmedian(y, axis=0)
        return 1.4826 * np.nanmedian(np.abs(y - med), axis=0)


def as_data(y, v, present=None) -> Data:
    """A :class:`Data` from y, v (1-d: one dataset; (K, D): D datasets) and an optional mask."""
    y = np.asarray(y, dtype=float)
    v = np.asarray(v, dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    v = np.broadcast_to(v[:, None] if v.ndim == 1 else v, y.shape)
    if present is None:
        return Data(y, np.array(v, dtype=float), None, np.full(y.shape[1], float(y.shape[0])))
    m = np.asarray(present, dtype=float)
    m = m[:, None] if m.ndim == 1 else m
    m = np.broadcast_to(m, y.shape)
    y = np.where(m > 0, y, 0.0)
    v = np.where(m > 0, v, 1.0)
    return Data(y, v, np.array(m), m.sum(0))


def stack(datasets: Sequence[tuple], size: int | None = None) -> tuple[np.ndarray, ...]:
    """Ragged datasets [(y_j, v_j), ...] as padded (K, D) y, v and the mask of real rows.

    K is ``size`` (at least the largest dataset) or the largest dataset's size.
    """
    kmax = max((len(y) for y, _ in datasets), default=0)
    kmax = max(kmax, size or 0)
    d = len(datasets)
    y = np.zeros((kmax, d))
    v = np.ones((kmax, d))
    m = np.zeros((kmax, d))
    for j, (yj, vj) in enumerate(datasets):
        n = len(yj)
        y[:n, j], v[:n, j], m[:n, j] = yj, vj, 1.0
    return y, v, m


def padded_size(k: int) -> int:
    """The rows a dataset of k studies is padded to: the next power of two."""
    return 1 << max(0, int(k) - 1).bit_length()


def by_size(sizes) -> list[tuple[int, list[int]]]:
    """(padded size, indices) of datasets grouped by :func:`padded_size`, smallest first.

    One padded stack of all datasets costs as much as the largest times their number; a
    review with a few analyses of hundreds of studies and many of ten would pay for the
    hundreds everywhere. Grouping by the next power of two keeps every dataset within
    twice its size, and makes each dataset's arithmetic independent of which other
    datasets share its call: a review split into shards gives the same numbers.
    """
    groups: dict[int, list[int]] = {}
    for j, k in enumerate(sizes):
        groups.setdefault(padded_size(k), []).append(j)
    return sorted(groups.items())
