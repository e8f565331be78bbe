"""The report's tables: every sensitivity and robustness table of an analysis, and the
included studies, as text cells (numbers formatted by survmeta.numbers)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..figures.data import BETWEEN_LABEL, arm_label, status_ok
from ..numbers import (
    DASH,
    finite,
    fmt_ci,
    fmt_ci_log,
    fmt_int,
    fmt_interval,
    fmt_num,
    fmt_p,
    fmt_pct,
    fmt_ratio,
    fmt_ratio_interval,
    fmt_text,
    missing,
    p_eq,
    ratio,
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
    if df is None or df.empty:
        return []
    return df.astype(object).where(df.notna(), None).to_dict("records")


def pooled_table(pool: pd.DataFrame, ratio_name: str, level: str, pooling: dict) -> Table:
    """Every method x test of the overall pool, the main analysis first (sensitivity table)."""
    t = Table(
        "Pooled estimates by tau² estimator and test (main analysis first, marked ★)",
        [
            "Method",
            "Test",
            "k",
            f"{ratio_name} [{level} CI]",
            f"{level} prediction interval",
            "tau² [CI]",
            "I²",
            "H²",
            "Q (df, p)",
            "Test of effect",
            "Status",
        ],
        numeric={2, 3, 4, 5, 6, 7, 8, 9},
        note="Overall pool (subgroup 'all') of results/pooled.csv; tau² (with its Q-profile CI) "
        "and Q on the log scale. Test of effect: t (Hartung-Knapp-Sidik-Jonkman, k − 1 df) or z.",
    )
    rows = _records(pool[pool["subgroup"].astype(str) == "all"]) if len(pool) else []
    main = (str(pooling["method"]), str(pooling["test"]))
    rows.sort(key=lambda r: (str(r["method"]), str(r["test"])) != main)
    for r in rows:
        is_main = (str(r["method"]), str(r["test"])) == main
        q = (
            _DASH
            if _missing(r.get("q"))
            else f"{fmt_num(r['q'])} ({fmt_int(r.get('q_df'))}, {fmt_p(r.get('q_p'))})"
        )
        tau2 = fmt_num(r.get("tau2"))
        if not _missing(r.get("tau2_ci_low")):
            tau2 += f" {fmt_interval(r.get('tau2_ci_low'), r.get('tau2_ci_high'))}"
        stat = _DASH
        if not _missing(r.get("stat")):
            name = "t" if str(r.get("test")) == "knha" else "z"
            stat = f"{name} = {fmt_num(r['stat'])}, {p_eq(r.get('p'))}"
        t.add(
            [
                f"{r['method']}{' ★' if is_main else ''}",
                str(r["test"]),
                fmt_int(r.get("k")),
                fmt_ci(r.get("hr"), r.get("hr_ci_low"), r.get("hr_ci_high")),
                fmt_ratio_interval(r.get("hr_pi_low"), r.get("hr_pi_high")),
                tau2,
                fmt_pct(r.get("i2")),
                fmt_num(r.get("h2")),
                q,
                stat,
                _status(r.get("status")),
            ],
            "main" if is_main else "",
        )
    return t


def subgroup_table(
    mains: dict[str, dict], sens: dict, by: str, ratio_name: str, level: str
) -> Table:
    t = Table(
        f"Subgroups by {by} (each with its own tau², main method and test)",
        ["Subgroup", "k", f"{ratio_name} [{level} CI]", "tau²", "I²", "Q (df, p)", "Status"],
        numeric={1, 2, 3, 4, 5},
    )
    for g, r in sorted((g, r) for g, r in mains.items() if g != "all"):
        q = (
            _DASH
            if _missing(r.get("q")) or (finite(r.get("k")) and r["k"] < 2)
            else (f"{fmt_num(r['q'])} ({fmt_int(r.get('q_df'))}, {fmt_p(r.get('q_p'))})")
        )
        t.add(
            [
                g,
                fmt_int(r.get("k")),
                fmt_ci(r.get("hr"), r.get("hr_ci_low"), r.get("hr_ci_high")),
                fmt_num(r.get("tau2")),
                fmt_pct(r.get("i2")),
                q,
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
                    f"Test for subgroup differences (separate tau²): Q = "
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
    df: pd.DataFrame | None, caption: str, ratio_name: str, level: str, first: str, year=False
):
    """leave1out / cumul: one refit per row."""
    heads = (
        [first]
        + (["Year"] if year else [])
        + [f"{ratio_name} [{level} CI]", "p", "tau²", "I²", "Q (p)", "Status"]
    )
    off = 1 + year
    t = Table(caption, heads, numeric={off, off + 1, off + 2, off + 3, off + 4})
    for r in _records(df):
        ci = fmt_ci_log(r.get("estimate"), r.get("ci_lb"), r.get("ci_ub"))
        q = _DASH if _missing(r.get("q")) else f"{fmt_num(r['q'])} ({fmt_p(r.get('qp'))})"
        t.add(
            [_comparison(r)]
            + ([fmt_int(r.get("year"))] if year else [])
            + [
                ci,
                fmt_p(r.get("pval")),
                fmt_num(r.get("tau2")),
                fmt_pct(r.get("i2")),
                q,
                _status(r.get("status")),
            ]
        )
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


def tests_table(sens: dict, ratio_name: str, k: int) -> Table:
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
            f"limit estimate {ratio_name} "
            f"{fmt_ci_log(r.get('est'), r.get('ci_lb'), r.get('ci_ub'))}"
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
            f"adjusted {ratio_name} {fmt_ci_log(r.get('estimate'), r.get('ci_lb'), r.get('ci_ub'))}"
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
    if k < 10:
        t.note = (
            f"With {k} comparison{'s' * (k != 1)} the funnel-plot tests have little power "
            "(Sterne et al. 2011 recommend at least 10); read them as descriptive."
        )
    return t


def metareg_table(df: pd.DataFrame | None, ratio_name: str, level: str) -> Table:
    t = Table(
        "Meta-regression (one moderator at a time; coefficients on the log scale)",
        [
            "Moderator",
            "Term",
            "Coefficient",
            f"exp (× {ratio_name})",
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
                fmt_ratio(ratio(r.get("estimate"))),
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


def gosh_summary(gosh: pd.DataFrame | None, metric: str) -> str:
    if gosh is None or gosh.empty:
        return ""
    est = pd.to_numeric(gosh["estimate"], errors="coerce").dropna()
    i2 = pd.to_numeric(gosh["i2"], errors="coerce").dropna()
    if est.empty:
        return f"{len(gosh)} subsets; no estimates."
    favour = (est > 0) if metric == "log_mr" else (est < 0)
    word = "above" if metric == "log_mr" else "below"
    return (
        f"{len(gosh)} subsets of comparisons. Their pooled estimates range from "
        f"{fmt_ratio(ratio(est.min()), 2)} to {fmt_ratio(ratio(est.max()), 2)} "
        f"({favour.mean():.0%} {word} 1); "
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
    for r in _records(studies):
        sid = str(r.get("study_id"))
        arm_list: list[str] = []
        if arms is not None and len(arms):
            for a in _records(arms[arms["study_id"].astype(str) == sid]):
                ev = "" if _missing(a.get("events")) else f" ({fmt_int(a.get('events'))})"
                arm_list.append(
                    f"{a.get('arm_id')}: {a.get('arm_class')}, {a.get('modality')}, "
                    f"{a.get('outcome')}, n = {fmt_int(a.get('n'))}{ev}"
                )
        used = sorted(set(effects.loc[effects["study_id"].astype(str) == sid, "analysis_id"]))
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
