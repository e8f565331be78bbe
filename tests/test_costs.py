"""Slow settings are announced at the config check (issue 19 last paragraph, issue 18 item 4)."""

import copy
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from survmeta.config import with_defaults
from survmeta.costs import analysis_sizes, cost_warnings, gosh_cost
from survmeta.harmonize.run import harmonize
from survmeta.validate import load_inputs

ROOT = Path(__file__).parents[1]
SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"
CONFIG = with_defaults(yaml.safe_load((ROOT / "config.yaml").read_text()), SCHEMA)


def review(k: int) -> dict:
    """Tables of k two-arm studies (treatment liver_directed, control systemic)."""
    arms = pd.DataFrame(
        [
            {"study_id": f"Study{i:02d}", "arm_id": arm, "arm_class": cls, "outcome": "os"}
            for i in range(k)
            for arm, cls in (("tace", "liver_directed"), ("ssa", "systemic"))
        ]
    )
    return {"arms": arms}


def config(**sensitivity) -> dict:
    out = copy.deepcopy(CONFIG)
    out["analyses"] = [out["analyses"][0]]
    out["sensitivity"] = {**out["sensitivity"], "gosh": False, **sensitivity}
    return out


def test_shipped_review_is_cheap():
    tables = load_inputs(CONFIG["inputs"], ROOT)
    assert cost_warnings(tables, CONFIG, "config.yaml") == []


def test_comparisons_counted_as_harmonization_finds_them():
    """k per analysis from the arms table equals harmonize's effects plus exclusions."""
    tables = load_inputs(CONFIG["inputs"], ROOT)
    out = harmonize(tables, CONFIG)
    found = pd.concat([out["effects"], out["excluded"]])["analysis_id"].value_counts()
    for aid, k, _ in analysis_sizes(tables, CONFIG):
        assert k == found[aid], aid


def test_large_gosh_warns_with_the_setting_to_change():
    (line,) = map(str, cost_warnings(review(30), config(gosh=True), "config.yaml"))
    assert line.startswith("config.yaml:sensitivity.gosh: warning: GOSH will fit 1,000,000 subsets")
    assert "largest: os_ld_vs_sys, k = 30" in line
    assert line.endswith(
        "lower sensitivity.gosh_subsets (now 1,000,000) or set sensitivity.gosh: false"
    )
    assert cost_warnings(review(30), config(gosh=True, gosh_subsets=20000), "c") == []
    assert cost_warnings(review(12), config(gosh=True), "c") == []


def test_many_permutations_warn_near_the_measured_time():
    """Issue 19 measured 10^7 permutations at k = 30 (REML, knha): 270 s."""
    (line,) = map(str, cost_warnings(review(30), config(permutations=10**7), "config.yaml"))
    assert line.startswith("config.yaml:sensitivity.permutations: warning:")
    assert line.endswith("lower sensitivity.permutations (now 10,000,000)")
    minutes = float(re.search(r"about (\d+) min", line).group(1))
    assert 270 / 2 <= minutes * 60 <= 270 * 2
    # the exact test is 2^k patterns at most: k = 12 with 10^7 iterations is 4096
    assert cost_warnings(review(12), config(permutations=10**7), "c") == []


def test_gosh_csv_size_estimate_matches_a_written_file(tmp_path):
    """The size estimate against a GOSH table written as the pool job writes it."""
    from survmeta.diagnostics import comparison_labels
    from survmeta.estimators.gosh import gosh, write_gosh_csv

    k = 12
    tables = review(k)
    ((_, k_est, label),) = analysis_sizes(tables, config())
    rng = np.random.default_rng(1)
    rows = pd.DataFrame(
        {
            "study_id": [f"Study{i:02d}" for i in range(k)],
            "treatment_arm": "tace",
            "control_arm": "ssa",
        }
    )
    table = gosh(rng.normal(-0.3, 0.3, k), rng.uniform(0.02, 0.2, k), "REML")
    write_gosh_csv(table, tmp_path / "g.csv", comparison_labels(rows))
    subsets, _, nbytes = gosh_cost(k_est, label, "REML", 10**6)
    assert subsets == len(table) == 2**k - 1
    assert nbytes == pytest.approx((tmp_path / "g.csv").stat().st_size, rel=0.3)
