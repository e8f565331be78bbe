"""The normal, t, chi-square and F tail functions the engine needs, from scipy.special.

These are the exact functions scipy.stats calls underneath (``norm.sf`` is
``ndtr(-x)``, ``t.isf`` is ``-stdtrit(df, q)``, ...), so every number equals
scipy.stats' to the last bit, without importing scipy.stats: that import costs
about 1 s more than scipy.special (``python -X importtime``), a large share of a
pooling job.
"""

from __future__ import annotations

from scipy import special as _sc


def norm_cdf(x):
    return _sc.ndtr(x)


def norm_sf(x):
    return _sc.ndtr(-x)


def norm_isf(q):
    """z with P(Z > z) = q."""
    return -_sc.ndtri(q)


def t_sf(x, df):
    return _sc.stdtr(df, -x)


def t_isf(q, df):
    return -_sc.stdtrit(df, q)


def chi2_sf(x, df):
    return _sc.chdtrc(df, x)


def chi2_cdf(x, df):
    return _sc.chdtr(df, x)


def chi2_isf(q, df):
    return _sc.chdtri(df, q)


def chi2_ppf(q, df):
    return 2 * _sc.gammaincinv(df / 2, q)


def f_sf(x, dfn, dfd):
    return _sc.fdtrc(dfn, dfd, x)


def binom_pmf(m, n, p):
    """P(M = m) for M ~ Binomial(n, p) (scipy.stats.binom.pmf's formula, via logs)."""
    import numpy as np

    m = np.asarray(m, dtype=float)
    coef = _sc.gammaln(n + 1) - _sc.gammaln(m + 1) - _sc.gammaln(n - m + 1)
    return np.exp(coef + _sc.xlogy(m, p) + _sc.xlog1py(n - m, -p))
