"""Funnel and GOSH plots, the figure data helpers and the figures job's imports."""

import math
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd

from survmeta.figures.data import (
    arm_events,
    between_test,
    class_label,
    gosh_tables,
    main_rows,
    sensitivity_tables,
    status_ok,
)
from survmeta.figures.funnel import begg_text, egger_text, funnel_svg, trimfill_text
from survmeta.figures.gosh_plot import MAX_POINTS, gosh_svg
from survmeta.figures.plots import analysis_figures

SVG = "{http://www.w3.org/2000/svg}"


def _texts(svg):
    return ["".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{SVG}text")]


def _effects(k=5):
    return pd.DataFrame(
        {
            "analysis_id": ["a"] * k,
            "study_id": [f"S{i}" for i in range(k)],
            "treatment_arm": ["t"] * k,
            "control_arm": ["c"] * k,
            "outcome": ["os"] * k,
            "modality": ["tace", "tace", "sirt", "sirt", "tace"][:k],
            "yi": np.linspace(-0.8, 0.1, k),
            "vi": np.linspace(0.02, 0.2, k),
            "sei": np.sqrt(np.linspace(0.02, 0.2, k)),
            "n_treatment": [40] * k,
            "n_control": [41] * k,
            "year": list(range(2001, 2001 + k)),
            "source_method": ["hr_ci"] * k,
        }
    )


def _weights(eff):
    """weights.csv for _effects(): 95% CIs and equal-ish weights (values only need to be
    plausible for drawing)."""
    w = 1 / eff["vi"]
    return eff.assign(
        ci_lb=eff["yi"] - 1.96 * eff["sei"], ci_ub=eff["yi"] + 1.96 * eff["sei"],
        weight=100 * w / w.sum(),
    )  # fmt: skip


def _results(eff=None, pooled=None, **extra):
    eff = _effects() if eff is None else eff
    pooled = _pooled() if pooled is None else pooled
    return {"effects": eff, "pooled": pooled, "weights": _weights(eff), **extra}


def _pooled():
    base = dict(analysis_id="a", method="REML", test="knha", main=True, k=5, estimate=-0.4,
                se=0.1, ci_low=-0.6, ci_high=-0.2, pi_low=-0.9, pi_high=0.1, tau2=0.01,
                i2=20.0, q=5.0, q_df=4, q_p=0.29, stat=-4.0, p=0.016, status="ok")  # fmt: skip
    return pd.DataFrame(
        [
            {**base, "subgroup": "all"},
            {**base, "subgroup": "all", "method": "DL", "test": "z", "main": False},
            {**base, "subgroup": "sirt", "k": 2},
            {**base, "subgroup": "tace", "k": 3},
        ]
    )


SENS = {
    "regtest": pd.DataFrame([{"zval": -2.1, "pval": 0.12, "dfs": 3, "est": 0.05,
                              "ci_lb": -0.5, "ci_ub": 0.6, "status": "ok"}]),
    "ranktest": pd.DataFrame([{"tau": -0.4, "pval": 0.48, "status": "ok"}]),
    "trimfill": pd.DataFrame([{"k0": 2, "side": "right", "estimate": -0.3, "se": 0.1,
                               "ci_lb": -0.5, "ci_ub": -0.1, "tau2": 0.0, "status": "ok"}]),
    "trimfill_filled": pd.DataFrame({"yi": [0.1, 0.3], "vi": [0.1, 0.15], "sei": [0.32, 0.39],
                                     "status": ["ok", "ok"]}),
    "subgroups": pd.DataFrame([
        {"subgroup": "sirt", "k": 2, "estimate": -0.3, "se": 0.2},
        {"subgroup": "tace", "k": 3, "estimate": -0.5, "se": 0.2},
        {"subgroup": "subgroup differences", "k": 5, "q_between": 0.5, "df_between": 1,
         "p_between": 0.48, "status": "ok"},
    ]),
}  # fmt: skip


def test_funnel_marks_filled_studies_and_prints_the_tests():
    svg = funnel_svg(_effects(), _pooled().iloc[0].to_dict(), "Funnel <a>", trimfill=SENS[
        "trimfill"], filled=SENS["trimfill_filled"], regtest=SENS["regtest"],
        ranktest=SENS["ranktest"])  # fmt: skip
    root = ET.fromstring(svg)
    assert root.get("role") == "img" and root[0].text == "Funnel <a>"
    assert root[1].tag == f"{SVG}desc" and "with 2 filled by trim-and-fill" in root[1].text
    texts = _texts(svg)
    assert "Egger's regression test: t = -2.10, df = 3 (p = 0.120); limit estimate HR 1.05 " \
           "[0.61, 1.82]" in texts  # fmt: skip
    assert "Begg's rank correlation test: Kendall's tau = -0.400 (p = 0.480)" in texts
    assert "Trim-and-fill: 2 studies imputed on the right side; adjusted HR 0.74 [0.61, 0.90]" \
        in texts  # fmt: skip
    assert {"Filled (trim-and-fill)", "Study", "Pseudo 95% CI", "p < 0.01"} <= set(texts)
    assert "Standard error" in texts and "Hazard ratio (log scale)" in texts
    assert svg == funnel_svg(_effects(), _pooled().iloc[0].to_dict(), "Funnel <a>",
                             trimfill=SENS["trimfill"], filled=SENS["trimfill_filled"],
                             regtest=SENS["regtest"], ranktest=SENS["ranktest"])  # fmt: skip


def test_funnel_says_why_a_test_is_missing():
    declined = pd.DataFrame([{"zval": math.nan, "pval": math.nan, "status": "too few studies"}])
    assert egger_text(declined, "HR") == "Egger's regression test: not available (too few studies)"
    assert begg_text(None) == "Begg's rank correlation test: not available (not run)"
    assert trimfill_text(declined, "HR").endswith("(too few studies)")
    svg = funnel_svg(_effects(2), None, "f", metric="log_mr", regtest=declined)
    texts = _texts(svg)
    assert "Ratio of medians (log scale)" in texts
    assert "Egger's regression test: not available (too few studies)" in texts


def test_gosh_points_or_density_and_the_full_fit():
    rng = np.random.default_rng(1)
    few = pd.DataFrame({"estimate": rng.normal(-0.3, 0.2, 50), "i2": rng.uniform(0, 90, 50)})
    svg = gosh_svg(few, "GOSH", full={"estimate": -0.3, "i2": 40.0})
    texts = _texts(svg)
    assert {"Subset", "All studies", "I² (%)", "Hazard ratio (log scale)"} <= set(texts)
    assert "GOSH plot of 50 subsets" in ET.fromstring(svg)[1].text
    many = pd.DataFrame({"estimate": rng.normal(-0.3, 0.2, MAX_POINTS + 1),
                         "i2": rng.uniform(0, 90, MAX_POINTS + 1)})  # fmt: skip
    dense = gosh_svg(many, "GOSH")
    assert "Subsets (density)" in _texts(dense)
    assert len(dense) < 400_000  # binned, not one element per subset
    assert dense == gosh_svg(many, "GOSH")


def test_analysis_figures_with_subgroups_and_events():
    eff = _effects()
    arms = pd.DataFrame({"study_id": ["S0", "S0"], "arm_id": ["t", "c"], "outcome": ["os"] * 2,
                         "events": ["12", ""]})  # fmt: skip
    a = {"id": "a", "title": "Analysis A", "treatment": "liver_directed",
         "control": ["systemic", "observation"], "subgroups": "modality"}  # fmt: skip
    gosh = pd.DataFrame({"estimate": [-0.4, -0.2], "i2": [10.0, 0.0]})
    figs = analysis_figures(a, _results(eff, arms=arms, sensitivity={"a": SENS}, gosh={"a": gosh}))
    assert set(figs) == {"forest", "funnel", "gosh"}
    texts = _texts(figs["forest"])
    assert "12/40" in texts and "–/41" in texts
    assert "favours liver-directed" in texts and "favours systemic / observation" in texts
    assert "Test for subgroup differences: Q = 0.50, df = 1 (p = 0.480)" in texts
    assert "Subtotal (k = 3)" in texts and "Subtotal (k = 2)" in texts
    assert set(analysis_figures(a, _results(eff))) == {"forest", "funnel"}


def test_data_helpers(tmp_path):
    assert class_label(["liver_directed", "combined"]) == "liver-directed / combined"
    assert set(main_rows(_pooled(), "a")) == {"all", "sirt", "tace"}
    assert between_test(SENS["subgroups"])["q_between"] == 0.5 and between_test(None) is None
    assert status_ok(None) == (False, "not run")
    assert status_ok(pd.DataFrame([{"status": "k = 1"}])) == (False, "k = 1")
    ev = arm_events(
        _effects(1),
        pd.DataFrame({"study_id": ["S0"], "arm_id": ["c"], "outcome": ["os"], "events": ["7"]}),
    )
    assert ev["events_control"].tolist() == [7.0] and math.isnan(ev["events_treatment"][0])
    for name in ("leave1out", "regtest", "notatable"):
        d = tmp_path / "sensitivity" / "a1"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{name}.csv").write_text("pval,status\n0.5,ok\n")
    (tmp_path / "a1.csv").write_text("estimate,i2\n0.1,2\n")
    tabs = sensitivity_tables(sorted((tmp_path / "sensitivity" / "a1").iterdir()))
    assert set(tabs["a1"]) == {"leave1out", "regtest"}
    assert set(gosh_tables([tmp_path / "a1.csv"], ["a1", "b"])) == {"a1"}


def test_figures_job_loads_neither_pymare_nor_statsmodels():
    code = (
        "import sys, pandas as pd\n"
        "sys.path.insert(0, 'tests')\n"
        "from test_figures import _results, SENS\n"
        "from survmeta.figures.plots import analysis_figures\n"
        "analysis_figures({'id': 'a', 'treatment': 't', 'control': 'c', 'subgroups': 'modality'},"
        " _results(sensitivity={'a': SENS}, gosh={'a': pd.DataFrame({'estimate': [0.1],"
        " 'i2': [0.0]})}))\n"
        "print(sorted(m for m in ('pymare', 'statsmodels') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=__file__.rsplit("/tests/", 1)[0])  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
