import math
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from survmeta.figures.forest import (
    ESTIMATED_NOTE,
    PH_NOTE,
    between_text,
    events_n,
    events_text,
    forest_svg,
    het_text,
    k_text,
    model_text,
    overall_test_text,
)

SVG = "{http://www.w3.org/2000/svg}"


def _effects(n=3, groups=None):
    df = pd.DataFrame(
        {
            "study_id": [f"Study{i}" for i in range(n)],
            "treatment_arm": ["tace"] * n,
            "control_arm": ["ssa"] * n,
            "yi": [-0.4 + 0.2 * i for i in range(n)],
            "vi": [0.04] * n,
            "sei": [0.2] * n,
            "weight": [100 / n] * n,
            "n_treatment": [50] * n,
            "n_control": [60] * n,
            "events_t": [20] + [math.nan] * (n - 1),
            "events_c": [30] + [math.nan] * (n - 1),
            "year": [2000 + n - i for i in range(n)],
            "source_method": ["hr_ci"] * n,
        }
    )
    df["ci_lb"] = df["yi"] - 1.96 * df["sei"]  # as weights.csv holds them
    df["ci_ub"] = df["yi"] + 1.96 * df["sei"]
    if groups:
        df["modality"] = groups
    return df


POOLED = dict(
    estimate=-0.2,
    ci_low=-0.5,
    ci_high=0.1,
    pi_low=-0.9,
    pi_high=0.5,
    tau2=0.02,
    i2=35.2,
    q=3.1,
    q_df=2,
    q_p=0.21,
    stat=-1.5,
    df=2,
    p=0.27,
    method="REML",
    test="knha",
    k=3,
    k_studies=3,
    model="rma.uni",
)


def _texts(root):
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def _all_text(root):
    return "\n".join(_texts(root))


def test_svg_parses_with_title_desc_and_labels():
    pooled = {**POOLED, "k": 3.0}  # k arrives as float from a DataFrame row
    svg = forest_svg(_effects(), pooled, "OS <all> & more", "liver-directed", "systemic")
    assert not svg.startswith("<?xml") and "<!DOCTYPE" not in svg
    root = ET.fromstring(svg)
    assert root.get("role") == "img" and root.get("aria-label") == "OS <all> & more"
    assert root[0].tag == f"{SVG}title" and root[0].text == "OS <all> & more"
    assert root[1].tag == f"{SVG}desc" and "Pooled HR 0.82 [0.61, 1.11]" in root[1].text
    texts = _texts(root)
    for i in range(3):
        assert f"Study{i}" in texts
    assert {"tace", "ssa", "Treatment", "Control", "Events/N", "Weight"} <= set(texts)
    assert "20/50" in texts and "30/60" in texts and "–/50" in texts  # events when known
    assert "0.67 [0.45, 0.99]" in texts and "33.3%" in texts  # study CI as text, weight
    assert "Hazard ratio (log scale)" in texts
    assert "favours liver-directed" in texts and "favours systemic" in texts
    assert "Heterogeneity: tau² = 0.0200; Q = 3.10, df = 2 (p = 0.210); I² = 35.2%" in texts
    assert "Test for overall effect: t = -1.50, df = 2 (p = 0.270)" in texts
    assert "Total (k = 3 studies)" in texts
    assert "Random effects (REML), Hartung-Knapp test" in texts
    assert "Prediction interval (95%)" in texts and "[0.41, 1.65]" in texts


def test_studies_in_year_order():
    texts = _texts(ET.fromstring(forest_svg(_effects(), POOLED, "t", "A", "B")))
    order = [t for t in texts if t.startswith("Study") and t != "Study"]
    assert order == ["Study2", "Study1", "Study0"]  # years 2001, 2002, 2003


def test_subgroup_blocks_with_diamonds_and_the_test_for_differences():
    eff = _effects(3, groups=["tace", "resection", "tace"])
    sub = {
        "tace": {**POOLED, "k": 2, "k_studies": 2, "estimate": -0.1, "q": 0.5, "q_df": 1,
                 "q_p": 0.48, "i2": 0.0, "tau2": 0.0},
        "resection": {**POOLED, "k": 1, "k_studies": 1, "estimate": -0.2, "ci_low": -0.6,
                      "ci_high": 0.2, "q": math.nan},
    }  # fmt: skip
    between = {"subgroup": "subgroup differences", "q_between": 0.25, "df_between": 1,
               "p_between": 0.617}  # fmt: skip
    root = ET.fromstring(
        forest_svg(eff, POOLED, "t", "A", "B", subgroup_by="modality", subgroup_rows=sub,
                   between=between)
    )  # fmt: skip
    texts = _texts(root)
    assert "modality: resection" in texts and "modality: tace" in texts
    assert texts.index("modality: resection") < texts.index("modality: tace")
    assert "Subtotal (k = 2 studies)" in texts and "Subtotal (k = 1 study)" in texts
    assert "Heterogeneity: not applicable (k = 1)" in texts
    assert "Heterogeneity: tau² = 0.0000; Q = 0.50, df = 1 (p = 0.480); I² = 0.0%" in texts
    assert "Test for subgroup differences: Q = 0.25, df = 1 (p = 0.617)" in texts
    assert "66.7%" in texts  # the tace block's share of the weight
    # a black diamond per subgroup, a red one overall: closed 4-point patches
    diamonds = [p.get("style", "") for p in root.iter(f"{SVG}path")
                if p.get("d", "").count("L") == 3 and "z" in p.get("d", "")]  # fmt: skip
    assert sum("fill: #111111" in s for s in diamonds) == 2
    assert sum("fill: #8b1a1a" in s for s in diamonds) == 1


def test_between_text_reports_why_when_missing():
    assert between_text(None) == "Test for subgroup differences: not available"
    why = between_text({"q_between": math.nan, "status": "fewer than 2 subgroups"})
    assert why.endswith("(fewer than 2 subgroups)")


def test_small_helpers():
    assert events_n(12.0, 58) == "12/58" and events_n(None, 58) == "–/58"
    assert events_text(12.0, 58) == "12/58" and events_text(None, 58) == "–/58"
    assert events_text(5.448485, 58) == "≈5/58" and events_text(90.516912, 316) == "≈91/316"
    assert events_text(3, None) == "–"
    assert het_text(None) == ""
    assert het_text({"k": 1, "q": 0}) == "Heterogeneity: not applicable (k = 1)"
    assert k_text(4, 2) == "k = 4 comparisons, 2 studies"
    assert k_text(3.0, 3.0) == "k = 3 studies" and k_text(1, 1) == "k = 1 study"
    assert k_text(3, None) == "k = 3" and k_text(3, math.nan) == "k = 3"


def test_the_test_line_takes_its_statistic_and_df_from_the_pooled_row():
    row = dict(stat=-2.1, p=0.2)
    # t and adhoc rows (rma.uni) exist beside knha; df comes from the df column
    assert overall_test_text({**row, "test": "t", "df": 4.0}) == (
        "Test for overall effect: t = -2.10, df = 4 (p = 0.200)"
    )
    assert overall_test_text({**row, "test": "adhoc", "df": 2}).startswith(
        "Test for overall effect: t = -2.10, df = 2 "
    )
    # CR2: the cluster-robust t with Satterthwaite df (fractional)
    assert overall_test_text({**row, "test": "cr2", "df": 1.3712}) == (
        "Test for overall effect: robust t = -2.10, df = 1.37 (p = 0.200)"
    )
    assert overall_test_text({**row, "test": "z", "df": math.nan}) == (
        "Test for overall effect: z = -2.10 (p = 0.200)"
    )
    # a t row whose df is missing still says t, without a df it does not have
    assert overall_test_text({**row, "test": "knha"}) == (
        "Test for overall effect: t = -2.10 (p = 0.200)"
    )
    assert overall_test_text(None) == "" and overall_test_text({"stat": math.nan}) == ""
    assert model_text({"method": "REML", "test": "knha", "model": "rma.uni"}) == (
        "Random effects (REML), Hartung-Knapp test"
    )
    assert model_text({"method": "ML", "test": "cr2", "model": "rma.mv"}) == (
        "Multilevel random effects (ML; comparisons within studies), cluster-robust (CR2) "
        "t test by study"
    )


def test_deterministic_and_no_metadata():
    a = forest_svg(_effects(), POOLED, "t", "A", "B")
    assert a == forest_svg(_effects(), POOLED, "t", "A", "B")
    assert "Matplotlib v" not in a and "<dc:date>" not in a


def test_height_scales_with_rows():
    h = [
        float(ET.fromstring(forest_svg(_effects(n), POOLED, "t", "A", "B")).get("height")[:-2])
        for n in (2, 10)
    ]
    assert h[1] > h[0]


def test_axis_symmetric_and_out_of_range_clipped_with_arrow():
    eff = _effects(2)
    eff.loc[0, ["yi", "sei", "ci_lb", "ci_ub"]] = [-6.0, 0.5, -6.98, -5.02]  # beyond 0.01-100
    root = ET.fromstring(forest_svg(eff, POOLED, "t", "A", "B"))
    texts = _texts(root)
    assert "0.01" in texts and "100" in texts and "1" in texts


@pytest.mark.parametrize("pooled", [None, dict.fromkeys(POOLED, float("nan"))])
def test_single_study_and_missing_values(pooled):
    eff = _effects(1)
    eff.loc[0, "weight"] = math.nan
    root = ET.fromstring(forest_svg(eff, pooled, "t", "A", "B", metric="log_mr"))
    texts = _texts(root)
    assert "Ratio of medians (log scale)" in texts
    assert any(t.startswith("No pooled estimate") for t in texts)
    # log_mr: a ratio > 1 favours treatment, so treatment's label sits right of 1.
    xs = {t: float(e.get("x")) for e in root.iter(f"{SVG}text") if (t := "".join(e.itertext()))}
    assert xs["favours A"] > xs["favours B"]


def test_ids_unique_per_title():
    a = ET.fromstring(forest_svg(_effects(), POOLED, "one", "A", "B"))
    b = ET.fromstring(forest_svg(_effects(), POOLED, "two", "A", "B"))
    ids = lambda r: {e.get("id") for e in r.iter() if e.get("id")}  # noqa: E731
    assert ids(a) and not ids(a) & ids(b)


def test_awkward_text_survives():
    eff = _effects(1)
    eff.loc[0, "study_id"] = 'a$x$ id="q" \\1 <b>'
    title = 'T "\\1" $y$ <script>'
    root = ET.fromstring(forest_svg(eff, None, title, "A", "B"))
    assert root[0].text == title and root.get("aria-label") == title
    assert 'a$x$ id="q" \\1 <b>' in _texts(root)


def _xy(root):
    """{text: [(x, y), ...]} of every <text> element (x, y in points from the top left)."""
    out: dict[str, list] = {}
    for e in root.iter(f"{SVG}text"):
        out.setdefault("".join(e.itertext()), []).append((float(e.get("x")), float(e.get("y"))))
    return out


def _three_arm():
    """Fairweather 2017 gives three comparisons against one systemic arm; Du 2015 one
    (the shipped review's "liver-directed versus systemic" analysis)."""
    eff = pd.DataFrame(
        {
            "study_id": ["Fairweather2017"] * 3 + ["Du2015"],
            "treatment_arm": ["hepatic_resection", "radiofrequency_ablation",
                              "chemoembolization", "lt_only"],
            "control_arm": ["systemic_therapy"] * 3 + ["st_only"],
            "yi": [-1.578241, -1.053502, 0.092661, -2.417896],
            "ci_lb": [-2.119221, -1.762749, -0.287568, -3.464391],
            "ci_ub": [-1.037261, -0.344255, 0.472890, -1.371401],
            "weight": [27.625547, 26.350167, 28.583743, 17.440543],
            "n_treatment": [58, 28, 130, 12],
            "n_control": [316, 316, 316, 6],
            "events_t": [5.448485, 3.980909, 39.245764, math.nan],
            "events_c": [90.516912] * 3 + [math.nan],
            "year": [2017] * 3 + [2015],
        }
    )  # fmt: skip
    pooled = dict(
        model="rma.mv", dependence="multilevel", method="REML", test="t", k=4, k_studies=2,
        estimate=-1.391778, ci_low=-11.076115, ci_high=8.292558, pi_low=-19.04219,
        pi_high=16.258633, tau2=math.nan, i2=math.nan, sigma2_study=0.626811,
        sigma2_comparison=0.721927, q=45.592522, q_df=3, q_p=6.923518e-10, stat=-1.826064,
        df=1.0, p=0.3189584, status="ok",
    )  # fmt: skip
    return eff, pooled


def test_a_study_with_several_comparisons_is_a_header_with_its_comparisons_beneath():
    eff, pooled = _three_arm()
    root = ET.fromstring(forest_svg(eff, pooled, "t", "liver-directed", "systemic"))
    xy = _xy(root)
    texts = _texts(root)
    assert texts.count("Fairweather2017") == 1  # one header line, not one per comparison
    (x_head, y_head), (x_du, y_du) = xy["Fairweather2017"][0], xy["Du2015"][0]
    assert x_head == pytest.approx(x_du) and y_du < y_head  # 2015 first, both at the margin
    # the comparisons indented beneath the header (0.16 in = 11.52 pt), in their order; the
    # label is the arm that differs (the study column; the arm column shows it too)
    labels = [min(xy[a]) for a in ("hepatic resection", "chemoembolization")]
    for x, y in labels:
        assert x == pytest.approx(x_head + 11.52, abs=0.01) and y > y_head
    assert labels[0][1] < labels[1][1]
    assert "Total (k = 4 comparisons, 2 studies)" in texts
    assert "Multilevel random effects (REML; comparisons within studies), t test" in texts
    assert (
        "Heterogeneity: σ²(study) = 0.6268, σ²(comparison) = 0.7219; Q_E = 45.59, df = 3 "
        "(p < 0.001)" in texts
    )
    assert "Test for overall effect: t = -1.83, df = 1 (p = 0.319)" in texts
    # events as effects.csv gives them: estimated ones marked, the shared arm whole
    assert "≈5/58" in texts and "≈91/316" in texts and "–/12" in texts
    assert ESTIMATED_NOTE in texts
    desc = root[1].text
    assert desc.startswith("Forest plot of 4 comparisons from 2 studies. Pooled HR 0.25")


def test_a_comparison_whose_hazards_are_not_proportional_is_marked():
    eff = _effects(3).assign(ph_p=[0.012, 0.3, math.nan])
    texts = _texts(ET.fromstring(forest_svg(eff, POOLED, "t", "A", "B")))
    assert "Study0 †" in texts and "Study1" in texts and "Study2" in texts
    assert PH_NOTE in texts
    assert PH_NOTE == (
        "† proportional-hazards test p < 0.05 (Grambsch-Therneau on the reconstructed "
        "patients): read its HR with care"
    )
    # within a multi-comparison study the comparison's own label carries the mark
    eff, pooled = _three_arm()
    eff["ph_p"] = [math.nan, math.nan, 0.049, math.nan]
    texts = _texts(ET.fromstring(forest_svg(eff, pooled, "t", "A", "B")))
    assert "chemoembolization †" in texts and PH_NOTE in texts
    clean = _texts(ET.fromstring(forest_svg(_effects(3).assign(ph_p=0.2), POOLED, "t", "A", "B")))
    assert PH_NOTE not in clean and not any("†" in t for t in clean)
    # an RMST difference does not assume proportional hazards: nothing to mark there
    rmst = forest_svg(_effects(3).assign(ph_p=0.01), POOLED, "t", "A", "B", metric="rmst_diff")
    assert not any("†" in t for t in _texts(ET.fromstring(rmst)))


def test_rmst_difference_is_drawn_in_months_on_a_linear_axis():
    # yi in months; Ovarian 1979's RMST difference of the worked example (3.55, CI 0.01-7.09)
    eff = _effects(3)
    eff["yi"] = [3.552604, -0.117522, 0.227152]
    eff["ci_lb"] = [0.014955, -0.608312, -0.468488]
    eff["ci_ub"] = [7.090253, 0.373267, 0.922792]
    pooled = {**POOLED, "estimate": 2.0, "ci_low": 1.0, "ci_high": 3.0, "pi_low": -0.45,
              "pi_high": 4.5}  # fmt: skip
    root = ET.fromstring(forest_svg(eff, pooled, "t", "A", "B", metric="rmst_diff"))
    texts = _texts(root)
    xy = _xy(root)
    assert "RMST difference (months)" in texts and "Months [95% CI]" in texts
    assert "3.6 [0.0, 7.1]" in texts and "-0.1 [-0.6, 0.4]" in texts  # one decimal, as is
    assert "2.0 [1.0, 3.0]" in texts and "[-0.5, 4.5]" in texts  # diamond, prediction
    assert "Hazard ratio (log scale)" not in texts
    # symmetric about 0, covering 7.09: -10 ... 10
    ticks = {t: xy[t][0][0] for t in ("-10", "-5", "0", "5", "10")}
    assert ticks["0"] - ticks["-10"] == pytest.approx(ticks["10"] - ticks["0"], abs=0.01)
    per_month = (ticks["10"] - ticks["-10"]) / 20
    assert ticks["5"] - ticks["0"] == pytest.approx(5 * per_month, abs=0.01)  # linear
    # > 0 favours the treatment: its label right of 0, the control's left, 6 pt each side
    (x_t, _), (x_c, _) = xy["favours A"][0], xy["favours B"][0]
    assert x_t == pytest.approx(ticks["0"] + 6, abs=0.01)
    assert x_c == pytest.approx(ticks["0"] - 6, abs=0.01)
    # the red diamond's top vertex at 2 months
    red = [p.get("d") for p in root.iter(f"{SVG}path") if "fill: #8b1a1a" in p.get("style", "")]
    (d,) = [d for d in red if d.count("L") == 3]
    xs = [float(v.split()[0]) for v in d.replace("M", "L").split("L")[1:4]]
    assert xs[1] - ticks["0"] == pytest.approx(2 * per_month, abs=0.05)
    assert root[1].text.startswith("Forest plot of 3 comparisons from 3 studies. Pooled RMST "
                                   "difference 2.0 [1.0, 3.0] months.")  # fmt: skip


def test_effect_scale_reads_months_as_they_are_and_ratios_exponentiated():
    from survmeta.figures.effect_scale import EffectScale

    hr, mr, rmst = EffectScale("log_hr"), EffectScale("log_mr"), EffectScale("rmst_diff")
    assert hr.ci(math.log(0.62), math.log(0.45), math.log(0.85)) == "0.62 [0.45, 0.85]"
    assert hr.value(40.0) == "> 1e6"  # bounded, never an overflow
    assert rmst.ci(2.1, 0.25, 3.94) == "2.1 [0.2, 3.9]" and rmst.value(-0.04) == "0.0"
    # which side favours the treatment: HR < 1; a ratio of medians or an RMST difference > 0
    assert (hr.high_favours_treatment, mr.high_favours_treatment) == (False, True)
    assert rmst.high_favours_treatment and (hr.null_x, rmst.null_x) == (1.0, 0.0)
    assert rmst.limits([7.09, -0.6]) == (-10.0, 10.0) and rmst.limits([0.3]) == (-0.5, 0.5)
    assert rmst.limits([1.9]) == (-2.0, 2.0) and rmst.ticks(-2.0, 2.0) == [-2, -1, 0, 1, 2]
    assert hr.limits([0.3, 1.5]) == (0.2, 5.0) and hr.limits([1e-9]) == (0.01, 100.0)
