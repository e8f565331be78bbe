"""Property: whatever tables a team types, the run ends in results or in clean messages.

Hypothesis mutates the shipped extraction tables (nasty cells, dropped and repeated
rows, renamed columns) and runs what the workflow runs on them in-process:
validation, the analysis check, harmonization and pooling. Every outcome must be
either an :class:`InputError` whose every line names one of the input files, or
complete results; any other exception is a bug.
"""

from __future__ import annotations

import copy
import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from survmeta.config import unmatched_analyses
from survmeta.harmonize.run import harmonize
from survmeta.pool import pool
from survmeta.validate import InputError, load_inputs

ROOT = Path(__file__).parents[1]
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())
CONFIG.setdefault("multiarm", "split")
TABLES = {
    name: list(csv.reader(io.StringIO((ROOT / rel).read_text(encoding="utf-8"))))
    for name, rel in CONFIG["inputs"].items()
}

NASTY = [
    "",
    " ",
    "n/a",
    "NA",
    "-",
    "O.62",
    "0,62",
    "-1",
    "0",
    "1",
    "0.5",
    "1e400",
    "nan",
    "inf",
    "<0.001",
    "p=0.03",
    "P < .05",
    "1.5",
    "2",
    " 12 ",
    "12.0",
    "99999999",
    "Kim2010",
    "liver_directd",
    "systemic",
    "os",
    "pfs",
    "true",
    "maybe",
    "٣",
    "🙂",
    '"',
    "0.99",
    "120",
]

mutation = st.one_of(
    st.tuples(
        st.just("cell"),
        st.sampled_from(sorted(TABLES)),
        st.integers(1, 40),
        st.integers(0, 20),
        st.sampled_from(NASTY),
    ),
    st.tuples(st.just("drop_row"), st.sampled_from(sorted(TABLES)), st.integers(1, 40)),
    st.tuples(st.just("repeat_row"), st.sampled_from(sorted(TABLES)), st.integers(1, 40)),
    st.tuples(
        st.just("rename_col"),
        st.sampled_from(sorted(TABLES)),
        st.integers(0, 20),
        st.sampled_from(["n_arm", "Study_ID", "hr ", "x", "median_month"]),
    ),
)


def mutate(tables: dict, ops) -> dict:
    tables = copy.deepcopy(tables)
    for op, name, *args in ops:
        rows = tables[name]
        if op == "cell":
            r, c, value = args
            if len(rows) > 1:
                row = rows[1 + r % (len(rows) - 1)]
                row[c % len(row)] = value
        elif op == "drop_row" and len(rows) > 1:
            del rows[1 + args[0] % (len(rows) - 1)]
        elif op == "repeat_row" and len(rows) > 1:
            rows.append(list(rows[1 + args[0] % (len(rows) - 1)]))
        elif op == "rename_col":
            c, new = args
            rows[0][c % len(rows[0])] = new
    return tables


def write(tables: dict, base: Path) -> None:
    for name, rel in CONFIG["inputs"].items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows(tables[name])


def run(base: Path) -> str:
    """What the workflow does before writing anything; returns how it ended."""
    try:
        tables = load_inputs(CONFIG["inputs"], base)
    except InputError as err:
        files = tuple(CONFIG["inputs"].values())
        assert err.problems
        for line in map(str, err.problems):
            assert line.startswith(files), line
            assert "\n" not in line and "Traceback" not in line
        return "stopped"
    if unmatched_analyses(tables, CONFIG, "config.yaml"):
        return "stopped"
    out = harmonize(tables, CONFIG)
    effects = out["effects"]
    assert np.isfinite(effects["yi"]).all() and (effects["vi"] > 0).all()
    pooled = pool(pd.read_csv(io.StringIO(effects.to_csv(index=False))), CONFIG)
    ok = pooled["status"] == "ok"
    assert np.isfinite(pooled.loc[ok, ["estimate", "se"]].to_numpy(float)).all()
    assert (pooled.loc[~ok, "status"].str.len() > 0).all()
    return "results"


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(mutation, min_size=1, max_size=4))
def test_any_tables_end_in_results_or_clean_messages(ops, tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz")
    write(mutate(TABLES, ops), base)
    assert run(base) in ("stopped", "results")


def test_shipped_tables_give_results(tmp_path):
    write(TABLES, tmp_path)
    assert run(tmp_path) == "results"
