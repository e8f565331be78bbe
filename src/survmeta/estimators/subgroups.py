"""Subgroup analyses: separate tau^2 per subgroup with the test for subgroup differences,
and the common-tau^2 model ``rma(yi, vi, mods = ~ factor(g))``.

Separate tau^2 is what RevMan and R's meta report: each subgroup is pooled on its own
(metafor ``rma.uni`` on the subgroup, here the intercept-only engine) and the test for
subgroup differences is the fixed-effect Q over the subgroup estimates,

    Q_between = sum_g w_g (mu_g - mu_bar)^2,  w_g = 1 / se_g^2,  df = G - 1,

i.e. the QE of metafor's ``rma(mu_g, sei = se_g, method = "FE")``, and R meta's
``Q.b.random`` (``metagen(TE.random.w, seTE.random.w)$Q``). Under ``test = "knha"`` se_g
is the Hartung-Knapp se of each subgroup, as in R meta with ``method.random.ci = "HK"``
(its ``seTE.random`` is then the HK se, and that is what ``subgroup()`` combines). A
subgroup of one study is metafor's k = 1 fit: its own estimate and se (z test, as metafor
switches to), tau^2 = 0, I^2 = 0, H^2 = 1, Q = 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .dist import chi2_sf
from .moderators import dummy_mods, factor_levels, rma_mods
from .rma import RMAResults, rma
from .stack import stack

BETWEEN_LABEL = "subgroup differences"

COLUMNS = [
    "subgroup", "k", "estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "tau2", "i2", "h2",
    "q", "qp", "q_between", "df_between", "p_between", "error",
]  # fmt: skip


def q_between(estimate, se) -> tuple[float, int, float, str | None]:
    """Fixed-effect Q over subgroup estimates (metafor ``rma(est, sei = se, method = "FE")$QE``).

    Returns (Q, df, p, reason): NaN with the reason when an estimate is missing or
    has se = 0 (metafor cannot compute QE with a zero variance), or with < 2 groups.
    """
    est = np.asarray(estimate, dtype=float)
    se = np.asarray(se, dtype=float)
    df = est.size - 1
    if est.size < 2:
        return np.nan, df, np.nan, "fewer than 2 subgroups"
    if np.isnan(est).any() or np.isnan(se).any():
        return np.nan, df, np.nan, "a subgroup could not be pooled"
    if np.any(se <= 0):
        return np.nan, df, np.nan, "a subgroup estimate has se = 0"
    w = 1.0 / se**2
    mu = (w * est).sum() / w.sum()
    q = max(0.0, float((w * (est - mu) ** 2).sum()))
    return q, df, float(chi2_sf(q, df)), None


def subgroups(y, v, g, method: str = "REML", test: str = "z", level: float = 0.95) -> pd.DataFrame:
    """Each subgroup pooled with its own tau^2, then the test for subgroup differences.

    One row per subgroup (levels in R's ``factor`` order: a pandas Categorical's
    order, else sorted) with ``subgroup, k, estimate, se, zval, pval, ci_lb, ci_ub,
    tau2, i2, h2, q, qp, error``, plus a last row ``subgroup = "subgroup
    differences"`` (k = all studies) holding ``q_between, df_between, p_between``.
    All subgroups are one padded call of the engine; a subgroup of one study is
    metafor's k = 1 fit (its own estimate, z test, tau^2 = 0, Q = 0).
    """
    y = np.asarray(y, dtype=float)
    v = np.asarray(v, dtype=float)
    gs = np.asarray(g, dtype=object)
    levels = factor_levels(g)
    members = [np.flatnonzero(gs == lv) for lv in levels]
    ys, vs, m = stack([(y[idx], v[idx]) for idx in members])
    res: RMAResults = rma(ys, vs, method, test, level, present=m)
    out = pd.DataFrame(
        {
            "subgroup": levels, "k": [idx.size for idx in members], "estimate": res.estimate,
            "se": res.se[0], "zval": res.zval[0], "pval": res.pval[0], "ci_lb": res.ci_lb[0],
            "ci_ub": res.ci_ub[0], "tau2": res.tau2, "i2": res.i2, "h2": res.h2, "q": res.qe,
            "qp": res.qep, "error": res.error,
        }
    )  # fmt: skip
    q, df, p, reason = q_between(out["estimate"], out["se"])
    between = {"subgroup": BETWEEN_LABEL, "k": int(y.size), "q_between": q, "df_between": df,
               "p_between": p, "error": reason}  # fmt: skip
    out = pd.concat([out, pd.DataFrame([between])], ignore_index=True)
    out["method"] = method
    out["test"] = test
    return out.reindex(columns=[*COLUMNS, "method", "test"])


def subgroups_common_tau2(
    y, v, g, method: str = "REML", test: str = "z", level: float = 0.95, name: str = "g"
) -> RMAResults:
    """The common-tau^2 model ``rma(yi, vi, mods = ~ factor(g))``: intercept = first level,
    one contrast per other level (terms ``{name}{level}``), QM the test of subgroup
    differences (F under knha), R^2. ``moderators.coef_frame`` gives the metareg rows."""
    mods, terms, _ = dummy_mods(g, name)
    return rma_mods(y, v, mods, method, test, level, terms=terms)
