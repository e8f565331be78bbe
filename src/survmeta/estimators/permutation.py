"""Permutation test of the pooled estimate, equal to metafor's ``permutest.rma.uni``.

For the intercept-only model metafor flips the signs of the yi: under the null
of no effect every sign pattern is as likely. The p-value is the share of sign
patterns whose test statistic is at least as extreme as the observed one,
|z_perm| >= |z_obs| - sqrt(machine eps) (metafor's ``comptol``), fits that fail
left out. metafor runs the exact test (all 2^k patterns) when asked
(``exact=True``) or when 2^k <= ``iter`` (default 1000, so k <= 9); otherwise
``iter`` random patterns, the first replaced by the observed data, redrawing
patterns whose fit fails. All patterns of a chunk are one stacked fit here.
R's random stream cannot be reproduced, so the random test uses a seeded numpy
Generator: two runs with one seed agree, and the p-value agrees with metafor's
in distribution (tests compare it with the exact p).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .rma import rma
from .sensitivity import check_data, require_model

#: metafor's ``comptol``: .Machine$double.eps^0.5.
COMPTOL = float(np.finfo(float).eps ** 0.5)
#: Sign patterns fitted per stacked call.
CHUNK = 1 << 15
#: Above 2^30 patterns metafor cannot allocate its result vectors.
MAX_EXACT_K = 30


def _zvals(y, v, signs, method, test, level) -> tuple[np.ndarray, np.ndarray]:
    """Test statistic and failure flag for y with each column of ``signs`` applied."""
    ys = y[:, None] * signs
    res = rma(ys, np.broadcast_to(v[:, None], ys.shape), method, test, level)
    failed = res.fit.failed
    return np.where(failed, np.nan, res.zval[0]), failed


def permutest(
    y,
    v,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    exact: bool = False,
    iter: int = 1000,
    seed=None,
) -> pd.DataFrame:
    """metafor's ``permutest(res, exact, iter)`` for the intercept-only model.

    Returns one row: ``pval`` (two-sided, from the test statistic: z, or t
    under knha), ``iter`` (the number of sign patterns: 2^k when exact) and
    ``exact``. ``seed`` seeds numpy's Generator for the random test.
    """
    y, v = check_data(y, v, method, test)
    k = y.shape[0]
    iter = round(iter)
    if iter <= 1:
        raise ValueError("Argument 'iter' must be >= 2.")
    full = require_model(y, v, method, test, level)
    z_obs = abs(full.zval[0, 0])
    is_exact = bool(exact) or 2**k <= iter
    if is_exact:
        if k > MAX_EXACT_K:
            raise ValueError("Number of iterations requested too large.")
        n_iter = 2**k
        hits = valid = 0
        bits = np.arange(k, dtype=np.int64)[:, None]
        for lo in range(0, n_iter, CHUNK):
            codes = np.arange(lo, min(lo + CHUNK, n_iter), dtype=np.int64)
            signs = 1.0 - 2.0 * ((codes[None, :] >> bits) & 1)
            z, _ = _zvals(y, v, signs, method, test, level)
            ok = ~np.isnan(z)
            hits += int(np.count_nonzero(np.abs(z[ok]) >= z_obs - COMPTOL))
            valid += int(ok.sum())
    else:
        n_iter = iter
        rng = np.random.default_rng(seed)
        zs = [full.zval[0]]
        have, stalls = 1, 0
        while have < n_iter:
            need = n_iter - have
            signs = 1.0 - 2.0 * rng.integers(0, 2, size=(k, min(need, CHUNK)))
            z, failed = _zvals(y, v, signs, method, test, level)
            z = z[~failed]  # metafor redraws a pattern whose fit fails
            stalls = 0 if z.size else stalls + 1
            if stalls > 100:
                raise ValueError("the model could not be fitted to any permuted data")
            zs.append(z)
            have += z.size
        z = np.concatenate(zs)
        ok = ~np.isnan(z)
        hits = int(np.count_nonzero(np.abs(z[ok]) >= z_obs - COMPTOL))
        valid = int(ok.sum())
    pval = min(1.0, hits / valid) if valid else np.nan
    return pd.DataFrame({"pval": [pval], "iter": [n_iter], "exact": [is_exact]})
