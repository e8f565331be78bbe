"""The reviewer's report rendered from small tables: content, escaping, GRADE, provenance."""

import html as htmllib
import math
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

from survmeta.numbers import fmt_ci, fmt_num, fmt_p
from survmeta.report.build import config_yaml, figure_map, shown_path
from survmeta.report.grade import grade_draft, imprecision, inconsistency, publication_bias
from survmeta.report.render import render_report

ROOT = Path(__file__).parents[1]

CONFIG = {
    "title": "NELM review",
    "background": "Why liver-directed therapy.\n\nSecond <b>paragraph</b>.",
    "inputs": {"studies": "data/studies.csv"},
    "pooling": {"method": "REML", "test": "knha", "level": 0.95},
    "sensitivity": {"methods": ["DL", "REML"], "tests": ["z", "knha"], "gosh": True},
    "multiarm": "split",
    "analyses": [{"id": "os_ld_vs_sys", "title": "OS: LD vs systemic", "outcome": "os",
                  "treatment": "liver_directed", "control": ["systemic", "observation"],
                  "metric": "log_hr", "subgroups": "modality"}],
}  # fmt: skip


def _tables():
    studies = pd.DataFrame(
        {
            "study_id": ["Kim2010", "Lee2012", "Park2015"],
            "citation": ["Kim et al. <script>alert(1)</script>", "Lee et al.", "Park et al."],
            "year": ["2010", "2012", "2015"],
            "doi": ["10.1/x", "", ""],
            "design": ["retrospective", "rct", "registry"],
            "risk_of_bias": ["serious", "low", "critical"],
            "notes": ["G1-G2 <i>only</i>", "", ""],
            "country": ["KR", "KR", "KR"],
        }
    )
    arms = pd.DataFrame({
        "study_id": ["Kim2010", "Kim2010"], "arm_id": ["tace", "ssa"],
        "arm_class": ["liver_directed", "systemic"], "modality": ["tace", "ssa"],
        "outcome": ["os", "os"], "n": ["40", "41"], "events": ["22", ""],
    })  # fmt: skip
    effects = pd.DataFrame({
        "analysis_id": ["os_ld_vs_sys"] * 2,
        "study_id": ["Kim2010", "Lee2012"],
        "outcome": ["os", "os"],
        "treatment_arm": ["tace", "resection"],
        "control_arm": ["ssa", "everolimus"],
        "modality": ["tace", "resection"],
        "yi": [-0.5, -0.2], "vi": [0.04, 0.09], "sei": [0.2, 0.3],
        "metric": ["log_hr"] * 2,
        "source_method": ["hr_ci", "median_ratio"],
        "assumptions": [None, "exponential survival; events from follow-up"],
        "flags": [None, "p printed as a bound"],
        "reported": ["HR 0.61 (0.41-0.90)", "median 30 vs 24 mo"],
        "source": ["Table 3", "abstract"],
        "quote": ['"HR 0.61" & <i>more</i>', math.nan],
        "n_treatment": [40, 30], "n_control": [41, 31],
        "year": [2010, 2012], "risk_of_bias": ["serious", "low"],
        "design": ["retrospective", "rct"],
    })  # fmt: skip
    derivations = pd.DataFrame({
        "analysis_id": ["os_ld_vs_sys"] * 3,
        "study_id": ["Kim2010", "Kim2010", "Lee2012"],
        "treatment_arm": ["tace", "tace", "resection"],
        "control_arm": ["ssa", "ssa", "everolimus"],
        "metric": ["log_hr"] * 3,
        "source_method": ["hr_ci", "median_ratio", "median_ratio"],
        "chosen": [True, False, True],
        "yi": [-0.5, -0.3, -0.2], "vi": [0.04, 0.05, 0.09], "sei": [0.2, 0.2236, 0.3],
        "assumptions": ["", "exponential survival", "exponential survival"],
        "reported": ["HR", "medians", "medians"], "flags": ["", "", ""],
    })  # fmt: skip
    excluded = pd.DataFrame({
        "analysis_id": ["os_ld_vs_sys"], "study_id": ["Park2015"], "outcome": ["os"],
        "treatment_arm": ["sirt"], "control_arm": ["prrt"],
        "reason": ["not estimable: hr_ci: no reported contrast; median_ratio: no <medians>"],
    })  # fmt: skip
    base = dict(analysis_id="os_ld_vs_sys", k=2, k_studies=2, model="rma.uni",
                dependence="none", df=1.0, hr=0.7, hr_ci_low=0.5, hr_ci_high=1.0,
                hr_pi_low=0.3, hr_pi_high=1.6, tau2=0.0012, tau2_ci_low=0.0, tau2_ci_high=2.0,
                i2=12.0, h2=1.1, q=1.1, q_df=1, q_p=0.29, stat=-1.9, p=0.3, status="ok",
                estimate=math.log(0.7), ci_low=math.log(0.5), ci_high=0.0,
                pi_low=math.log(0.3), pi_high=math.log(1.6), main=False)  # fmt: skip
    pooled = pd.DataFrame([
        {**base, "subgroup": "all", "method": "DL", "test": "z"},
        {**base, "subgroup": "tace", "method": "REML", "test": "knha", "k": 1, "main": True,
         "tau2": math.nan, "hr_pi_low": math.nan, "hr_pi_high": math.nan,
         "status": "k = 1: the single study's own estimate, not pooled"},
        {**base, "subgroup": "all", "method": "REML", "test": "knha", "hr": 0.6789,
         "estimate": math.log(0.6789), "main": True},
        {**base, "subgroup": "all", "method": "EB", "test": "z",
         "status": "Fisher scoring algorithm did not converge", "hr": math.nan},
    ])  # fmt: skip
    sens = {
        "leave1out": pd.DataFrame([
            {"study_id": "Kim2010", "treatment_arm": "tace", "control_arm": "ssa",
             "estimate": -0.2, "ci_lb": -0.8, "ci_ub": 0.4, "pval": 0.5, "tau2": 0.0,
             "i2": 0.0, "q": 0.0, "qp": 1.0, "status": "ok"}]),
        "influence": pd.DataFrame([
            {"study_id": "Lee2012", "treatment_arm": "resection", "control_arm": "everolimus",
             "rstudent": 1.2, "dffits": 0.8, "cook_d": 0.6, "cov_r": 1.1, "tau2_del": 0.0,
             "qe_del": 0.0, "hat": 0.4, "weight": 40.0, "inf": True, "status": "ok"}]),
        "regtest": pd.DataFrame([{"zval": math.nan, "pval": math.nan, "dfs": math.nan,
                                  "est": math.nan, "status": "too few studies (k = 2)"}]),
        "ranktest": pd.DataFrame([{"tau": 1.0, "pval": 1.0, "status": "ok"}]),
        "permutest": pd.DataFrame([{"pval": 0.5, "iter": 4, "exact": True, "status": "ok"}]),
        "subgroups": pd.DataFrame([{"subgroup": "subgroup differences", "q_between": 1.234,
                                    "df_between": 1, "p_between": 0.2667, "status": "ok"}]),
    }  # fmt: skip
    return effects, excluded, derivations, pooled, studies, arms, sens


def _weights(effects):
    """weights.csv for the effects above (95% CIs; weights need only be plausible)."""
    w = 1 / effects["vi"]
    return effects.assign(
        ci_lb=effects["yi"] - 1.96 * effects["sei"],
        ci_ub=effects["yi"] + 1.96 * effects["sei"],
        weight=100 * w / w.sum(),
    )


def _render(**over):
    effects, excluded, derivations, pooled, studies, arms, sens = _tables()
    kw = dict(
        config=CONFIG, effects=effects, excluded=excluded, derivations=derivations,
        pooled=pooled, weights=_weights(effects), studies=studies, arms=arms,
        sensitivity={"os_ld_vs_sys": sens},
        gosh={"os_ld_vs_sys": pd.DataFrame({"estimate": [-0.5, -0.2, -0.36],
                                            "i2": [0.0, 0.0, 12.0]})},
        figures={"os_ld_vs_sys": {"forest": '<svg role="img"><title>x</title></svg>'}},
        versions={"python": "3.11.7", "pandas": "2.3"},
        inputs=[("studies", "data/studies.csv", "ab" * 32)],
        config_text=config_yaml(CONFIG),
    )  # fmt: skip
    kw.update(over)
    return render_report(**kw)


def _text(html):
    """Roughly what a browser shows: tags dropped, entities kept as written."""
    return htmllib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_escapes_every_table_value_and_has_no_scripts():
    html = _render()
    assert "Kim et al. &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower()
    assert "Second &lt;b&gt;paragraph&lt;/b&gt;." in html
    assert "&lt;i&gt;more&lt;/i&gt;" in html and "G1-G2 &lt;i&gt;only&lt;/i&gt;" in html
    assert "no &lt;medians&gt;" in html
    assert '<svg role="img"><title>x</title></svg>' in html  # our own SVG, unescaped


def test_every_study_and_the_audit_trail():
    text = _text(_render())
    for sid in ("Kim2010", "Lee2012", "Park2015"):
        assert sid in text
    assert "HR 0.61 (0.41-0.90)" in text and "Table 3" in text  # as reported, source
    assert "yi = ln HR; vi = ((ln U − ln L) / (2·z))²" in text  # the method's formula
    assert "exponential survival" in text and "events from follow-up" in text
    assert "p printed as a bound" in text  # flags
    assert "yi = -0.5, vi = 0.04 (SE 0.2)" in text
    # the alternative derivation side by side, with how far the assumption moves the number
    assert "Alternative derivations of Kim2010: tace vs ssa" in text
    assert "× 1.22" in text  # exp(-0.3 - -0.5)
    assert "Not estimable by any method:" in text and "hr_ci: no reported contrast" in text
    assert "KR" in text and "doi:10.1/x" in text and "G1-G2" in text  # study table
    assert "tace: liver_directed, tace, os, n = 40 (22)" in text and "ssa: systemic" in text


def test_pooled_sensitivity_table_main_first_marked_and_failures_said():
    html = _render()
    rows = re.findall(
        r'<tr( class="main")?>\s*<th scope="row">([^<]+)</th><td>([^<]+)</td><td>(\w+)</td>', html
    )
    first = [r for r in rows if r[2].startswith(("REML", "DL", "EB"))]
    assert first[0] == (' class="main"', "random effects", "REML ★", "knha")
    assert [r[2:] for r in first[1:3]] == [("DL", "z"), ("EB", "z")]
    text = _text(html)
    assert "0.679 [0.500, 1.000]" in text and "Fisher scoring algorithm did not converge" in text
    assert "0.0012 [0.000, 2.000]" in text  # tau² with its Q-profile CI
    assert "t = -1.900, df = 1, p = 0.300" in text


def test_subgroups_tests_leave1out_influence_and_gosh():
    text = _text(_render())
    assert "Subgroups by modality" in text and "k = 1: the single study's own estimate" in text
    assert (
        "Test for subgroup differences (separate tau², univariate): Q = 1.234, df = 1, p = 0.267."
        in text
    )
    assert "Egger's regression test (predictor: SE) – – – too few studies (k = 2)" in text
    assert "Kendall's tau = 1.000" in text and "4 permutations (exact)" in text
    assert "With 2 comparisons the funnel-plot tests have little power" in text
    assert "Kim2010: tace vs ssa 0.819 [0.449, 1.492]" in text  # leave-one-out, as HR
    assert "Lee2012: resection vs everolimus 1.200" in text and " yes " in text
    assert "3 subsets of comparisons" in text and "(100% favour the treatment)" in text


def test_grade_draft_is_marked_and_follows_the_rules():
    text = _text(_render())
    assert "Certainty of the evidence (draft for reviewers)" in text
    assert "starts at low (observational studies (or a mix))" in text
    assert "not reliably assessable" in text  # 2 comparisons: no publication-bias rating
    fit = dict(k=5, i2=80.0, ci_low=-0.7, ci_high=0.3, pi_low=-1.5, pi_high=1.0)
    assert inconsistency(fit)["judgement"] == "very serious"
    assert inconsistency({**fit, "i2": 30.0, "pi_low": -0.5, "pi_high": 0.4,
                          "ci_low": -0.4})["judgement"] == "not serious"  # fmt: skip
    assert inconsistency({**fit, "i2": 30.0, "ci_high": -0.1})["judgement"] == "serious"
    assert imprecision(fit)["judgement"] == "very serious"  # 0.50-1.35: benefit and harm
    assert imprecision({**fit, "ci_low": -0.3, "ci_high": 0.1})["judgement"] == "serious"
    assert imprecision({**fit, "ci_high": -0.1})["judgement"] == "not serious"
    egger = pd.DataFrame([{"pval": 0.04, "status": "ok"}])
    assert publication_bias(12, egger)["downgrade"] == 1
    assert publication_bias(5, egger)["downgrade"] == 0
    rows = pd.DataFrame({"design": ["rct", "rct"], "risk_of_bias": ["low", "serious"],
                         "weight": [70.0, 30.0]})  # fmt: skip
    g = grade_draft(rows, {**fit, "i2": 10.0, "pi_low": -0.6, "pi_high": -0.1,
                           "ci_low": -0.5, "ci_high": -0.2})  # fmt: skip
    assert g["start"] == "high" and g["certainty"] == "high"
    g = grade_draft(rows.assign(risk_of_bias="critical"), None)
    assert g["domains"][0]["judgement"] == "very serious" and g["certainty"] == "low"


def test_methods_from_the_config_with_references_and_caveats():
    text = _text(_render())
    assert "restricted maximum likelihood (REML)" in text
    assert "Hartung-Knapp-Sidik-Jonkman method" in text
    assert "prediction interval" in text and "Q-profile" in text
    assert "hr_ci (hazard ratio with its confidence interval; 1 comparison)" in text
    assert "median_ratio (median survival and events (or follow-up) per arm; 1 comparison)" in text
    assert "DL and REML crossed with the z and knha tests" in text and "GOSH" in text
    assert "85-91% of the time" in text and "tests/harmonize/test_simulation.py" in text
    assert "few, wide intervals" in text
    assert "In this report: Lee2012 (median_ratio)." in text
    assert "DerSimonian R, Laird N." in text and "Egger M, Davey Smith G" in text
    assert "divided evenly among them" in text  # multiarm: split
    # references are numbered in order of first citation, each number once
    refs = re.findall(r'<li value="(\d+)">', _render())
    assert refs == [str(i) for i in range(1, len(refs) + 1)]


def test_provenance_without_paths_or_dates_and_deterministic():
    html = _render()
    text = _text(html)
    assert "ab" * 32 in text and "data/studies.csv" in text
    assert "python 3.11.7" in text and "pandas 2.3" in text
    assert "method: REML" in html and "- DL" in html  # the config as run
    assert not re.search(r"20\d\d-\d\d-\d\d", html)
    assert html == _render()
    assert shown_path("/home/alice/data/studies.csv") == "studies.csv"
    assert shown_path("data/studies.csv") == "data/studies.csv"


def test_self_contained_and_accessible():
    html = _render()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert "<link" not in html.lower() and "@import" not in html and "url(" not in html
    assert '<html lang="en">' in html and "@media print" in html and "@page" in html
    assert "<th>" not in html  # every header cell has a scope
    assert html.count("<table") == html.count("<caption")  # every table says what it is


def test_report_without_sensitivity_tables_still_renders():
    html = _render(sensitivity={}, gosh={}, figures={}, derivations=None, arms=None)
    text = _text(html)
    assert "Egger's regression test (predictor: SE) – – – not run" in text
    assert "not available (subgroups.csv missing)" in text
    assert "<h3>GOSH analysis</h3>" not in html


def test_figure_map_matches_analysis_ids(tmp_path):
    for name in ("a.svg", "a_funnel.svg", "a_gosh.svg", "a_b.svg", "b_funnel.svg"):
        (tmp_path / name).write_text(f"<svg>{name}</svg>")
    figs = figure_map(sorted(tmp_path.iterdir()), ["a", "a_b"])
    assert set(figs["a"]) == {"forest", "funnel", "gosh"} and set(figs["a_b"]) == {"forest"}
    assert figs["a"]["funnel"] == "<svg>a_funnel.svg</svg>"


def test_report_job_loads_neither_matplotlib_nor_pymare():
    code = (
        "import sys\n"
        "import survmeta.report.build, survmeta.report.render\n"
        "print(sorted(m for m in ('matplotlib', 'pymare', 'statsmodels') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_number_format():
    assert fmt_num(float("nan")) == "–" and fmt_num(None) == "–"
    assert fmt_num(0.5) == "0.500" and fmt_num(0.00123) == "0.00123" and fmt_num(0) == "0.000"
    assert fmt_p(0.0004) == "< 0.001" and fmt_p(0.2667) == "0.267"
    assert fmt_ci(0.7, 0.5, 1.0) == "0.700 [0.500, 1.000]"
