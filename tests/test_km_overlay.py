"""The reconstruction overlay figure: reconstructed KM over digitized points, at-risk table."""

import xml.etree.ElementTree as ET

import pandas as pd

from survmeta.figures.km_overlay import km_overlay_svg

SVG = "{http://www.w3.org/2000/svg}"


def _texts(svg):
    return ["".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{SVG}text")]


def _study():
    # Arm a: 5 patients, deaths at 2 and 5 (two), censored at 3 and 8; arm b: 4 patients.
    patients = pd.DataFrame(
        {
            "arm_id": ["a"] * 5 + ["b"] * 4,
            "time_months": [2, 3, 5, 5, 8, 1, 4, 6, 7],
            "event": [1, 0, 1, 1, 0, 1, 1, 0, 1],
        }
    )
    points = pd.DataFrame(
        {
            "arm_id": ["a"] * 4 + ["b"] * 3,
            "time_months": [0, 2, 5, 8, 0, 1, 4],
            "surv_prop": [1, 0.8, 0.267, 0.267, 1, 0.75, 0.5],
        }
    )
    # Reported at risk; at 4 arm a's paper says 3 but 3 patients remain (times >= 4: 5, 5, 8)
    # -> equal; arm b's paper says 3 at 4 but only 3 remain (4, 6, 7) -> equal; at 6, b's
    # paper says 1 but 2 remain (6, 7) -> differs.
    at_risk = pd.DataFrame(
        {
            "arm_id": ["a", "a", "b", "b", "b"],
            "time_months": [0, 4, 0, 4, 6],
            "n_at_risk": [5, 3, 4, 3, 1],
        }
    )
    return points, at_risk, patients


def test_km_overlay_draws_curves_points_and_both_at_risk_rows():
    svg = km_overlay_svg(*_study(), "S1: overall survival <rebuilt>", ph_p=0.012)
    root = ET.fromstring(svg)
    assert root.get("role") == "img" and root.get("aria-label") == "S1: overall survival <rebuilt>"
    assert root[0].tag == f"{SVG}title" and root[1].tag == f"{SVG}desc"
    desc = root[1].text
    assert "a: 5 patients rebuilt, 3 events, 4 digitized points" in desc
    assert "b: 4 patients rebuilt, 3 events, 3 digitized points" in desc
    assert "equal the reported ones at 4 of 5 reported times" in desc
    texts = _texts(svg)
    assert {"Number at risk", "a, reported", "a, rebuilt", "b, reported", "b, rebuilt"} <= set(
        texts
    )
    assert {"a: rebuilt patients (KM)", "b: digitized points", "Months"} <= set(texts)
    assert (
        "Grambsch-Therneau test of proportional hazards: p = 0.012 (below 0.05: the hazards "
        "may not be proportional)" in texts
    )
    # Reported 1 at 6 months in arm b, rebuilt 2 (times 6 and 7), the latter in bold.
    bold = [
        "".join(t.itertext())
        for t in root.iter(f"{SVG}text")
        if "font-weight: 700" in (t.get("style") or "") and "".join(t.itertext()) == "2"
    ]
    assert bold == ["2"]


def test_km_overlay_is_deterministic_and_needs_no_p():
    a = km_overlay_svg(*_study(), "S1", arms=["b", "a"])
    assert a == km_overlay_svg(*_study(), "S1", arms=["b", "a"])
    assert not any(t.startswith("Grambsch") for t in _texts(a))
    assert a != km_overlay_svg(*_study(), "S1")


def test_km_overlay_names_each_comparisons_p_and_needs_no_points():
    points, at_risk, patients = _study()
    svg = km_overlay_svg(points, at_risk, patients, "S1",
                         ph_p={"a vs b": 0.2671, "c vs b": 0.0004})  # fmt: skip
    assert (
        "Grambsch-Therneau test of proportional hazards: a vs b: p = 0.267; c vs b: p < 0.001 "
        "(below 0.05: the hazards may not be proportional)" in _texts(svg)
    )
    calm = km_overlay_svg(points, at_risk, patients, "S1", ph_p={"a vs b": 0.3})
    assert "Grambsch-Therneau test of proportional hazards: p = 0.300" in _texts(calm)
    # without digitized points or at-risk rows: the rebuilt curves alone
    bare = km_overlay_svg(None, None, patients, "S1", key="x")
    assert "a: 5 patients rebuilt, 3 events, 0 digitized points" in ET.fromstring(bare)[1].text
    ids = {e.get("id") for e in ET.fromstring(bare).iter() if e.get("id")}
    other = km_overlay_svg(None, None, patients, "S1", key="y")
    assert ids and not ids & {e.get("id") for e in ET.fromstring(other).iter() if e.get("id")}
