"""Edge cases give a sensible row, not a crash (issue 7), and equal metafor where it fits."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from survmeta.diagnostics import analysis_tables
from survmeta.estimators.rma import rma
from survmeta.pool import pool

FIXTURE = json.loads((Path(__file__).parent / "fixtures/edge_metafor.json").read_text())


@pytest.mark.parametrize(
    "fit", FIXTURE["fits"], ids=lambda f: f"{f['id']}-{f['method']}-{f['test']}"
)
def test_edge_datasets_equal_metafor(fit):
    res = rma(np.array(fit["yi"]), np.array(fit["vi"]), fit["method"], fit["test"])
    assert res.error[0] is None
    for ours, theirs in (
        ("estimate", "estimate"),
        ("se", "se"),
        ("ci_lb", "ci_lb"),
        ("ci_ub", "ci_ub"),
        ("tau2", "tau2"),
        ("qe", "QE"),
        ("i2", "I2"),
    ):
        got = float(res.column(ours)[0])
        assert math.isclose(got, fit[theirs], rel_tol=1e-5, abs_tol=1e-5), (ours, got, fit[theirs])


def effects(y, v, modality=None):
    k = len(y)
    return pd.DataFrame(
        {
            "analysis_id": "a",
            "study_id": [f"S{i}" for i in range(k)],
            "treatment_arm": "t",
            "control_arm": "c",
            "yi": y,
            "vi": v,
            "year": [2000 + i for i in range(k)],
            "modality": modality or ["tace"] * k,
            "metric": "log_hr",
        }
    )


ANALYSIS = {"id": "a", "subgroups": "modality", "metareg": ["year"]}
CONFIG = {
    "analyses": [ANALYSIS],
    "pooling": {"method": "REML", "test": "knha", "level": 0.95},
    "sensitivity": {
        "methods": ["DL", "REML", "ML", "PM", "SJ", "HE", "EB"],
        "tests": ["z", "knha"],
    },
}
CASES = {
    "k0": ([], []),
    "k1": ([-0.5], [0.1]),
    "k2": ([-0.5, -0.2], [0.1, 0.2]),
    "identical": ([-0.3] * 4, [0.1, 0.2, 0.3, 0.1]),
    "tau2_zero": ([-0.3, -0.31, -0.29, -0.3], [0.1] * 4),
    "tiny_variance": ([-0.3, -0.5, 0.1, -0.2], [1e-10, 0.1, 0.2, 0.1]),
    "one_study_subgroup": (
        [-0.3, -0.5, 0.1, -0.2],
        [0.1, 0.1, 0.2, 0.1],
        ["tace", "tace", "sirt", "tace"],
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_every_table_has_rows_and_a_status(case):
    e = effects(*CASES[case])
    pooled = pool(e, CONFIG)
    assert len(pooled) and pooled["status"].str.len().gt(0).all()
    ok = pooled["status"] == "ok"
    assert np.isfinite(pooled.loc[ok, ["estimate", "se"]].to_numpy(float)).all()
    tables = analysis_tables(e, ANALYSIS, CONFIG["pooling"], CONFIG["sensitivity"])
    assert set(tables) == {
        "leave1out",
        "cumul",
        "influence",
        "regtest",
        "ranktest",
        "trimfill",
        "trimfill_filled",
        "permutest",
        "subgroups",
        "subgroups_common",
        "metareg",
        "leave1study",
        "hazard_based",
    }
    for name, df in tables.items():
        assert "status" in df, name
        declined = df["status"] != "ok"
        assert df.loc[declined, "status"].str.len().gt(0).all(), name


def test_declines_say_why_as_metafor_does():
    tables = analysis_tables(effects(*CASES["k1"]), ANALYSIS, CONFIG["pooling"], {})
    assert tables["leave1out"]["status"].iloc[0] == "Stopped because k = 1."
    tables = analysis_tables(effects(*CASES["k0"]), ANALYSIS, CONFIG["pooling"], {})
    assert tables["regtest"]["status"].iloc[0] == "Processing terminated since k = 0."
    tables = analysis_tables(effects(*CASES["k2"]), ANALYSIS, CONFIG["pooling"], {})
    assert tables["regtest"]["status"].iloc[0].startswith("Number of parameters to be estimated")
