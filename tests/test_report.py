import math
import re

import pandas as pd

from survmeta.report.render import fmt_num, render_report

CONFIG = {
    "title": "NELM review",
    "background": "Why liver-directed therapy.\n\nSecond <b>paragraph</b>.",
    "pooling": {"method": "REML", "test": "knha", "level": 0.95},
    "analyses": [{"id": "os_ld_vs_sys", "outcome": "os", "treatment": "liver_directed",
                  "control": ["systemic", "observation"], "metric": "log_hr",
                  "subgroups": "modality"}],
}


def _tables():
    studies = pd.DataFrame({
        "study_id": ["Kim2010", "Lee2012"],
        "citation": ["Kim et al. <script>alert(1)</script>", "Lee et al."],
        "year": [2010.0, 2012.0],
        "design": ["retrospective", "rct"],
        "risk_of_bias": ["serious", "low"],
        "country": ["KR", "KR"],
    })
    effects = pd.DataFrame({
        "analysis_id": ["os_ld_vs_sys"] * 2,
        "study_id": ["Kim2010", "Lee2012"],
        "treatment_arm": ["tace", "resection"],
        "control_arm": ["ssa", "everolimus"],
        "yi": [-0.5, -0.2], "vi": [0.04, 0.09], "sei": [0.2, 0.3],
        "metric": ["log_hr"] * 2,
        "source_method": ["hr_ci", "median_ratio"],
        "assumptions": [None, "exponential survival"],
        "reported": ["HR 0.61 (0.41-0.90)", "median 30 vs 24 mo"],
        "source": ["Table 3", "abstract"],
        "quote": ['"HR 0.61" & <i>more</i>', math.nan],
    })
    excluded = pd.DataFrame({
        "study_id": ["Park2015"], "outcome": ["os"], "treatment_arm": ["sirt"],
        "control_arm": ["prrt"], "reason": ["no dispersion reported"],
    })
    base = dict(analysis_id="os_ld_vs_sys", k=2, hr=0.7, hr_ci_low=0.5, hr_ci_high=1.0,
                hr_pi_low=0.3, hr_pi_high=1.6, tau2=0.0012, i2=12.0, q=1.1, q_df=1,
                q_p=0.29, status="ok")
    pooled = pd.DataFrame([
        {**base, "subgroup": "all", "method": "DL", "test": "z"},
        {**base, "subgroup": "tace", "method": "REML", "test": "knha", "k": 1,
         "tau2": math.nan, "hr_pi_low": math.nan, "hr_pi_high": math.nan},
        {**base, "subgroup": "all", "method": "REML", "test": "knha", "hr": 0.6789},
    ])
    return effects, excluded, pooled, studies


def _render(figures=None, inputs=None):
    effects, excluded, pooled, studies = _tables()
    return render_report(effects, excluded, pooled, studies, CONFIG,
                         figures or {"os_ld_vs_sys": '<svg role="img"><title>x</title></svg>'},
                         {"survmeta": "0.1.0", "pandas": "2.3"},
                         inputs or {"studies.csv": "ab" * 32})


def test_escapes_and_no_scripts():
    html = _render()
    assert "Kim et al. &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower()
    assert "Second &lt;b&gt;paragraph&lt;/b&gt;." in html
    assert "&lt;i&gt;more&lt;/i&gt;" in html
    assert '<svg role="img"><title>x</title></svg>' in html  # our own SVG, unescaped


def test_content_complete():
    html = _render()
    for sid in ("Kim2010", "Lee2012", "Park2015"):
        assert sid in html
    assert "no dispersion reported" in html and "sirt" in html and "prrt" in html
    assert "exponential survival" in html and "HR 0.61 (0.41-0.90)" in html
    assert "KR" in html and ">2010<" in html  # extra study columns kept, year as integer
    assert "liver_directed vs control systemic / observation" in html
    assert '<th scope="col">' in html and "<th>" not in html


def test_main_row_first_and_highlighted():
    html = _render()
    rows = re.findall(r"<tr( class=\"main\")?>\s*<td>(\w+)</td><td>(\w+)</td><td>(\w+)</td>", html)
    assert rows[0] == (' class="main"', "all", "REML", "knha")
    assert rows[1][1:] == ("all", "DL", "z") and rows[2][1:] == ("tace", "REML", "knha")
    assert html.count('class="main"') == 1
    assert "0.679 [0.500, 1.000]" in html


def test_self_contained_no_paths():
    html = _render(inputs={"/home/alice/data/studies.csv": "cd" * 32})
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert "<link" not in html.lower() and "/home/alice" not in html
    assert "studies.csv" in html and "cd" * 32 in html


def test_number_format():
    assert fmt_num(float("nan")) == "–" and fmt_num(None) == "–"
    assert fmt_num(0.5) == "0.500" and fmt_num(0.00123) == "0.00123" and fmt_num(0) == "0.000"
