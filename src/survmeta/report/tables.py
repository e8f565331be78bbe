"""The report's tables: every sensitivity and robustness table of an analysis, and the
included studies, as text cells (numbers formatted by survmeta.numbers)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..figures.data import BETWEEN_LABEL, arm_label, prior_label, status_ok
from ..numbers import (
    DASH,
    Scale,
    finite,
    fmt_int,
    fmt_interval,
    fmt_num,
    fmt_p,
    fmt_pct,
    fmt_text,
    missing,
    p_eq,
)

_DASH = DASH
_missing = missing


@dataclass
class Table:
    """A table as text: the template adds <th scope>, numeric alignment and row classes."""

    caption: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    numeric: set[int] = field(default_factory=set)
    row_class: list[str] = field(default_factory=list)
    note: str = ""
    id: str = ""

    def add(self, cells: list, cls: str = "") -> None:
        self.rows.append([c if isinstance(c, str | list) else fmt_text(c) for c in cells])
        self.row_class.append(cls)


def _status(x) -> str:
    return "ok" if _missing(x) else str(x)


def _is_ok(row: dict) -> bool:
    return _status(row.get("status")) == "ok"


def _comparison(r: dict) -> str:
    """'Study: treatment arm vs control arm' (arm ids as words)."""
    return (
        f"{r.get('study_id')}: {arm_label(r.get('treatment_arm'))} vs "
        f"{arm_label(r.get('control_arm'))}"
    )


def _records(df: pd.DataFrame | None) -> list[dict]:
    """The rows as dicts, missing values as None (one pass, no per-cell pandas calls)."""
    if df is None or df.empty:
        return []
    cols = list(df.columns)
    return [
        {c: (None if v is None or (isinstance(v, float) and v != v) else v)
         for c, v in zip(cols, row, strict=True)}
        for row in df.to_numpy(dtype=object).tolist()
    ]  # fmt: skip


MODEL_LABELS = {
    ("rma.mv", "multilevel"): "multilevel (comparisons nested in studies)",
    ("rma.uni", "none"): "random effects",
    ("rma.uni", "split"): "univariate, shared arm split",
    ("rma.uni", "combine"): "univariate, arms combined",
}
#: What each model assumes about a study's several comparisons (the dependence table).
ASSUMES = {
    "multilevel": "A study's comparisons share its random effect and, through the shared arm, "
    "correlated sampling errors (V from the shared arm's events); counts studies, not "
    "comparisons (t with studies - 1 df; CR2: cluster-robust by study).",
    "split": "The shared arm's patients and events divided evenly among its comparisons "
    "(Cochrane Handbook 23.3.4); comparisons then treated as independent studies.",
    "combine": "The treatment arms (and control arms) of a study merged into one comparison "
    "(n and events summed); comparisons needing medians or curves of a merged arm are lost.",
    "none": "Every study gives one comparison: the comparisons are independent.",
}
_ORDER = {"multilevel": 0, "none": 0, "split": 1, "combine": 2}


def model_label(r: dict) -> str:
    return MODEL_LABELS.get((str(r.get("model")), str(r.get("dependence"))), str(r.get("model")))


def stat_text(r: dict, stat: str = "stat", p: str = "p", df: str = "df") -> str:
    """'t = -2.10, df = 3, p = 0.127', 'robust t = …' (CR2) or 'z = …' from a row."""
    if not finite(r.get(stat)):
        return _DASH
    robust = str(r.get("test")) == "cr2"
    if not finite(r.get(df)):
        return f"z = {fmt_num(r[stat])}, {p_eq(r.get(p))}"
    dfs = fmt_num(r[df], 2) if robust else fmt_int(r[df])
    name = "robust t" if robust else "t"
    return f"{name} = {fmt_num(r[stat])}, df = {dfs}, {p_eq(r.get(p))}"


def heterogeneity_text(r: dict) -> str:
    """tau² [Q-profile CI] of an rma.uni row, the two variance components of an rma.mv row."""
    if str(r.get("model")) == "rma.mv":
        if not finite(r.get("sigma2_study")):
            return _DASH
        return (
            f"σ² study {fmt_num(r['sigma2_study'])}, comparison {fmt_num(r['sigma2_comparison'])}"
        )
    tau2 = fmt_num(r.get("tau2"))
    if not _missing(r.get("tau2_ci_low")):
        tau2 += f" {fmt_interval(r.get('tau2_ci_low'), r.get('tau2_ci_high'))}"
    return tau2


def q_text(r: dict) -> str:
    if _missing(r.get("q")):
        return _DASH
    return f"{fmt_num(r['q'])} ({fmt_int(r.get('q_df'))}, {fmt_p(r.get('q_p'))})"


def k_text(r: dict) -> str:
    """'4 (2 studies)' where a study gives several comparisons, else '4'."""
    k, ks = r.get("k"), r.get("k_studies")
    if finite(ks) and finite(k) and int(ks) != int(k):
        return f"{fmt_int(k)} ({fmt_int(ks)} stud{'y' if int(ks) == 1 else 'ies'})"
    return fmt_int(k)


def pooled_table(pool: pd.DataFrame, scale: Scale, level: str) -> Table:
    """Every model x method x test of the overall pool, the main analysis first (★)."""
    t = Table(
        "Pooled estimates by model, tau² estimator and test (main analysis first, marked ★)",
        [
            "Model",
            "Method",
            "Test",
            "k",
            f"{scale.name} [{level} CI]",
            f"{level} prediction interval",
            "Heterogeneity: tau² [CI] or σ²",
            "I²",
            "Q (df, p)",
            "Test of effect",
            "Status",
        ],  # fmt: skip
        numeric={3, 4, 5, 6, 7, 8, 9},
        note="Overall pool (subgroup 'all') of results/pooled.csv; tau² (with its Q-profile CI), "
        "σ² and Q on the model's scale (log for ratios). Q of the multilevel model is Q_E with "
        "the full sampling covariance. Test of effect: z, t (df shown) or, for CR2, the "
        "cluster-robust t with Satterthwaite df.",
    )
    rows = _records(pool[pool["subgroup"].astype(str) == "all"]) if len(pool) else []
    rows.sort(key=lambda r: (not _true(r.get("main")), _ORDER.get(str(r.get("dependence")), 3)))
    for r in rows:
        is_main = _true(r.get("main"))
        t.add(
            [
                model_label(r),
                f"{r['method']}{' ★' if is_main else ''}",
                str(r["test"]),
                k_text(r),
                scale.ci(r.get("estimate"), r.get("ci_low"), r.get("ci_high")),
                scale.interval(r.get("pi_low"), r.get("pi_high")),
                heterogeneity_text(r),
                fmt_pct(r.get("i2")),
                q_text(r),
                stat_text(r),
                _status(r.get("status")),
            ],
            "main" if is_main else "",
        )
    return t


def _true(x) -> bool:
    return str(x).strip().lower() in ("true", "1", "1.0", "yes")


def dependence_table(pool: pd.DataFrame, scale: Scale, level: str, pooling: dict) -> Table | None:
    """The main multilevel result beside the univariate split and combine pools, with what
    each assumes (issue 14): None when no study gives several comparisons."""
    rows = _records(pool[pool["subgroup"].astype(str) == "all"]) if len(pool) else []
    main = next((r for r in rows if _true(r.get("main"))), None)
    if main is None or str(main.get("model")) != "rma.mv":
        return None
    t = Table(
        "A study's several comparisons: the multilevel model and the univariate alternatives",
        [
            "Model",
            "k",
            f"{scale.name} [{level} CI]",
            f"{level} prediction interval",
            "Test of effect",
            "What it assumes",
        ],  # fmt: skip
        numeric={1, 2, 3},
    )
    method, test = str(pooling.get("method", "REML")), str(pooling.get("test", "knha"))
    picks = [main] + [
        r for dep in ("split", "combine") for r in rows
        if str(r.get("dependence")) == dep and (str(r["method"]), str(r["test"])) == (method, test)
    ]  # fmt: skip
    for r in picks:
        dep = str(r.get("dependence"))
        t.add(
            [
                f"{model_label(r)} ({r['method']}, {r['test']})",
                k_text(r),
                scale.ci(r.get("estimate"), r.get("ci_low"), r.get("ci_high")),
                scale.interval(r.get("pi_low"), r.get("pi_high")),
                stat_text(r) if _is_ok(r) else _status(r.get("status")),
                " ".join(filter(None, [ASSUMES.get(dep, ""), _sentence(r.get("notes"))])),
            ],
            "main" if r is main else "",
        )
    return t


def _sentence(text) -> str:
    """A notes cell as a sentence ("" when empty)."""
    if not isinstance(text, str) or not text.strip():
        return ""
    text = text.strip()
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


def bayes_table(bayes: pd.DataFrame | None, scale: Scale, level: str) -> Table | None:
    """The Bayesian pool of the whole analysis under each prior (bayes.csv), main prior first."""
    if bayes is None or not len(bayes):
        return None
    rows = _records(bayes[bayes["subgroup"].astype(str) == "all"])
    if not rows:
        return None
    favour = "P(HR < 1)" if scale.metric == "log_hr" else "P(favours treatment)"
    t = Table(
        "Bayesian random effects (bayesmeta's model; flat prior on the mean effect)",
        [
            "Prior on τ",
            "k",
            f"{scale.name}: median [{level} credible interval]",
            f"{level} predictive interval",
            "τ: median [credible interval]",
            favour,
            "Status",
        ],  # fmt: skip
        numeric={1, 2, 3, 4, 5},
    )
    for r in rows:
        p_below = r.get("p_mu_below_0")
        p_fav = p_below if scale.metric == "log_hr" or not finite(p_below) else 1 - float(p_below)
        t.add(
            [
                prior_label(r.get("prior"), r.get("scale"))
                + (" ★" if _true(r.get("main")) else ""),
                fmt_int(r.get("k")),
                scale.ci(r.get("mu_median"), r.get("mu_ci_low"), r.get("mu_ci_high")),
                scale.interval(r.get("pred_low"), r.get("pred_high")),
                f"{fmt_num(r.get('tau_median'))} "
                f"{fmt_interval(r.get('tau_ci_low'), r.get('tau_ci_high'))}",
                fmt_pct(100 * float(p_fav)) if finite(p_fav) else _DASH,
                _status(r.get("status")),
            ],
            "main" if _true(r.get("main")) else "",
        )
    return t


def hazard_based_table(df: pd.DataFrame | None, scale: Scale, level: str) -> Table | None:
    """The pool of only the hazard-based comparisons (HR, log-rank, curves; issue 16)."""
    if df is None or not len(df):
        return None
    r = _records(df)[0]
    t = Table(
        "Sensitivity: only the comparisons derived from a hazard ratio, a log-rank statistic "
        "or a curve (no exponential-survival assumption)",
        [
            "Model",
            "k",
            f"{scale.name} [{level} CI]",
            f"{level} prediction interval",
            "Test of effect",
            "Status",
        ],  # fmt: skip
        numeric={1, 2, 3},
    )
    t.add([
        model_label(r) if not _missing(r.get("model")) else _DASH, k_text(r),
        scale.ci(r.get("estimate"), r.get("ci_lb"), r.get("ci_ub")),
        scale.interval(r.get("pi_lb"), r.get("pi_ub")),
        stat_text(r, "zval", "pval", "dfs"), _status(r.get("status")),
    ])  # fmt: skip
    return t


def subgroup_table(mains: dict[str, dict], sens: dict, by: str, scale: Scale, level: str) -> Table:
    t = Table(
        f"Subgroups by {by} (each with its own heterogeneity, main method and test)",
        [
            "Subgroup",
            "Model",
            "k",
            f"{scale.name} [{level} CI]",
            "tau² or σ²",
            "I²",
            "Q (df, p)",
            "Status",
        ],  # fmt: skip
        numeric={2, 3, 4, 5, 6},
    )
    for g, r in sorted((g, r) for g, r in mains.items() if g != "all"):
        single = finite(r.get("k")) and r["k"] < 2
        t.add(
            [
                g,
                model_label(r),
                k_text(r),
                scale.ci(r.get("estimate"), r.get("ci_low"), r.get("ci_high")),
                heterogeneity_text(r),
                fmt_pct(r.get("i2")),
                _DASH if single else q_text(r),
                _status(r.get("status")),
            ]
        )
    notes = []
    sg = sens.get("subgroups")
    if sg is not None and "subgroup" in sg:
        b = sg[sg["subgroup"].astype(str) == BETWEEN_LABEL]
        if len(b):
            b = b.iloc[0]
            if finite(b.get("q_between")):
                notes.append(
                    f"Test for subgroup differences (separate tau², univariate): Q = "
                    f"{fmt_num(b['q_between'])}, df = {fmt_int(b.get('df_between'))}, "
                    f"{p_eq(b.get('p_between'))}."
                )
            else:
                notes.append(f"Test for subgroup differences: {_status(b.get('status'))}.")
    else:
        notes.append("Test for subgroup differences: not available (subgroups.csv missing).")
    common = sens.get("subgroups_common")
    if common is not None and len(common):
        c = common.iloc[0]
        if finite(c.get("qm")):
            notes.append(
                f"Common-tau² model (meta-regression on {by}): QM = {fmt_num(c['qm'])}, "
                f"{p_eq(c.get('qmp'))}."
            )
    t.note = " ".join(notes)
    return t


def _fit_table(
    df: pd.DataFrame | None, caption: str, scale: Scale, level: str, first: str, year=False
):
    """leave1out / cumul / leave1study: one refit per row."""
    sigma = df is not None and "sigma2_study" in df
    heads = (
        [first]
        + (["Year"] if year else [])
        + [f"{scale.name} [{level} CI]", "p", "σ² study, comparison" if sigma else "tau²"]
        + ([] if sigma else ["I²"])
        + ["Q (p)", "Status"]
    )
    off = 1 + year
    t = Table(caption, heads, numeric=set(range(off, off + (4 if sigma else 5))))
    for r in _records(df):
        q = _DASH if _missing(r.get("q")) else f"{fmt_num(r['q'])} ({fmt_p(r.get('qp'))})"
        het = (
            [f"{fmt_num(r.get('sigma2_study'))}, {fmt_num(r.get('sigma2_comparison'))}"]
            if sigma
            else [fmt_num(r.get("tau2")), fmt_pct(r.get("i2"))]
        )
        label = str(r.get("study_id")) if first.startswith("Study") else _comparison(r)
        t.add(
            [label]
            + ([fmt_int(r.get("year"))] if year else [])
            + [scale.ci(r.get("estimate"), r.get("ci_lb"), r.get("ci_ub")), fmt_p(r.get("pval"))]
            + het
            + [q, _status(r.get("status"))]
        )
    if df is not None and "model" in df and len(df) and not _missing(df["model"].iloc[0]):
        if str(df["model"].iloc[0]) != "rma.uni":
            t.note = f"Fitted with {df['model'].iloc[0]}."
    return t


def influence_table(df: pd.DataFrame | None) -> Table:
    t = Table(
        "Influence diagnostics (metafor influence(); ‘yes’ = influential by metafor's criteria)",
        [
            "Comparison",
            "rstudent",
            "DFFITS",
            "Cook's d",
            "cov. ratio",
            "tau² deleted",
            "Q deleted",
            "hat",
            "weight",
            "Influential",
            "Status",
        ],
        numeric=set(range(1, 9)),
    )
    for r in _records(df):
        inf = r.get("inf")
        infl = _DASH if inf is None else ("yes" if str(inf).lower() in ("true", "1") else "no")
        t.add(
            [
                _comparison(r),
                fmt_num(r.get("rstudent")),
                fmt_num(r.get("dffits")),
                fmt_num(r.get("cook_d")),
                fmt_num(r.get("cov_r")),
                fmt_num(r.get("tau2_del")),
                fmt_num(r.get("qe_del")),
                fmt_num(r.get("hat")),
                fmt_pct(r.get("weight")),
                infl,
                _status(r.get("status")),
            ],
            "flag" if infl == "yes" else "",
        )
    return t


def tests_table(sens: dict, scale: Scale, k: int) -> Table:
    """Egger, Begg, trim-and-fill and the permutation test in one table."""
    t = Table(
        "Small-study effects and robustness tests (main method and test)",
        ["Test", "Statistic", "p", "Estimate", "Status"],
        numeric={1, 2},
    )

    def row(name, df, stat, p, est):
        ok, why = status_ok(df)
        if not ok:
            t.add([name, _DASH, _DASH, _DASH, why])
            return
        r = df.iloc[0].to_dict()
        t.add([name, stat(r), fmt_p(r.get(p)) if p else _DASH, est(r), "ok"])

    row(
        "Egger's regression test (predictor: SE)",
        sens.get("regtest"),
        lambda r: (
            f"t = {fmt_num(r['zval'])}, df = {fmt_int(r['dfs'])}"
            if finite(r.get("dfs"))
            else f"z = {fmt_num(r.get('zval'))}"
        ),
        "pval",
        lambda r: (
            f"limit estimate {scale.name} {scale.ci(r.get('est'), r.get('ci_lb'), r.get('ci_ub'))}"
        ),
    )
    row(
        "Begg's rank correlation test",
        sens.get("ranktest"),
        lambda r: f"Kendall's tau = {fmt_num(r.get('tau'))}",
        "pval",
        lambda r: _DASH,
    )
    row(
        "Trim-and-fill (L0)",
        sens.get("trimfill"),
        lambda r: f"k0 = {fmt_int(r.get('k0'))} ({fmt_text(r.get('side'))} side)",
        None,
        lambda r: (
            f"adjusted {scale.name} {scale.ci(r.get('estimate'), r.get('ci_lb'), r.get('ci_ub'))}"
        ),
    )
    row(
        "Permutation test of the overall effect",
        sens.get("permutest"),
        lambda r: (
            f"{fmt_int(r.get('iter'))} "
            f"{'permutations (exact)' if str(r.get('exact')).lower() == 'true' else 'iterations'}"
        ),
        "pval",
        lambda r: _DASH,
    )
    notes = []
    if k < 10:
        notes.append(
            f"With {k} comparison{'s' * (k != 1)} the funnel-plot tests have little power "
            "(Sterne et al. 2011 recommend at least 10); read them as descriptive."
        )
    model = next((df["model"].iloc[0] for df in sens.values()
                  if df is not None and "model" in df and len(df)), None)  # fmt: skip
    if model and str(model) != "rma.uni":
        notes.append(f"Fitted with {model}.")
    t.note = " ".join(notes)
    return t


def metareg_table(df: pd.DataFrame | None, scale: Scale, level: str) -> Table:
    t = Table(
        "Meta-regression (one moderator at a time; coefficients on the model's scale)",
        [
            "Moderator",
            "Term",
            "Coefficient",
            f"exp (× {scale.name})" if scale.ratio else f"{scale.name} (months)",
            "SE",
            "Statistic",
            "p",
            f"{level} CI",
            "QM (p)",
            "R²",
            "Status",
        ],
        numeric=set(range(2, 10)),
    )
    for r in _records(df):
        t.add(
            [
                fmt_text(r.get("moderator")),
                fmt_text(r.get("term")),
                fmt_num(r.get("estimate")),
                scale.value(r.get("estimate")),
                fmt_num(r.get("se")),
                fmt_num(r.get("zval")),
                fmt_p(r.get("pval")),
                fmt_interval(r.get("ci_lb"), r.get("ci_ub")),
                f"{fmt_num(r.get('qm'))} ({fmt_p(r.get('qmp'))})",
                fmt_pct(r.get("r2")),
                _status(r.get("status")),
            ]
        )
    return t


def gosh_summary(gosh: pd.DataFrame | None, scale: Scale) -> str:
    if gosh is None or gosh.empty or "estimate" not in gosh:
        return ""
    est = pd.to_numeric(gosh["estimate"], errors="coerce").dropna()
    i2 = pd.to_numeric(gosh["i2"], errors="coerce").dropna()
    if est.empty:
        return f"{len(gosh)} subsets; no estimates."
    favour = est < 0 if scale.metric == "log_hr" else est > 0  # as Scale.favours_treatment
    return (
        f"{len(gosh)} subsets of comparisons. Their pooled estimates range from "
        f"{scale.value(est.min(), 2)} to {scale.value(est.max(), 2)}{scale.unit} "
        f"({favour.mean():.0%} favour the treatment); "
        f"I² from {i2.min():.0f}% to {i2.max():.0f}%."
    )


def study_table(studies: pd.DataFrame, arms: pd.DataFrame | None, effects: pd.DataFrame) -> Table:
    """Design, risk of bias, population notes and arms of every study (and any extra column)."""
    skip = {"study_id", "citation", "doi", "year", "source", "quote"}
    cols = ["design", "risk_of_bias", "notes"]
    cols = [c for c in cols if c in studies] + [
        c for c in studies if c not in skip and c not in cols
    ]
    names = {"risk_of_bias": "Risk of bias", "notes": "Population and notes"}
    heads = [names.get(c, c.replace("_", " ").capitalize()) for c in cols]
    t = Table(
        "Included studies",
        [
            "Study",
            "Citation",
            "Year",
            *heads,
            "Arms: class, modality, outcome, n (events)",
            "Analyses",
        ],
        numeric={2},
        id="study-table",
    )
    arms_by = {}
    for a in _records(arms):
        arms_by.setdefault(str(a.get("study_id")), []).append(a)
    used_by: dict[str, set] = {}
    for sid, aid in zip(effects["study_id"].astype(str), effects["analysis_id"], strict=True):
        used_by.setdefault(sid, set()).add(aid)
    for r in _records(studies):
        sid = str(r.get("study_id"))
        arm_list: list[str] = []
        for a in arms_by.get(sid, []):
            ev = "" if _missing(a.get("events")) else f" ({fmt_int(a.get('events'))})"
            arm_list.append(
                f"{a.get('arm_id')}: {a.get('arm_class')}, {a.get('modality')}, "
                f"{a.get('outcome')}, n = {fmt_int(a.get('n'))}{ev}"
            )
        used = sorted(used_by.get(sid, ()))
        citation = fmt_text(r.get("citation"))
        if not _missing(r.get("doi")):
            citation += f" doi:{r.get('doi')}"
        cells = [fmt_text(r.get(c)) for c in cols]
        t.add(
            [
                sid,
                citation,
                fmt_int(r.get("year")),
                *cells,
                arm_list or _DASH,
                ", ".join(used) or "none (all comparisons excluded)",
            ]
        )
    return t
