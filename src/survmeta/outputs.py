"""The sensitivity tables the workflow writes per analysis, and their columns (design.md).

Free of numpy and pandas: snakemake reads it while parsing, to list the outputs.
"""

from __future__ import annotations

#: Table name -> the columns design.md promises (others may follow).
_STUDY = "study_id treatment_arm control_arm "
_FIT = "estimate se zval pval ci_lb ci_ub q qp tau2 i2 h2"
COLUMNS = {
    "leave1out": _STUDY + _FIT,
    "cumul": _STUDY + "year " + _FIT,
    "influence": _STUDY + "rstudent dffits cook_d cov_r tau2_del qe_del hat weight",
    "regtest": "zval pval dfs est ci_lb ci_ub",
    "ranktest": "tau pval",
    "trimfill": "k0 side estimate se ci_lb ci_ub tau2",
    "trimfill_filled": "yi vi sei",
    "permutest": "pval iter exact",
    "subgroups": "subgroup k estimate se ci_lb ci_ub tau2 i2 q_between df_between p_between",
    "subgroups_common": "term estimate se zval pval ci_lb ci_ub qm qmp r2",
    "metareg": "moderator term estimate se zval pval ci_lb ci_ub qm qmp r2",
}
COLUMNS = {name: cols.split() for name, cols in COLUMNS.items()}
K0 = "Processing terminated since k = 0."


def table_names(analysis: dict) -> list[str]:
    """The tables written for ``analysis`` (subgroups and metareg only when configured)."""
    names = [n for n in COLUMNS if not n.startswith(("subgroups", "metareg"))]
    if analysis.get("subgroups"):
        names += ["subgroups", "subgroups_common"]
    if analysis.get("metareg"):
        names.append("metareg")
    return names


def output_paths(analyses: list[dict]) -> list[str]:
    """Every results/sensitivity/<analysis>/<table>.csv the workflow writes."""
    return [
        f"results/sensitivity/{a['id']}/{name}.csv" for a in analyses for name in table_names(a)
    ]
