import math
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from survmeta.figures.forest import between_text, events_n, forest_svg, het_text

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
            "events_treatment": [20] + [math.nan] * (n - 1),
            "events_control": [30] + [math.nan] * (n - 1),
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
    p=0.27,
    method="REML",
    test="knha",
    k=3,
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
    assert "Total, random effects (REML, knha), k = 3" in texts
    assert "Prediction interval (95%)" in texts and "[0.41, 1.65]" in texts


def test_studies_in_year_order():
    texts = _texts(ET.fromstring(forest_svg(_effects(), POOLED, "t", "A", "B")))
    order = [t for t in texts if t.startswith("Study") and t != "Study"]
    assert order == ["Study2", "Study1", "Study0"]  # years 2001, 2002, 2003


def test_subgroup_blocks_with_diamonds_and_the_test_for_differences():
    eff = _effects(3, groups=["tace", "resection", "tace"])
    sub = {
        "tace": {**POOLED, "k": 2, "estimate": -0.1, "q": 0.5, "q_df": 1, "q_p": 0.48,
                 "i2": 0.0, "tau2": 0.0},
        "resection": {**POOLED, "k": 1, "estimate": -0.2, "ci_low": -0.6, "ci_high": 0.2,
                      "q": math.nan},
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
    assert "Subtotal (k = 2)" in texts and "Subtotal (k = 1)" in texts
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
    assert het_text(None) == ""
    assert het_text({"k": 1, "q": 0}) == "Heterogeneity: not applicable (k = 1)"


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
