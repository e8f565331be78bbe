"""Funnel and GOSH plots, the figure data helpers and the figures job's imports."""

import math
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from survmeta.figures.bayes_plot import bayes_tau_svg
from survmeta.figures.data import (
    between_test,
    class_label,
    gosh_tables,
    main_rows,
    prior_label,
    sensitivity_tables,
    status_ok,
    tau_curves,
)
from survmeta.figures.funnel import begg_text, egger_text, funnel_svg, trimfill_text
from survmeta.figures.gosh_plot import MAX_POINTS, gosh_svg
from survmeta.figures.plots import all_figures, analysis_figures

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
    assert egger_text(declined) == "Egger's regression test: not available (too few studies)"
    assert begg_text(None) == "Begg's rank correlation test: not available (not run)"
    assert trimfill_text(declined).endswith("(too few studies)")
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
    # events come from effects.csv (events_t, events_c), never from the input arms table
    eff = _effects().assign(events_t=[12.0, np.nan, np.nan, np.nan, np.nan], events_c=np.nan)
    arms = pd.DataFrame({"study_id": ["S0", "S0"], "arm_id": ["t", "c"], "outcome": ["os"] * 2,
                         "events": ["99", "98"]})  # fmt: skip
    a = {"id": "a", "title": "Analysis A", "treatment": "liver_directed",
         "control": ["systemic", "observation"], "subgroups": "modality"}  # fmt: skip
    gosh = pd.DataFrame({"estimate": [-0.4, -0.2], "i2": [10.0, 0.0]})
    figs = analysis_figures(a, _results(eff, arms=arms, sensitivity={"a": SENS}, gosh={"a": gosh}))
    assert set(figs) == {"forest", "funnel", "gosh"}
    texts = _texts(figs["forest"])
    assert "12/40" in texts and "–/41" in texts and "99/40" not in texts
    assert "favours liver-directed" in texts and "favours systemic / observation" in texts
    assert "Test for subgroup differences: Q = 0.50, df = 1 (p = 0.480)" in texts
    assert "Subtotal (k = 3)" in texts and "Subtotal (k = 2)" in texts  # no k_studies
    assert set(analysis_figures(a, _results(eff))) == {"forest", "funnel"}


def test_data_helpers(tmp_path):
    assert class_label(["liver_directed", "combined"]) == "liver-directed / combined"
    assert set(main_rows(_pooled(), "a")) == {"all", "sirt", "tace"}
    assert between_test(SENS["subgroups"])["q_between"] == 0.5 and between_test(None) is None
    assert status_ok(None) == (False, "not run")
    assert status_ok(pd.DataFrame([{"status": "k = 1"}])) == (False, "k = 1")
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


def test_text_layer_places_text_where_matplotlib_would():
    """The forest plot's cells go through TextLayer; each must be the <text> element that
    fig.text(...) gives (same style, same anchor, same baseline), for plain and awkward
    text: glyphs above the font's ascender (É, Å) or below its descender, bold, italic."""
    import re

    from survmeta.figures.svg import TextLayer, figure, to_svg

    cases = [
        ("Study", "left", "center", 9, "normal", "normal", "#111111"),
        ("Éclair |_ ÅÖ", "right", "center", 9, "bold", "normal", "#111111"),
        ("– 0.62 [0.45, 0.85]", "center", "top", 8.5, "normal", "italic", "#595959"),
        ("τ² σ²(study) † ≈5/58", "left", "center", 8, "normal", "normal", "#8b1a1a"),
        ("office fi ffl", "right", "top", 9, "bold", "italic", "#111111"),
        ('a$x$ id="q" <b>&', "left", "center", 9, "normal", "normal", "#111111"),
        ("ÅÅ", "left", "baseline", 9, "normal", "normal", "#111111"),
    ]
    w, h = 4.0, 3.3
    with figure(w, h) as fig:
        for i, (s, ha, va, size, weight, style, color) in enumerate(cases):
            fig.text((0.5 + 0.1 * i) / w, 1 - (0.3 + 0.3 * i) / h, s, ha=ha, va=va,
                     fontsize=size, weight=weight, style=style, color=color,
                     parse_math=False)  # fmt: skip
        ref = to_svg(fig, "t")
    with figure(w, h) as fig:
        layer = TextLayer(h)
        for i, (s, ha, va, size, weight, style, color) in enumerate(cases):
            layer.add(0.5 + 0.1 * i, 0.3 + 0.3 * i, s, ha=ha, va=va, size=size, weight=weight,
                      style=style, color=color)  # fmt: skip
        layer.add(1, 1, "")  # matplotlib writes nothing for an empty text, nor does the layer
        ours = to_svg(fig, "t", layer=layer)
    pattern = r'<text style="([^"]*)" x="([^"]*)" y="([^"]*)"[^>]*>([^<]*)</text>'
    a, b = re.findall(pattern, ref), re.findall(pattern, ours)
    assert len(a) == len(b) == len(cases)
    for (sa, xa, ya, ta), (sb, xb, yb, tb) in zip(a, b, strict=True):
        assert (sa, ta) == (sb, tb)
        assert float(xa) == pytest.approx(float(xb), abs=1e-5)
        assert float(ya) == pytest.approx(float(yb), abs=1e-5)
    assert ET.fromstring(ours) is not None  # escaped: still well-formed XML
    with pytest.raises(ValueError, match="one-line"):
        TextLayer(1).add(0, 0, "two\nlines")


def test_funnel_of_rmst_differences_reads_in_months():
    eff = _effects()
    sens = {**SENS, "trimfill": SENS["trimfill"].assign(estimate=2.04, ci_lb=-0.44, ci_ub=4.5)}
    svg = funnel_svg(eff, _pooled().iloc[0].to_dict(), "f", metric="rmst_diff",
                     trimfill=sens["trimfill"], filled=SENS["trimfill_filled"],
                     regtest=SENS["regtest"], ranktest=SENS["ranktest"])  # fmt: skip
    texts = _texts(svg)
    assert "RMST difference (months)" in texts and "Hazard ratio (log scale)" not in texts
    assert "Egger's regression test: t = -2.10, df = 3 (p = 0.120); limit estimate RMST " \
           "difference 0.1 [-0.5, 0.6] months" in texts  # fmt: skip
    assert "Trim-and-fill: 2 studies imputed on the right side; adjusted RMST difference " \
           "2.0 [-0.4, 4.5] months" in texts  # fmt: skip
    gosh = gosh_svg(pd.DataFrame({"estimate": [0.5, 1.5], "i2": [0.0, 20.0]}), "g",
                    metric="rmst_diff")  # fmt: skip
    assert "RMST difference (months)" in _texts(gosh)
    assert "Estimates range from 0.5 to 1.5 months" in ET.fromstring(gosh)[1].text


def _tau_tables(scale_column=False):
    """bayes_tau.csv as pool.bayes_tables writes it: one grid per prior, each from 0; and
    bayes.csv's rows (subgroup all) in the same order."""
    grid1, grid2 = np.linspace(0, 1.2, 7), np.linspace(0, 2.0, 5)
    tau = pd.DataFrame({
        "analysis_id": ["a"] * 12 + ["b"] * 7,
        "prior": ["halfnormal"] * 7 + ["halfcauchy"] * 5 + ["halfnormal"] * 7,
        "tau": [*grid1, *grid2, *grid1],
        "density": [*np.exp(-grid1), *(1 / (1 + grid2**2)), *np.exp(-grid1)],
    })  # fmt: skip
    if scale_column:
        tau["scale"] = [0.5] * 7 + [1.0] * 5 + [0.5] * 7
    bayes = pd.DataFrame({
        "analysis_id": ["a", "a", "a", "a", "b"],
        "subgroup": ["all", "tace", "all", "tace", "all"],
        "prior": ["halfnormal", "halfnormal", "halfcauchy", "halfcauchy", "halfnormal"],
        "scale": [0.5, 0.5, 1.0, 1.0, 0.5],
        "tau_median": [0.21, 0.3, 0.25, 0.3, 0.1],
        "tau_ci_low": [0.01, 0.0, 0.01, 0.0, 0.0],
        "tau_ci_high": [0.8, 0.9, 1.3, 0.9, 0.5],
    })  # fmt: skip
    return tau, bayes


def test_tau_curves_one_per_prior_named_with_its_scale():
    assert prior_label("halfnormal", 0.5) == "half-normal(0.5)"
    assert prior_label("halfcauchy", 1.0) == "half-Cauchy(1)"
    assert prior_label("uniform", 2) == "uniform(0, 2)"
    assert prior_label("halfnormal", None) == "half-normal"
    tau, bayes = _tau_tables()
    curves = tau_curves(tau, bayes, "a")
    assert [c.label for c in curves] == ["half-normal(0.5)", "half-Cauchy(1)"]
    assert [len(c.tau) for c in curves] == [7, 5] and curves[1].tau[-1] == 2.0
    assert curves[0].summary["tau_median"] == 0.21  # subgroup all, not tace
    assert [c.label for c in tau_curves(tau, None, "a")] == ["half-normal", "half-Cauchy"]
    with_scale, _ = _tau_tables(scale_column=True)
    assert [c.label for c in tau_curves(with_scale, None, "a")] == [
        "half-normal(0.5)", "half-Cauchy(1)"
    ]  # fmt: skip
    # bayes.csv out of step with bayes_tau.csv: no scale rather than a wrong one
    assert tau_curves(tau, bayes.iloc[::-1], "a")[0].label == "half-normal"
    assert tau_curves(tau, bayes, "zzz") == [] and tau_curves(None, bayes, "a") == []


def test_bayes_tau_plot_draws_one_line_per_prior():
    tau, bayes = _tau_tables()
    curves = tau_curves(tau, bayes, "a")
    svg = bayes_tau_svg(curves, "Posterior of τ <a>", key="a/bayes_tau")
    root = ET.fromstring(svg)
    assert root.get("width") == "230.4pt" and root.get("height") == "129.6pt"  # 3.2 x 1.8 in
    assert root[0].text == "Posterior of τ <a>" and root.get("role") == "img"
    assert root[1].text == (
        "Posterior density of τ under 2 priors: half-normal(0.5): posterior median τ = 0.210, "
        "interval 0.01 to 0.800; half-Cauchy(1): posterior median τ = 0.250, interval 0.01 "
        "to 1.300."
    )
    texts = _texts(svg)
    assert {"half-normal(0.5)", "half-Cauchy(1)", "Prior on τ", "Posterior density"} <= set(texts)
    assert "τ (between-study SD, log scale of the effect)" in texts
    # two curves, each through every grid point (7 and 5), plus the two legend samples
    lines = [p.get("d") for p in root.iter(f"{SVG}path") if p.get("d", "").count("L") in (4, 6)]
    assert sorted(d.count("L") for d in lines) == [4, 6]
    assert svg == bayes_tau_svg(curves, "Posterior of τ <a>", key="a/bayes_tau")
    months = _texts(bayes_tau_svg(curves, "t", metric="rmst_diff"))
    assert "τ (months)" in months
    assert "No posterior of τ" in _texts(bayes_tau_svg([], "t"))


def _km_results():
    """Study S0 (arms t, c) reconstructed from digitized curves, S1 not."""
    patients = pd.DataFrame({
        "study_id": "S0", "outcome": "os", "arm_id": ["t"] * 4 + ["c"] * 4,
        "time_months": [2, 3, 5, 8, 1, 2, 4, 6], "event": [1, 0, 1, 0, 1, 1, 1, 0],
    })  # fmt: skip
    points = pd.DataFrame({
        "study_id": "S0", "outcome": "os", "arm_id": ["t", "t", "c", "c"],
        "time_months": [0, 2, 0, 1], "surv_prop": [1, 0.75, 1, 0.75],
    })  # fmt: skip
    at_risk = pd.DataFrame({"study_id": "S0", "outcome": "os", "arm_id": ["t", "c"],
                            "time_months": [0, 0], "n_at_risk": [4, 4]})  # fmt: skip
    eff = _effects(2).assign(ph_p=[0.031, np.nan])
    return _results(eff, reconstructed=patients, km_points=points, km_at_risk=at_risk)


def test_analysis_figures_add_the_posterior_of_tau_and_the_reconstructed_curves():
    a = {"id": "a", "title": "A", "treatment": "t", "control": "c"}
    tau, bayes = _tau_tables()
    res = {**_km_results(), "bayes_tau": tau, "bayes": bayes}
    figs = analysis_figures(a, res)
    assert set(figs) == {"forest", "funnel", "bayes_tau", "km"}
    assert {"half-normal(0.5)", "half-Cauchy(1)"} <= set(_texts(figs["bayes_tau"]))
    assert set(figs["km"]) == {"S0"}  # S1 has no reconstructed patients
    km = figs["km"]["S0"]
    assert "Grambsch-Therneau test of proportional hazards: p = 0.031 (below 0.05: the " \
           "hazards may not be proportional)" in _texts(km)  # fmt: skip
    assert "t: 4 patients rebuilt, 2 events, 2 digitized points" in ET.fromstring(km)[1].text
    assert "S0 †" in _texts(figs["forest"])
    # absent (or None) results mean none: no posterior, no curves
    plain = analysis_figures(a, {**_results(_effects(2)), "reconstructed": None})
    assert set(plain) == {"forest", "funnel"}
    # the same study under two analyses: the same picture, ids unique on the page
    b = {**a, "id": "b"}
    res_b = {**res, "effects": pd.concat([res["effects"], res["effects"].assign(analysis_id="b")])}
    ids = [{e.get("id") for e in ET.fromstring(analysis_figures(x, res_b)["km"]["S0"]).iter()
            if e.get("id")} for x in (a, b)]  # fmt: skip
    assert ids[0] and not ids[0] & ids[1]


def test_all_figures_in_parallel_equal_one_process():
    analyses = [{"id": i, "title": i, "treatment": "t", "control": "c"} for i in "abc"]
    res = _km_results()
    eff = res["effects"]
    res["effects"] = pd.concat([eff.assign(analysis_id=i) for i in "abc"], ignore_index=True)
    res["weights"] = _weights(res["effects"])
    res["pooled"] = pd.concat([_pooled().assign(analysis_id=i) for i in "abc"])
    res["bayes_tau"], res["bayes"] = _tau_tables()
    one = all_figures(analyses, res, 0.95, workers=1)
    two = all_figures(analyses, res, 0.95, workers=2)
    assert one == two
    # S0 is drawn once and shown under each analysis with its own ids: the same bytes as
    # drawing it afresh for that analysis
    fresh = analysis_figures(analyses[2], res)["km"]["S0"]
    assert one["c"]["km"]["S0"] == fresh != one["a"]["km"]["S0"]
    assert set(one["a"]) == {"forest", "funnel", "bayes_tau", "km"} and set(one["c"]["km"]) == {
        "S0"
    }
    assert set(one["c"]) == {"forest", "funnel", "km"}  # bayes_tau.csv has no "c"
