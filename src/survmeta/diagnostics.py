"""Every sensitivity and small-study table of one analysis (design.md, results/sensitivity/).

Each table is fitted with the analysis's main method and test, as metafor's
functions are called on the main model (``leave1out(res)``, ``regtest(res)``, ...).
Where metafor declines (too few studies, a design not of full rank) the table is
still written, with the reason in ``status`` and the numbers blank, so the report
can say why; every table has ``status`` (``ok`` or the reason).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .outputs import COLUMNS, K0, POOLED_NAMES, output_paths, table_names  # noqa: F401


def _declined(name: str, reason: str) -> pd.DataFrame:
    return pd.DataFrame([{c: np.nan for c in COLUMNS[name]} | {"status": reason}])


def _status(df: pd.DataFrame, *cols: str) -> pd.DataFrame:
    """``status`` from the estimators' ``error`` (and ``warning``) columns."""
    status = pd.Series("ok", index=df.index, dtype=object)
    for col in cols:
        if col in df:
            has = df[col].notna() & (df[col].astype(str) != "")
            status[has] = df.loc[has, col].astype(str)
    df = df.drop(columns=[c for c in cols if c in df])
    df["status"] = status
    return df


def _ordered(df: pd.DataFrame, name: str) -> pd.DataFrame:
    first = [c for c in COLUMNS[name] if c in df]
    return df[first + [c for c in df if c not in first]]


def _per_study(df: pd.DataFrame, rows: pd.DataFrame, order=None) -> pd.DataFrame:
    """Replace the estimators' label column by the comparison's study and arms."""
    ids = rows[["study_id", "treatment_arm", "control_arm"]].reset_index(drop=True)
    if order is not None:
        ids = ids.iloc[order].reset_index(drop=True)
    df = df.drop(columns=[c for c in ("study_id", "slab") if c in df]).reset_index(drop=True)
    return pd.concat([ids, df], axis=1)


def analysis_tables(
    rows: pd.DataFrame,
    analysis: dict,
    pooling: dict,
    sensitivity: dict,
    univariate: pd.DataFrame | None = None,
    dependence: str = "univariate",
    hazard: pd.DataFrame | None = None,
) -> dict:
    """{table name: DataFrame} for one analysis's effects ``rows`` (effects.csv order).

    A multilevel analysis (``dependence``, dependence.py) gets ``leave1study`` from its
    rma.mv fit; its univariate diagnostics are fitted to the split rows of
    ``univariate`` (effects_univariate.csv), and every table says which model in ``model``.
    """
    if len(rows):
        whole = rows
        rows, model = diagnostic_rows(rows, univariate, dependence)
        extra = {
            "leave1study": leave1study_table(whole, pooling, dependence),
            "hazard_based": hazard
            if hazard is not None
            else hazard_based_table(
                whole, univariate, analysis, {"pooling": pooling, "dependence": dependence}
            ),
        }
        out = _univariate_tables(rows, analysis, pooling, sensitivity)
        for df in out.values():
            df["model"] = model
        return out | extra
    return _univariate_tables(rows, analysis, pooling, sensitivity)


def _univariate_tables(rows: pd.DataFrame, analysis: dict, pooling: dict, sensitivity: dict):
    """The metafor diagnostics of the intercept-only rma.uni model of ``rows``."""
    from .estimators import smallstudy  # the estimators load PyMARE: only in the job
    from .estimators.moderators import coef_frame, metareg
    from .estimators.permutation import permutest
    from .estimators.sensitivity import cumul, influence, leave1out
    from .estimators.subgroups import subgroups, subgroups_common_tau2

    y = rows["yi"].to_numpy(float)
    v = rows["vi"].to_numpy(float)
    fit = {
        "method": pooling.get("method", "REML"),
        "test": pooling.get("test", "knha"),
        "level": pooling.get("level", 0.95),
    }
    labels = list(range(len(y)))
    if len(y) == 0:  # metafor's rma.uni stops here; so does every table
        return {name: _declined(name, K0) for name in table_names(analysis)}
    out: dict[str, pd.DataFrame] = {}

    def attempt(name, compute):
        try:
            out[name] = _ordered(compute(), name)
        except ValueError as why:
            out[name] = _declined(name, str(why))

    attempt("leave1out", lambda: _status(_per_study(leave1out(y, v, **fit, labels=labels), rows)))
    order = np.argsort(rows["year"].to_numpy(), kind="stable")

    def _cumul():
        df = cumul(y, v, **fit, labels=labels, order=rows["year"].to_numpy())
        df = _per_study(df, rows, order)
        df.insert(3, "year", rows["year"].to_numpy()[order])
        return _status(df)

    attempt("cumul", _cumul)
    attempt("influence", lambda: _status(_per_study(influence(y, v, **fit, labels=labels), rows)))
    attempt("regtest", lambda: _status(smallstudy.regtest(y, v, **fit), "error"))
    attempt("ranktest", lambda: _status(smallstudy.ranktest(y, v), "warning"))
    try:
        tf = smallstudy.trimfill(y, v, **fit)
        out["trimfill"] = _ordered(_status(tf.to_frame()), "trimfill")
        filled = tf.filled.copy()
        if "sei" not in filled and "vi" in filled:
            filled["sei"] = np.sqrt(filled["vi"])
        out["trimfill_filled"] = _ordered(_status(filled), "trimfill_filled")
    except ValueError as why:
        out["trimfill"] = _declined("trimfill", str(why))
        out["trimfill_filled"] = _declined("trimfill_filled", str(why))
    attempt(
        "permutest",
        lambda: _status(
            permutest(
                y,
                v,
                **fit,
                iter=sensitivity.get("permutations", 1000),
                seed=sensitivity.get("seed", 1),
            )
        ),
    )
    by = analysis.get("subgroups")
    if by:
        g = rows[by].astype(str).to_numpy()
        attempt("subgroups", lambda: _status(subgroups(y, v, g, **fit), "error"))
        attempt(
            "subgroups_common",
            lambda: _status(coef_frame(subgroups_common_tau2(y, v, g, **fit, name=by)), "error"),
        )
    if analysis.get("metareg"):
        frames = []
        for col in analysis["metareg"]:
            x = rows[col]
            x = x.to_numpy(float) if pd.api.types.is_numeric_dtype(x) else x.astype(str).to_numpy()
            try:
                df = _status(metareg(y, v, x, **fit, name=col), "error", "warning")
            except ValueError as why:
                df = _declined("metareg", str(why))
            df = df.drop(columns="moderator", errors="ignore")
            df.insert(0, "moderator", col)
            frames.append(df)
        out["metareg"] = _ordered(pd.concat(frames, ignore_index=True), "metareg")
    return out


def comparison_labels(rows: pd.DataFrame) -> list[str]:
    return [f"{r.study_id}: {r.treatment_arm} vs {r.control_arm}" for r in rows.itertuples()]


def gosh_table(rows: pd.DataFrame, pooling: dict, sensitivity: dict):
    """(GOSH table, study labels) of one analysis, or (None, why metafor declines)."""
    from .estimators.gosh import gosh

    try:
        table = gosh(
            rows["yi"].to_numpy(float),
            rows["vi"].to_numpy(float),
            pooling.get("method", "REML"),
            subsets=sensitivity.get("gosh_subsets", 10**6),
            seed=sensitivity.get("seed", 20261123),
            level=pooling.get("level", 0.95),
        )
    except ValueError as why:
        return None, str(why)
    return table, comparison_labels(rows)


#: What a multilevel analysis's univariate diagnostics were fitted to (the report says so).
ON_SPLIT = (
    "rma.uni on the comparisons with the shared arm split (the analysis itself is pooled "
    "with rma.mv; these diagnostics have no multilevel form in metafor)"
)


def diagnostic_rows(rows: pd.DataFrame, univariate: pd.DataFrame | None, dependence: str):
    """(rows, model note) the univariate diagnostics of an analysis are fitted to: its own
    rows, or for a multilevel analysis the split rows (methods.md section 4)."""
    from .dependence import multilevel

    if not multilevel(rows["study_id"], dependence):
        return rows, "rma.uni"
    aid = rows["analysis_id"].iloc[0]
    split = univariate[(univariate["analysis_id"] == aid) & (univariate["multiarm"] == "split")]
    return split.reset_index(drop=True), ON_SPLIT


def leave1study_table(rows: pd.DataFrame, pooling: dict, dependence: str) -> pd.DataFrame:
    """leave1study.csv: the multilevel model without each study (all its comparisons)."""
    from .dependence import multilevel, mv_method, mv_test
    from .estimators.multilevel import leave1study
    from .estimators.vcov import sampling_covariance

    if not multilevel(rows["study_id"], dependence):
        return _declined("leave1study", "not pooled with the multilevel model: see leave1out")
    test = mv_test(pooling.get("test", "knha"))
    V, _ = sampling_covariance(rows)
    recs = leave1study(
        rows["yi"].to_numpy(float), V, rows["study_id"].to_numpy(), mv_method(pooling),
        "z" if test == "cr2" else test, pooling.get("level", 0.95),
    )  # fmt: skip
    return _ordered(pd.DataFrame(recs), "leave1study")


def hazard_based_tables(
    effects: pd.DataFrame, univariate: pd.DataFrame | None, analyses: list[dict], config: dict
) -> dict[str, pd.DataFrame]:
    """hazard_based.csv of every analysis: each pooled with its main model from only the
    comparisons derived from an HR, a log-rank statistic or a reconstructed curve (methods
    that do not assume exponential survival; issue 16). All in one pool_tables call."""
    from .pool import pool_tables

    out: dict[str, pd.DataFrame] = {}
    subsets, keep_ids = [], []
    for analysis in analyses:
        aid = analysis["id"]
        rows = effects[effects["analysis_id"] == aid]
        if analysis.get("metric", "log_hr") != "log_hr":
            out[aid] = _declined(
                "hazard_based", "not applicable: the analysis pools no hazard ratios"
            )
        elif "hazard_based" not in rows:
            out[aid] = _declined("hazard_based", "effects.csv does not say which methods were used")
        else:
            sub = rows[rows["hazard_based"].astype(str).str.lower().isin(("true", "1"))]
            if not len(sub):
                out[aid] = _declined(
                    "hazard_based", "no comparison was derived by a hazard-based method"
                )
            else:
                subsets.append(sub)
                keep_ids.append(aid)
    if not subsets:
        return out
    sub = pd.concat(subsets, ignore_index=True)
    only = [{**a, "subgroups": None} for a in analyses if a["id"] in set(keep_ids)]
    cfg = {**config, "analyses": only, "sensitivity": {}}
    uni = None
    if univariate is not None and len(univariate) and "comparison_id" in sub:
        uni = univariate[univariate["comparison_id"].isin(set(sub["comparison_id"]))]
    pooled = pool_tables(sub, cfg, uni)["pooled"]
    back = {contract: name for name, contract in POOLED_NAMES.items()}
    for aid in keep_ids:
        main = pooled[pooled["main"].astype(bool) & (pooled["subgroup"] == "all")
                      & (pooled["analysis_id"] == aid)]  # fmt: skip
        if not len(main):
            out[aid] = _declined("hazard_based", "no pooled estimate")
            continue
        main = main.drop(columns=["analysis_id", "subgroup"]).rename(columns=back)
        out[aid] = _ordered(main.reset_index(drop=True), "hazard_based")
    return out


def hazard_based_table(
    rows: pd.DataFrame, univariate: pd.DataFrame | None, analysis: dict, config: dict
) -> pd.DataFrame:
    """hazard_based.csv of one analysis (:func:`hazard_based_tables`)."""
    return hazard_based_tables(rows, univariate, [analysis], config)[analysis["id"]]
