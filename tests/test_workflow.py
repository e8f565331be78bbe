"""The workflow end to end, as a user runs it, on a copy of the shipped data."""

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
OUTPUTS = [
    "results/effects.csv",
    "results/excluded.csv",
    "results/pooled.csv",
    "results/derivations.csv",
    "results/validated/studies.csv",
    "results/validated/arms.csv",
    "results/figures/os_ld_vs_sys.svg",
    "results/figures/os_ld_vs_no_ld.svg",
    "results/figures/os_mr_ld_vs_sys.svg",
    "report/index.html",
]


def command(workdir: Path, *extra, configfile: str = "config.yaml", cores: int = 4) -> list:
    """The documented way to run on a team's own folder, plus ``extra`` arguments."""
    return [
        SNAKEMAKE, "-s", ROOT / "Snakefile", "--directory", workdir, "--cores", str(cores),
        "--configfile", workdir / configfile, *extra,
    ]  # fmt: skip


def run(workdir: Path, *extra, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        command(workdir, *extra, **kw), capture_output=True, text=True, timeout=600
    )


def copy_project(dest: Path) -> Path:
    shutil.copytree(ROOT / "data", dest / "data")
    shutil.copy(ROOT / "config.yaml", dest / "config.yaml")
    return dest


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    work = copy_project(tmp_path_factory.mktemp("shipped"))
    proc = run(work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work


def test_every_output_is_written(shipped):
    for rel in OUTPUTS:
        assert (shipped / rel).stat().st_size > 0, rel


def test_contract_columns(shipped):
    effects = pd.read_csv(shipped / "results/effects.csv")
    assert {
        "analysis_id",
        "study_id",
        "outcome",
        "treatment_arm",
        "control_arm",
        "treatment_class",
        "control_class",
        "modality",
        "yi",
        "vi",
        "sei",
        "metric",
        "source_method",
        "assumptions",
    } <= set(effects.columns)
    pooled = pd.read_csv(shipped / "results/pooled.csv")
    assert {
        "analysis_id",
        "subgroup",
        "method",
        "test",
        "k",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "pi_low",
        "pi_high",
        "tau2",
        "tau2_ci_low",
        "tau2_ci_high",
        "i2",
        "h2",
        "q",
        "q_df",
        "q_p",
        "stat",
        "p",
        "hr",
        "hr_ci_low",
        "hr_ci_high",
        "hr_pi_low",
        "hr_pi_high",
        "status",
    } <= set(pooled.columns)
    excluded = pd.read_csv(shipped / "results/excluded.csv")
    assert {"study_id", "outcome", "treatment_arm", "control_arm", "reason"} <= set(
        excluded.columns
    )
    # Kim 2010 reports medians without events, follow-up or CI: listed with the reason
    kim = excluded[excluded["study_id"] == "Kim2010"]
    assert not kim.empty and kim["reason"].str.contains("not estimable").all()


def test_shipped_pooled_numbers_equal_metafor(shipped):
    """Pooled rows of the shipped review equal metafor on the same yi/vi (shipped_metafor.R).

    The fixture's yi/vi are those of results/effects.csv when it was made: if harmonization
    changes them, rerun tests/fixtures/shipped_metafor.R after checking the change.
    """
    ref = json.loads((ROOT / "tests/fixtures/shipped_metafor.json").read_text())
    effects = pd.read_csv(shipped / "results/effects.csv")
    pooled = pd.read_csv(shipped / "results/pooled.csv")
    checked = 0
    for case in ref["fits"]:
        rows = effects[effects["analysis_id"] == case["analysis_id"]]
        assert rows["yi"].tolist() == pytest.approx(case["yi"], abs=1e-10)
        assert rows["vi"].tolist() == pytest.approx(case["vi"], abs=1e-10)
        got = pooled[
            (pooled["analysis_id"] == case["analysis_id"])
            & (pooled["subgroup"] == "all")
            & (pooled["method"] == case["method"])
            & (pooled["test"] == case["test"])
        ]
        assert len(got) == 1
        got = got.iloc[0]
        for ours, theirs in (
            ("estimate", "estimate"),
            ("se", "se"),
            ("ci_low", "ci_lb"),
            ("ci_high", "ci_ub"),
            ("pi_low", "pi_lb"),
            ("pi_high", "pi_ub"),
            ("tau2", "tau2"),
            ("tau2_ci_low", "tau2_ci_lb"),
            ("tau2_ci_high", "tau2_ci_ub"),
            ("i2", "I2"),
            ("q", "QE"),
            ("p", "pval"),
        ):
            assert math.isclose(got[ours], case[theirs], rel_tol=1e-5, abs_tol=1e-5), (
                case["analysis_id"],
                case["method"],
                case["test"],
                ours,
            )
        checked += 1
    assert checked == len(ref["fits"]) > 0


def test_two_runs_give_identical_files(shipped, tmp_path):
    again = copy_project(tmp_path)
    assert run(again).returncode == 0
    for rel in OUTPUTS:
        assert (again / rel).read_bytes() == (shipped / rel).read_bytes(), rel


def test_bad_input_stops_cleanly(tmp_path):
    work = copy_project(tmp_path)
    arms = work / "data/nelm/arms.csv"
    arms.write_text(arms.read_text().replace("mixed,os,28,", "mixed,os,n/a,", 1))
    proc = run(work)
    assert proc.returncode != 0
    assert "data/nelm/arms.csv:2:n: 'n/a' is not a number" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (work / "results").exists() and not (work / "report").exists()


def test_team_configfile_replaces_the_shipped_config(tmp_path):
    """design.md: --configfile replaces the shipped inputs; survival_points must not leak in."""
    import yaml

    work = copy_project(tmp_path)  # has the shipped config.yaml, which must be ignored
    team = yaml.safe_load((ROOT / "config.yaml").read_text())
    del team["inputs"]["survival_points"]
    team["analyses"] = team["analyses"][:1]
    team["sensitivity"] = {"methods": ["DL"], "tests": ["z"]}
    (work / "team.yaml").write_text(yaml.safe_dump(team))
    proc = run(work, configfile="team.yaml", cores=2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    effects = pd.read_csv(work / "results/effects.csv")
    assert set(effects["analysis_id"]) == {team["analyses"][0]["id"]}
    assert not effects["source_method"].str.startswith("survival_curve").any()
    pooled = pd.read_csv(work / "results/pooled.csv")
    assert set(pooled["method"]) == {"REML", "DL"}


def test_snakemakes_own_report_lists_figures_and_tables(shipped, tmp_path):
    import zipfile

    out = tmp_path / "report.zip"
    proc = run(shipped, "--report", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    names = {Path(n).name for n in zipfile.ZipFile(out).namelist()}
    assert {"os_ld_vs_sys.svg", "pooled.csv", "effects.csv", "index.html"} <= names


def _name(r_name: str) -> str:
    """metafor's column name as the workflow writes it ('.' -> '_', lower case, tval = zval)."""
    return {"tval": "zval", "pvals": "pval"}.get(r_name, r_name.lower().replace(".", "_"))


def _close(ours, ref, what):
    assert math.isclose(float(ours), float(ref), rel_tol=1e-5, abs_tol=1e-5), (what, ours, ref)


def test_shipped_sensitivity_tables_equal_metafor(shipped):
    """results/sensitivity/ of the shipped run against shipped_sensitivity.R (REML, knha)."""
    ref = json.loads((ROOT / "tests/fixtures/shipped_sensitivity.json").read_text())
    checked = 0
    for aid, r in ref["analyses"].items():
        sens = shipped / "results/sensitivity" / aid
        for table in ("leave1out", "cumul", "influence"):
            ours = pd.read_csv(sens / f"{table}.csv")
            assert len(ours) == r["k"] == len(r[table])
            for i, row in enumerate(r[table]):
                for col, value in row.items():
                    if col in ("inf", "dfbs") or value is None:
                        continue
                    _close(ours.at[i, _name(col)], value, (aid, table, i, col))
                    checked += 1
        for table in ("regtest", "trimfill", "permutest", "ranktest"):
            ours = pd.read_csv(sens / f"{table}.csv").iloc[0]
            for col, value in r[table].items():
                if col == "side":
                    assert ours[col] == value
                else:
                    _close(ours[col], value, (aid, table, col))
                checked += 1
        if (sens / "subgroups.csv").exists():
            ours = pd.read_csv(sens / "subgroups.csv").set_index("subgroup")
            for g in r["subgroups"]["groups"]:
                for col in ("k", "estimate", "se", "ci_lb", "ci_ub", "tau2"):
                    _close(ours.at[g["subgroup"], col], g[col], (aid, g["subgroup"], col))
                    checked += 1
            between = ours.loc["subgroup differences"]
            _close(between["q_between"], r["subgroups"]["q_between"], (aid, "q_between"))
            assert between["df_between"] == r["subgroups"]["df_between"]
            common = pd.read_csv(sens / "subgroups_common.csv")
            if isinstance(r["subgroups_common"], str):  # metafor declined: so do we, saying why
                assert common["status"].iloc[0] == r["subgroups_common"]
            else:
                assert common["estimate"].tolist() == pytest.approx(
                    r["subgroups_common"]["estimate"], rel=1e-5, abs=1e-5
                )
                _close(common["qm"].iloc[0], r["subgroups_common"]["qm"], (aid, "qm"))
        if (sens / "metareg.csv").exists():
            ours = pd.read_csv(sens / "metareg.csv")
            assert ours["estimate"].tolist() == pytest.approx(
                r["metareg_year"]["estimate"], rel=1e-5, abs=1e-5
            )
            assert ours["se"].tolist() == pytest.approx(r["metareg_year"]["se"], rel=1e-5, abs=1e-5)
            _close(ours["qm"].iloc[0], r["metareg_year"]["qm"], (aid, "metareg qm"))
    assert checked > 300


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGKILL"])
def test_killed_run_started_again_gives_the_same_files(shipped, tmp_path, signal_name):
    """Interrupted mid-run (Ctrl-C/kill, or a power loss), every output already there is
    whole (equal to an uninterrupted run's); the run is started again and ends with the
    same files and no temporary file left (a write killed by SIGKILL leaves one, the next
    write of that output removes it). After SIGKILL snakemake's lock is removed first with
    --unlock, as snakemake asks. profiles/default sets rerun-incomplete."""
    import os
    import signal
    import time

    work = copy_project(tmp_path)
    cmd = command(work, cores=2)
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 120
    while not (work / "results/effects.csv").exists() and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, getattr(signal, signal_name))
    proc.wait(timeout=120)
    assert not (work / "report/index.html").exists()
    for rel in OUTPUTS:
        if (work / rel).exists():
            assert (work / rel).read_bytes() == (shipped / rel).read_bytes(), f"partial {rel}"
    if signal_name == "SIGKILL":
        subprocess.run([*cmd, "--unlock"], capture_output=True, check=True)
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    for rel in OUTPUTS:
        assert (work / rel).read_bytes() == (shipped / rel).read_bytes(), rel
    for leftover in [*work.glob("results/**/.*.tmp"), *work.glob("report/.*.tmp")]:
        pytest.fail(f"temporary file left behind: {leftover}")
