"""GOSH (graphical display of study heterogeneity) equal to metafor's ``gosh.rma``.

metafor fits the model to every subset of >= 1 studies, one ``rma.uni`` call
each (about 2^k calls). Here subsets of equal size m are stacked into one
(m, n) array and fitted together, in chunks of ``chunk`` subsets, so k = 20
(1,048,575 subsets) takes about 5-10 s and memory stays at a few chunks.

Per subset metafor records k, QE, I2, H2, tau2 and the estimate:

* single studies: the study's own estimate, tau2 = 0, Q = 0, I2 = 0, H2 = 1
  (rma.uni's k = 1 fit);
* DL: metafor's own shortcut (``model = 2`` in ``.profile.rma.uni``):
  I2 = max(0, 100 (Q - df) / Q) and H2 = Q / df, *not* truncated at 1 as
  rma.uni's H2 is;
* every other method: the full rma.uni fit, I2 = 100 tau2 / (vt + tau2),
  H2 = 1 + tau2 / vt; a subset whose fit fails (PM tau2.max too low, EB not
  converging) has NaN numbers but its k.

A subset is an integer ``mask`` whose bit i is set when study i (0-based, in
the order given) is in it. Rows come in metafor's order: by k, then (all
subsets) by mask, which is the order of R's ``expand.grid`` rows. When
2^k - 1 exceeds ``subsets`` (metafor's default 10^6) metafor draws that many
random subsets: sizes from 1..k with probability proportional to
dbinom(m, k, 1/2), then a uniform subset of that size, with replacement. We do
the same with a seeded numpy Generator (R's random stream cannot be matched).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..io import atomic_open, escape_cell
from .design import Intercept
from .dist import binom_pmf
from .sensitivity import check_data, require_model
from .stack import Data, blas_colsum
from .tau2 import MAXITER, TAU2_ESTIMATORS, scoring_finish, scoring_run, scoring_start, tau2_dl

GOSH_COLUMNS = ("mask", "k", "estimate", "tau2", "i2", "h2", "q")
FLOATS = ["estimate", "tau2", "i2", "h2", "q"]
DEFAULT_SUBSETS = 10**6
#: Subsets fitted per vectorized call: large enough to amortize numpy's per-call
#: cost, small enough that a chunk's (m, n) arrays stay in the CPU cache.
DEFAULT_CHUNK = 1 << 13
#: Methods whose tau^2 is found by metafor's Fisher scoring.
FISHER = ("ML", "REML", "EB")


def subset_masks(
    k: int, subsets: int = DEFAULT_SUBSETS, seed=None
) -> tuple[np.ndarray, np.ndarray, bool]:
    """The subsets gosh() fits: (masks, sizes, exact), sorted by size as metafor sorts them.

    All 2^k - 1 non-empty subsets when that is at most ``subsets``, else
    ``subsets`` random ones drawn as metafor draws them (``seed`` for numpy's
    Generator).
    """
    subsets = round(subsets)
    if subsets <= 1:
        raise ValueError("Argument 'subsets' must be >= 2.")
    if k > 62:
        raise ValueError("gosh() supports at most 62 studies (subsets are int64 masks)")
    n_all = 2**k - 1
    if n_all <= subsets:
        masks = np.arange(1, n_all + 1, dtype=np.int64)
        sizes = np.bitwise_count(masks).astype(np.int64)
        order = np.argsort(sizes, kind="stable")
        return masks[order], sizes[order], True
    rng = np.random.default_rng(seed)
    m_values = np.arange(1, k + 1)
    prob = binom_pmf(m_values, k, 0.5)
    sizes = rng.choice(m_values, size=subsets, replace=True, p=prob / prob.sum())
    sizes.sort(kind="stable")
    masks = np.empty(subsets, dtype=np.int64)
    bit = np.int64(1) << np.arange(k, dtype=np.int64)
    start = 0
    for m in m_values:
        n_m = int(np.count_nonzero(sizes == m))
        for lo in range(0, n_m, DEFAULT_CHUNK):
            n = min(DEFAULT_CHUNK, n_m - lo)
            pick = np.argpartition(rng.random((n, k)), m - 1, axis=1)[:, :m]
            masks[start + lo : start + lo + n] = bit[pick].sum(1)
        start += n_m
    return masks, sizes.astype(np.int64), False


def mask_members(masks: np.ndarray, k: int, m: int) -> np.ndarray:
    """(n, m) indices of the studies in each mask (all of popcount m), ascending."""
    bits = (masks[:, None] >> np.arange(k, dtype=np.int64)) & 1
    return np.nonzero(bits)[1].reshape(masks.size, m)


class _SlowPool:
    """Subsets whose Fisher scoring is still moving after a burst, from every chunk.

    A few subsets need thousands of steps (or never converge: metafor then gives
    NA). Iterating them per chunk would repeat that long tail in every chunk;
    instead they are padded to k rows (stack.py's mask) and the engine's scoring
    run is continued for all of them together at the end.
    """

    def __init__(self, k: int):
        self.k = k
        self.parts: list[tuple] = []

    def add(self, pos, y, v, t, steps):
        m, n = y.shape
        yp = np.zeros((self.k, n))
        vp = np.ones((self.k, n))
        pr = np.zeros((self.k, n))
        yp[:m], vp[:m], pr[:m] = y, v, 1.0
        self.parts.append((pos, yp, vp, pr, t, steps))

    def finish(self, method: str, cols: dict) -> None:
        """Complete the pooled subsets' scoring and write their rows into ``cols``."""
        pos, y, v, pr, t, steps = (
            np.concatenate(p, axis=-1) for p in zip(*self.parts, strict=True)
        )
        data = Data(y, v, pr, pr.sum(0))
        design = Intercept(blas=True)
        t, _, conv = scoring_run(method, data, design, t, steps, MAXITER + 1)
        t2 = scoring_finish(method, data, design, t, conv).tau2
        vt = _typical_variance(data, design)
        w = data.masked(1.0 / (v + np.nan_to_num(t2)))
        est = blas_colsum(w * y) / blas_colsum(w)
        failed = np.isnan(t2)
        cols["estimate"][pos] = np.where(failed, np.nan, est)
        cols["tau2"][pos] = t2
        cols["i2"][pos] = 100 * t2 / (vt + t2)
        cols["h2"][pos] = 1 + t2 / vt
        cols["q"][pos] = np.where(failed, np.nan, cols["q"][pos])


#: Fisher steps every subset of a chunk gets before a slow one moves to the pool.
BURST = 40


def _typical_variance(data: Data, design) -> np.ndarray:
    """metafor's vt = (k - 1) / tr P with W = 1/v."""
    return (data.k - 1) / design.trace_p(design.wls(data.y, data.masked(1.0 / data.v)))


def _fit_subsets(y, v, method, pool, pos):
    """estimate, tau2, i2, h2, q of each column of (m, n) stacked subsets, m >= 2.

    Subsets whose ML/REML/EB scoring has not converged within :data:`BURST`
    steps go to ``pool`` (their numbers are filled in later).
    """
    m = y.shape[0]
    df = m - 1
    data = Data(y, v, None, np.full(y.shape[1], float(m)))
    design = Intercept(blas=True)
    fe = design.wls(y, 1.0 / v)
    q = fe.rss
    pooled = np.zeros(y.shape[1], dtype=bool)
    if method == "DL":
        # metafor's shortcut for DL, including its H2 = Q / df (may be < 1)
        t2 = tau2_dl(data, design).tau2
        with np.errstate(divide="ignore", invalid="ignore"):
            i2 = np.where(q > df, 100 * (q - df) / q, 0.0)
        h2 = q / df
    else:
        if method in FISHER:
            start = scoring_start(data, design)
            steps = np.zeros(y.shape[1], dtype=int)
            t_raw, steps, conv = scoring_run(method, data, design, start, steps, BURST)
            slow = pooled = ~conv
            if slow.any():
                pool.add(pos[slow], y[:, slow], v[:, slow], t_raw[slow], steps[slow])
            t2 = scoring_finish(method, data, design, t_raw, conv).tau2
        else:
            t2 = TAU2_ESTIMATORS[method](data, design).tau2
        q = np.maximum(0.0, q)
        vt = df / design.trace_p(fe)
        i2 = 100 * t2 / (vt + t2)
        h2 = 1 + t2 / vt
    w = 1.0 / (v + t2)
    est = blas_colsum(w * y) / blas_colsum(w)
    failed = np.isnan(t2) & ~pooled
    if failed.any():
        q = np.where(failed, np.nan, q)
    return est, t2, i2, h2, q


def gosh(
    y,
    v,
    method: str = "REML",
    subsets: int = DEFAULT_SUBSETS,
    seed=None,
    chunk: int = DEFAULT_CHUNK,
    level: float = 0.95,
) -> pd.DataFrame:
    """metafor's ``gosh(res)``: the model's fit to every (or a random sample of) subset.

    Columns :data:`GOSH_COLUMNS` (``mask`` int64, ``k``, ``estimate``, ``tau2``,
    ``i2``, ``h2``, ``q``); ``df.attrs["exact"]`` says whether all subsets were
    fitted. As metafor: k = 1 is refused, so is a model that cannot be fitted
    at all, and "All model fits failed." when no subset could be fitted.
    """
    y, v = check_data(y, v, method, "z")
    k = y.shape[0]
    if k == 1:
        raise ValueError("Stopped because k = 1.")
    require_model(y, v, method, "z", level)
    masks, sizes, exact = subset_masks(k, subsets, seed)
    n = masks.size
    cols = {name: np.empty(n) for name in ("estimate", "tau2", "i2", "h2", "q")}
    bounds = np.searchsorted(sizes, np.arange(1, k + 2))
    pool = _SlowPool(k)
    for m in range(1, k + 1):
        lo, hi = int(bounds[m - 1]), int(bounds[m])
        if lo == hi:
            continue
        if m == 1:
            i = mask_members(masks[lo:hi], k, 1)[:, 0]
            cols["estimate"][lo:hi] = y[i]
            cols["tau2"][lo:hi] = 0.0
            cols["i2"][lo:hi] = 0.0
            cols["h2"][lo:hi] = 1.0
            cols["q"][lo:hi] = 0.0
            continue
        for a in range(lo, hi, chunk):
            b = min(a + chunk, hi)
            idx = mask_members(masks[a:b], k, m).T
            res = _fit_subsets(y[idx], v[idx], method, pool, np.arange(a, b))
            for name, arr in zip(("estimate", "tau2", "i2", "h2", "q"), res, strict=True):
                cols[name][a:b] = arr
    if pool.parts:
        pool.finish(method, cols)
    if np.isnan(cols["estimate"]).all():
        raise ValueError("All model fits failed.")
    out = pd.DataFrame({"mask": masks, "k": sizes, **cols})
    out.attrs["exact"] = exact
    return out


def included(masks: np.ndarray, labels: Sequence, sep: str = ";") -> list[str]:
    """Each mask's study labels joined by ``sep`` (design.md's ``included`` column).

    Built from lookup tables of 10-bit groups of the mask (object-array string
    concatenation), not a Python loop over studies per subset.
    """
    labels = [str(s) for s in labels]
    masks = np.asarray(masks, dtype=np.int64)
    out = np.full(masks.size, "", dtype=object)
    for lo in range(0, len(labels), 10):
        group = labels[lo : lo + 10]
        codes = range(1 << len(group))
        table = np.array(
            ["".join(s + sep for j, s in enumerate(group) if c >> j & 1) for c in codes],
            dtype=object,
        )
        out = out + table[(masks >> lo) & ((1 << len(group)) - 1)]
    return [s[: -len(sep)] if sep else s for s in out.tolist()]


#: Rows formatted per write in write_gosh_csv.
CSV_ROWS = 1 << 16


def _needs_quotes(field: str) -> bool:
    return any(c in field for c in ',"\r\n')


def write_gosh_csv(
    df: pd.DataFrame, path, labels: Sequence | None = None, float_format: str = "%.12g"
) -> None:
    """Write a gosh() table as the workflow does, atomically; NaN as an empty field.

    Columns mask, (included, when ``labels`` are given), k, estimate, tau2, i2,
    h2, q. Rows are formatted with one %-format per row, about 3x faster than
    ``DataFrame.to_csv`` on the million-row tables GOSH produces.
    """
    header = ["mask", "k", "estimate", "tau2", "i2", "h2", "q"]
    fmt = ",".join(["%d", "%d"] + [float_format] * 5)
    names = None
    if labels is not None:
        header.insert(1, "included")
        fmt = "%d,%s," + fmt[3:]
        labels = [escape_cell(str(s)) for s in labels]  # a spreadsheet must not run them
        names = included(df["mask"].to_numpy(), labels)
        if any(_needs_quotes(str(s)) for s in labels):  # quote as pandas' to_csv does
            names = ['"' + s.replace('"', '""') + '"' if _needs_quotes(s) else s for s in names]
    with atomic_open(path) as fh:
        fh.write(",".join(header) + "\n")
        for lo in range(0, len(df), CSV_ROWS):  # in blocks: bounded memory
            part = df.iloc[lo : lo + CSV_ROWS]
            columns = [part[c].tolist() for c in ("mask", "k", *FLOATS)]
            if names is not None:
                columns.insert(1, names[lo : lo + CSV_ROWS])
            lines = [fmt % row for row in zip(*columns, strict=True)]
            for i in np.flatnonzero(part[FLOATS].isna().any(axis=1).to_numpy()):
                row = [col[i] for col in columns]  # a failed fit: NaN as an empty field
                nums = ["" if np.isnan(x) else float_format % x for x in row[-5:]]
                lines[i] = ",".join([str(x) for x in row[:-5]] + nums)
            fh.write("\n".join(lines) + "\n")
