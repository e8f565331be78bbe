"""Every output of the workflow: its path and its columns, in one place (design.md, Outputs).

The rules (workflow/rules/*.smk) list their outputs from here, the scripts write to
the paths snakemake hands them, the report and the tests read the same names.
Free of numpy and pandas: snakemake reads it while parsing.
"""

from __future__ import annotations

EFFECTS = "results/effects.csv"
EXCLUDED = "results/excluded.csv"
DERIVATIONS = "results/derivations.csv"
POOLED = "results/pooled.csv"
WEIGHTS = "results/weights.csv"
INPUTS = "results/inputs.csv"
RECONSTRUCTED = "results/reconstructed.csv"
EFFECTS_UNIVARIATE = "results/effects_univariate.csv"
VCOV = "results/vcov.csv"
BAYES = "results/bayes.csv"
BAYES_SHRINKAGE = "results/bayes_shrinkage.csv"
BAYES_TAU = "results/bayes_tau.csv"
REPORT = "report/index.html"


def validated_path(table: str) -> str:
    """The typed, checked copy of an input table that the harmonize job writes."""
    return f"results/validated/{table}.csv"


def sensitivity_path(analysis_id: str, name: str) -> str:
    return f"results/sensitivity/{analysis_id}/{name}.csv"


def gosh_path(analysis_id: str) -> str:
    return f"results/gosh/{analysis_id}.csv"


#: Figure kind -> file name suffix: ``results/figures/<analysis_id><suffix>.svg``.
FIGURE_SUFFIXES = {"forest": "", "funnel": "_funnel", "gosh": "_gosh"}


def figure_path(analysis_id: str, kind: str) -> str:
    return f"results/figures/{analysis_id}{FIGURE_SUFFIXES[kind]}.svg"


#: pooled.csv (design.md): one row per analysis x subgroup x method x test. The engine
#: names the values as metafor does; these are the contract's names for them.
POOLED_COLUMNS = (
    "analysis_id subgroup method test main metric level k estimate se ci_low ci_high pi_low "
    "pi_high tau2 tau2_ci_low tau2_ci_high i2 h2 q q_df q_p stat p hr hr_ci_low hr_ci_high "
    "hr_pi_low hr_pi_high status model dependence k_studies sigma2_study sigma2_comparison "
    "tau2_pl_low tau2_pl_high df notes"
).split()
#: pooled.csv's contract names of the values the engine and the sensitivity tables call by
#: metafor's names (the one translation between the two vocabularies).
POOLED_NAMES = {
    "ci_lb": "ci_low", "ci_ub": "ci_high", "pi_lb": "pi_low", "pi_ub": "pi_high",
    "zval": "stat", "pval": "p", "qe": "q", "qep": "q_p", "qe_df": "q_df",
    "tau2_ci_lb": "tau2_ci_low", "tau2_ci_ub": "tau2_ci_high", "tau2_pl_lb": "tau2_pl_low",
    "tau2_pl_ub": "tau2_pl_high", "dfs": "df",
}  # fmt: skip
#: vcov.csv: the non-zero sampling covariances of the multilevel analyses' comparisons.
VCOV_COLUMNS = ["analysis_id", "comparison_a", "comparison_b", "cov", "rule"]

#: weights.csv: each comparison of each analysis with its CI at the review's level and its
#: weight in the main model (%), as the forest plot shows them.
WEIGHT_COLUMNS = (
    "analysis_id study_id treatment_arm control_arm yi vi sei ci_lb ci_ub weight".split()
)

#: bayes.csv (design.md Additions): one row per analysis x subgroup x prior.
BAYES_COLUMNS = (
    "analysis_id subgroup prior scale k mu_mean mu_sd mu_median mu_ci_low mu_ci_high "
    "tau_median tau_ci_low tau_ci_high pred_low pred_high p_mu_below_0 status hr_median "
    "hr_ci_low hr_ci_high hr_pred_low hr_pred_high main dependence"
).split()
BAYES_SHRINKAGE_COLUMNS = (
    "analysis_id subgroup prior comparison_id study_id mean median ci_low ci_high".split()
)
#: bayes_tau.csv: the posterior density of tau of each analysis's overall pool, on a grid
#: (the report's small density plot).
BAYES_TAU_COLUMNS = "analysis_id prior scale tau density".split()

#: Sensitivity table name -> the columns design.md promises (others may follow).
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
    "leave1study": "study_id estimate se zval pval ci_lb ci_ub q qp pi_lb pi_ub sigma2_study "
    "sigma2_comparison notes",
    "hazard_based": "model dependence method test k k_studies estimate se zval pval ci_lb ci_ub "
    "pi_lb pi_ub tau2 sigma2_study sigma2_comparison",
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
    return [sensitivity_path(a["id"], name) for a in analyses for name in table_names(a)]


def gosh_analyses(config: dict) -> list[str]:
    """The analyses whose GOSH table is written (``sensitivity: gosh: true``)."""
    on = (config.get("sensitivity") or {}).get("gosh", False)
    return [a["id"] for a in config["analyses"]] if on else []


def figure_paths(config: dict, kind: str | None = None, analyses=None) -> list[str]:
    """Every figure file the figure jobs draw (of one ``kind``, or all; of ``analyses``, or
    of every analysis)."""
    ids = [a["id"] for a in (analyses if analyses is not None else config["analyses"])]
    gosh = set(gosh_analyses(config))
    per_kind = {"forest": ids, "funnel": ids, "gosh": [a for a in ids if a in gosh]}
    kinds = [kind] if kind else list(per_kind)
    return [figure_path(a, kd) for kd in kinds for a in per_kind[kd]]


# --------------------------------------------------------------------------------------
# Shards: the pool and figure work of a review split over jobs (issue 18)
# --------------------------------------------------------------------------------------

#: Analyses per shard when ``shards: auto``: a shard's job pays about a second of imports
#: (bench/shards.py), a 25-analysis shard some seconds of work.
ANALYSES_PER_SHARD = 25
MAX_AUTO_SHARDS = 8
#: The review-wide tables each pool shard writes for its analyses, merged into results/.
SHARD_TABLES = ("pooled", "weights", "vcov", "bayes", "bayes_shrinkage", "bayes_tau")
REPORT_DRAFT = "results/shards/report.html"
#: Significant digits of each table: the Bayesian integrals are accurate to 1e-6 (methods.md
#: section 5), so 8 digits; every other table 12.
DIGITS = {"bayes": 8, "bayes_shrinkage": 8, "bayes_tau": 8}


def n_shards(config: dict) -> int:
    """How many pool and figure jobs the review is split into (``shards:``, default auto:
    one per 25 analyses, at most 8; never more than there are analyses)."""
    n_analyses = len(config["analyses"])
    setting = config.get("shards", "auto")
    if setting in (None, "auto"):
        setting = min(MAX_AUTO_SHARDS, -(-n_analyses // ANALYSES_PER_SHARD))
    return max(1, min(int(setting), n_analyses))


def shards(config: dict) -> dict[str, list[dict]]:
    """{shard name: its analyses}: analyses dealt round-robin (config order within a shard),
    so that the large analyses a review lists together are spread over the shards."""
    n = n_shards(config)
    return {f"s{i}": config["analyses"][i::n] for i in range(n)}


def shard_table(shard: str, name: str) -> str:
    return f"results/shards/{shard}/{name}.csv"


def shard_figures(shard: str) -> str:
    """The shard's figures drawn inline in the report only (posterior of tau, KM curves)."""
    return f"results/shards/{shard}/figures.json"


REVIEW_TABLES = {
    "pooled": POOLED,
    "weights": WEIGHTS,
    "vcov": VCOV,
    "bayes": BAYES,
    "bayes_shrinkage": BAYES_SHRINKAGE,
    "bayes_tau": BAYES_TAU,
}
