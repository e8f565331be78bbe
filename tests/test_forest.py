import math
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from survmeta.figures.forest import forest_svg

SVG = "{http://www.w3.org/2000/svg}"


def _effects(n=3):
    return pd.DataFrame({
        "study_id": [f"Study{i}" for i in range(n)],
        "treatment_arm": ["tace"] * n,
        "control_arm": ["ssa"] * n,
        "yi": [-0.4 + 0.2 * i for i in range(n)],
        "vi": [0.04] * n,
        "sei": [0.2] * n,
        "weight": [100 / n] * n,
        "source_method": ["hr_ci"] * n,
    })


POOLED = dict(estimate=-0.2, ci_low=-0.5, ci_high=0.1, pi_low=-0.9, pi_high=0.5, tau2=0.02,
              i2=35.2, q=3.1, q_df=2, q_p=0.21, stat=-1.5, p=0.27, method="REML",
              test="knha", k=3)


def _texts(root):
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_svg_parses_with_title_and_labels():
    pooled = {**POOLED, "k": 3.0}  # k arrives as float from a DataFrame row
    svg = forest_svg(_effects(), pooled, "OS <all> & more", "liver-directed", "systemic")
    assert not svg.startswith("<?xml") and "<!DOCTYPE" not in svg
    root = ET.fromstring(svg)
    assert root.get("role") == "img" and root.get("aria-label") == "OS <all> & more"
    assert root[0].tag == f"{SVG}title" and root[0].text == "OS <all> & more"
    texts = _texts(root)
    for i in range(3):
        assert f"Study{i}: tace vs ssa" in texts
    assert "Hazard ratio (log scale)" in texts
    assert "favours liver-directed" in texts and "favours systemic" in texts
    assert any(t.startswith("Heterogeneity: tau² = 0.0200; Q = 3.10, df = 2") for t in texts)
    assert "Test for overall effect: t = -1.50 (p = 0.270)" in texts
    assert "Random effects (REML, knha), k = 3" in texts


def test_deterministic_and_no_metadata():
    a = forest_svg(_effects(), POOLED, "t", "A", "B")
    assert a == forest_svg(_effects(), POOLED, "t", "A", "B")
    assert "Matplotlib v" not in a and "<dc:date>" not in a


def test_height_scales_with_rows():
    h = [float(ET.fromstring(forest_svg(_effects(n), POOLED, "t", "A", "B")).get("height")[:-2])
         for n in (2, 10)]
    assert h[1] > h[0]


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
    eff.loc[0, "study_id"] = 'a$x$ id="q" \\1'
    title = 'T "\\1" $y$'
    root = ET.fromstring(forest_svg(eff, None, title, "A", "B"))
    assert root[0].text == title and root.get("aria-label") == title
    assert 'a$x$ id="q" \\1: tace vs ssa' in _texts(root)
