"""`NA`, `None`, `null`, `nan` are names, not missing values, from the tables to the report.

Issue 19, item 9: the pool job read effects.csv with pandas' default NA strings, so a
study called ``NA`` or a subgroup ``None`` became missing there (a subgroup vanished),
while the report kept them. Every result table is now read by one reader
(:func:`survmeta.io.read_result`); this runs the workflow once to see both survive.
"""

import csv
import html
import re
import shutil

import pytest
import yaml

from survmeta.tables import DEFAULT_MODALITIES
from tests.test_workflow import ROOT, run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def rows(path):
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    work = tmp_path_factory.mktemp("na")
    shutil.copytree(ROOT / "data", work / "data")
    for table in (work / "data" / "nelm").glob("*.csv"):
        text = table.read_text(encoding="utf-8").replace("Du2015", "NA")
        if table.name == "arms.csv":
            text = text.replace(
                "chemoembolization,liver_directed,tace,", "chemoembolization,liver_directed,None,"
            )
        table.write_text(text, encoding="utf-8")
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["sensitivity"] = {"methods": ["REML"], "tests": ["knha"], "gosh": False}
    config["modalities"] = [*DEFAULT_MODALITIES, "None"]
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    proc = run(work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work


def test_study_na_and_subgroup_none_reach_pooled_csv(work):
    effects = rows(work / "results/effects.csv")
    assert {"NA"} == {r["study_id"] for r in effects if r["study_id"] == "NA"}
    assert "None" in {r["modality"] for r in effects}
    pooled = rows(work / "results/pooled.csv")
    subgroups = {r["subgroup"] for r in pooled if r["analysis_id"] == "os_ld_vs_sys"}
    assert {"all", "None", "resection", "ablation", "mixed"} <= subgroups
    none = [r for r in pooled if r["analysis_id"] == "os_ld_vs_sys" and r["subgroup"] == "None"]
    assert none and all(r["k"] == "1" for r in none)
    table = rows(work / "results/sensitivity/os_ld_vs_sys/subgroups.csv")
    assert "None" in {r["subgroup"] for r in table}


def test_study_na_and_subgroup_none_reach_the_report(work):
    text = html.unescape((work / "report/index.html").read_text(encoding="utf-8"))
    assert re.search(r">\s*NA\s*<", text), "study NA is not shown"
    assert re.search(r">\s*None\s*<", text), "subgroup None is not shown"
