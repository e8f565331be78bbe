"""Meta-regression, metafor's ``rma.uni(yi, vi, mods = X)``: the design, then the one engine.

This module turns moderators into a checked design as metafor does (the intercept
added, redundant predictors dropped with metafor's warning, p + 1 <= k, full rank),
codes a factor as R does (treatment contrasts, levels in ``factor()`` order), and
fits through :func:`~.rma.fit` with a :class:`~.design.Moderators` design. QM tests
every coefficient but the intercept (metafor's default ``btt``); R^2 is metafor's
pseudo R^2 against the intercept-only fit of the same method. Checked against
tests/fixtures/moderators_metafor.json.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .design import Moderators
from .rma import TOO_MANY_PARAMETERS, RMAResults, check_method, fit

#: metafor's ``evtol``: smallest eigenvalue of X'X of a full-rank design.
EVTOL = 1e-7
#: Tolerance of R's ``lm`` QR (dqrdc2) when it looks for redundant predictors.
LM_QR_TOL = 1e-7

NOT_FULL_RANK = "Model matrix not of full rank. Cannot fit model."
REDUNDANT_DROPPED = "Redundant predictors dropped from the model."


def redundant_columns(X: np.ndarray, tol: float = LM_QR_TOL) -> np.ndarray:
    """Columns R's ``lm`` would report as NA: nearly a combination of the columns before.

    Mirrors LINPACK dqrdc2's limited pivoting: a column whose norm after projecting
    out the kept columns falls below ``tol`` times its own norm is redundant.
    """
    X = np.asarray(X, dtype=float)
    keep: list[int] = []
    out = np.zeros(X.shape[1], dtype=bool)
    for j in range(X.shape[1]):
        col = X[:, j]
        if keep:
            qk, _ = np.linalg.qr(X[:, keep])
            res = col - qk @ (qk.T @ col)
        else:
            res = col
        norm = np.linalg.norm(col)
        if norm == 0 or np.linalg.norm(res) < tol * norm:
            out[j] = True
        else:
            keep.append(j)
    return out


def prepare_design(mods, k: int, intercept: bool = True, terms=None) -> Moderators:
    """metafor's design handling: add the intercept, drop redundant predictors (with its
    warning in ``notes``), move an intercept column first, check p + 1 <= k and full rank.

    Raises ValueError with metafor's message where metafor stops.
    """
    if mods is None:
        M = np.zeros((k, 0))
    else:
        M = np.asarray(mods, dtype=float)
        M = M[:, None] if M.ndim == 1 else M
    if terms is None:
        terms = ["x"] if M.shape[1] == 1 else [f"x{j + 1}" for j in range(M.shape[1])]
    if M.shape[1] == 0:
        intercept = True
    X = np.column_stack([np.ones(k), M]) if intercept else M
    names = ["intrcpt", *terms] if intercept else list(terms)
    notes: list[str] = []
    red = redundant_columns(X)
    if red.any():
        notes.append(REDUNDANT_DROPPED)
        X = X[:, ~red]
        names = [n for n, r in zip(names, red, strict=True) if not r]
    is_int = np.array([bool(np.all(X[:, j] == 1.0)) for j in range(X.shape[1])])
    if is_int.any():
        X = np.column_stack([np.ones(k), X[:, ~is_int]])
        names = ["intrcpt", *[n for n, i in zip(names, is_int, strict=True) if not i]]
    if X.shape[1] + 1 > k:
        raise ValueError(TOO_MANY_PARAMETERS)
    if np.any(np.linalg.eigvalsh(X.T @ X) <= EVTOL):
        raise ValueError(NOT_FULL_RANK)
    return Moderators(X, names, intercept=bool(is_int.any()), notes=notes)


def rma_mods(
    y, v, mods=None, method="REML", test="z", level=0.95, intercept=True, terms=None
) -> RMAResults:
    """``rma.uni(yi, vi, mods = mods, method, test)`` for each column of y/v (K >= 2).

    ``mods`` (K,) or (K, m) holds the moderators without the intercept, which is
    added unless ``intercept=False``; ``terms`` names them (metafor: the column names).
    """
    check_method(method, test)
    y = np.asarray(y, dtype=float)
    if np.any(np.asarray(v) <= 0):
        raise ValueError("every sampling variance must be > 0")
    design = prepare_design(mods, y.shape[0], intercept, terms)
    res = fit(y, v, method, design).results(test, level)
    res.notes = design.notes
    return res


def coef_frame(res: RMAResults, d: int | None = None) -> pd.DataFrame:
    """Per-term rows (``term, estimate, se, zval, pval, ci_lb, ci_ub``) plus the model's
    ``qm, qm_df, qm_df2, qmp, r2, tau2, qe, qep, i2, h2, k, method, test, error, warning``;
    all datasets (with a ``dataset`` column) unless ``d`` picks one."""
    ds = range(res.beta.shape[1]) if d is None else [d]
    frames = []
    for j in ds:
        df = pd.DataFrame(
            {
                "term": res.terms,
                "estimate": res.beta[:, j],
                "se": res.se[:, j],
                "zval": res.zval[:, j],
                "pval": res.pval[:, j],
                "ci_lb": res.ci_lb[:, j],
                "ci_ub": res.ci_ub[:, j],
            }
        )
        for name in ("qm", "qmp", "r2", "tau2", "qe", "qep", "i2", "h2"):
            df[name] = float(getattr(res, name)[j])
        df["qm_df"] = res.qm_df
        df["qm_df2"] = float(res.qm_df2[j])
        df["k"] = int(res.k[j])
        df["method"] = res.method
        df["test"] = res.test
        df["error"] = res.error[j]
        notes = [*res.notes, *([res.warning[j]] if res.warning[j] else [])]
        df["warning"] = "\n".join(notes) if notes else None
        if d is None and res.beta.shape[1] > 1:
            df.insert(0, "dataset", j)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _is_categorical(x) -> bool:
    if isinstance(x, pd.Series):
        return not pd.api.types.is_numeric_dtype(x) or isinstance(x.dtype, pd.CategoricalDtype)
    if isinstance(x, pd.Categorical):
        return True
    return np.asarray(x).dtype.kind in "OUSb"


def factor_levels(x) -> list:
    """Levels in R's order: a pandas Categorical's own order, else sorted (R's ``factor``)."""
    if isinstance(x, pd.Series) and isinstance(x.dtype, pd.CategoricalDtype):
        return [c for c in x.cat.categories if c in set(x)]
    if isinstance(x, pd.Categorical):
        return [c for c in x.categories if c in set(x)]
    return sorted(set(np.asarray(x, dtype=object).tolist()))


def dummy_mods(x, name: str = "x") -> tuple[np.ndarray, list[str], list]:
    """Treatment-coded dummies (first level the reference), named ``{name}{level}`` as R."""
    levels = factor_levels(x)
    xs = np.asarray(x, dtype=object)
    if len(levels) > 1:
        M = np.column_stack([(xs == lv).astype(float) for lv in levels[1:]])
    else:
        M = np.zeros((len(xs), 0))
    return M, [f"{name}{lv}" for lv in levels[1:]], levels


def metareg(y, v, x, method="REML", test="z", level=0.95, name="x") -> pd.DataFrame:
    """Meta-regression on one study-level column: metafor's ``rma(yi, vi, mods = ~ x)``.

    A numeric ``x`` is a continuous moderator (term ``name``); strings, booleans or a
    pandas Categorical are a factor with treatment coding against the first level
    (terms ``{name}{level}``, as R names them). One row per coefficient
    (:func:`coef_frame`). Raises ValueError where metafor stops; a tau^2 method that
    fails gives NaN rows with its reason in ``error``.
    """
    if _is_categorical(x):
        mods, terms, _ = dummy_mods(x, name)
    else:
        mods, terms = np.asarray(x, dtype=float), [name]
    return coef_frame(rma_mods(y, v, mods, method, test, level, terms=terms))
