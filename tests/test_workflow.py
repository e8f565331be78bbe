"""The workflow end to end, as a user runs it, on a copy of the shipped data."""

import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.estimators.reference import close, load, value

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


#: The shipped run's tables the R fixtures read, and their committed copies (tests/fixtures/).
FIXTURE_INPUTS = {
    "results/effects.csv": "shipped_effects.csv",
    "results/effects_univariate.csv": "shipped_univariate.csv",
    "results/vcov.csv": "shipped_vcov.csv",
}
RERUN = (
    "{table} of the shipped run differs from tests/fixtures/{fixture} ({what}). If the "
    "harmonization change is intended, copy the run's columns into the fixture (see the header "
    "of tests/fixtures/shipped_metafor.R) and rerun Rscript tests/fixtures/shipped_metafor.R and "
    "Rscript tests/fixtures/shipped_sensitivity.R"
)


def _same(a, b) -> bool:
    """Equal up to the last digits a CSV round trip may move (NaN equals NaN)."""
    a, b = float(a), float(b)
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-10, abs_tol=1e-13)


def assert_fixture_inputs(shipped: Path):
    """The effects, split/combine rows and V the R fixtures were fitted to are the run's own."""
    for table, fixture in FIXTURE_INPUTS.items():
        ref = pd.read_csv(ROOT / "tests/fixtures" / fixture)
        ours = pd.read_csv(shipped / table)
        what = f"{len(ours)} rows, the fixture {len(ref)}"
        assert len(ours) == len(ref), RERUN.format(table=table, fixture=fixture, what=what)
        for col in ref.columns:
            pairs = enumerate(zip(ours[col], ref[col], strict=True))
            if pd.api.types.is_float_dtype(ref[col]):
                bad = [i for i, (a, b) in pairs if not _same(a, b)]
            else:
                bad = [i for i, (a, b) in pairs if str(a) != str(b)]
            what = f"column {col}, rows {bad}"
            assert not bad, RERUN.format(table=table, fixture=fixture, what=what)


class Tally:
    """Counts the numbers compared with metafor and collects every mismatch."""

    def __init__(self):
        self.compared = 0
        self.bad: list[str] = []

    def check(self, ours, ref, what):
        self.compared += 1
        if not close(float(ours), float(ref)):
            self.bad.append(f"{what}: ours {ours!r}, metafor {ref!r}")

    def same(self, ours, ref, what):
        """A label (status, side, flag) that must equal metafor's."""
        if ours != ref:
            self.bad.append(f"{what}: ours {ours!r}, metafor {ref!r}")

    def report(self) -> str:
        return f"{len(self.bad)} of {self.compared} differ:\n" + "\n".join(self.bad)


#: pooled.csv's key: one row per analysis x subgroup x model x dependence x method x test.
POOLED_KEY = ["analysis_id", "subgroup", "model", "dependence", "method", "test"]
#: metafor's name in shipped_metafor.json -> pooled.csv's column, for every row ...
POOLED_COMMON = {
    "k": "k", "k_studies": "k_studies", "estimate": "estimate", "se": "se", "zval": "stat",
    "pval": "p", "ci_lb": "ci_low", "ci_ub": "ci_high", "df": "df", "pi_lb": "pi_low",
    "pi_ub": "pi_high", "QE": "q", "QE_df": "q_df", "QEp": "q_p",
}  # fmt: skip
#: ... and for rma.uni rows (empty in rma.mv rows) or rma.mv rows.
POOLED_UNI = {
    "tau2": "tau2", "I2": "i2", "H2": "h2", "tau2_ci_lb": "tau2_ci_low",
    "tau2_ci_ub": "tau2_ci_high", "tau2_pl_lb": "tau2_pl_low", "tau2_pl_ub": "tau2_pl_high",
}  # fmt: skip
POOLED_MV = {"sigma2_study": "sigma2_study", "sigma2_comparison": "sigma2_comparison"}
#: A k = 1 row is the study's own estimate: metafor's (test z, tau2 = 0); the rest is blank.
POOLED_K1 = ("k", "k_studies", "estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "df")
#: The ratio columns: exp of metafor's log-scale value.
POOLED_RATIOS = {
    "hr": "estimate", "hr_ci_low": "ci_lb", "hr_ci_high": "ci_ub", "hr_pi_low": "pi_lb",
    "hr_pi_high": "pi_ub",
}  # fmt: skip


def test_shipped_pooled_numbers_equal_metafor(shipped):
    """Every row of the shipped pooled.csv equals metafor on the same data (shipped_metafor.R):
    the rma.mv rows (REML/ML x z, t, CR2 at the exact optimum), the split and combine rma.uni
    rows beside them and every rma.uni subgroup, each method x test of the grid."""
    assert_fixture_inputs(shipped)
    ref = load("shipped_metafor.json")
    pooled = pd.read_csv(shipped / "results/pooled.csv")
    rows = {tuple(r[c] for c in POOLED_KEY): r for r in pooled.to_dict("records")}
    assert len(rows) == len(pooled), "pooled.csv repeats a key"
    fits = {tuple(f[c] for c in POOLED_KEY): f for f in ref["fits"]}
    assert set(rows) == set(fits), (set(rows) ^ set(fits), "rows without a reference or v.v.")
    tally = Tally()
    for key, fit in fits.items():
        row = rows[key]
        assert fit["error"] is None, (key, fit["error"])
        if fit["k"] == 1:
            names = {m: POOLED_COMMON[m] for m in POOLED_K1}
            ratios = {c: m for c, m in POOLED_RATIOS.items() if m in names}
            tally.same(row["status"].startswith("k = 1"), True, (key, "status"))
        else:
            extra = POOLED_UNI if fit["model"] == "rma.uni" else POOLED_MV
            names, ratios = POOLED_COMMON | extra, POOLED_RATIOS
            tally.same(row["status"].startswith("ok"), True, (key, "status", row["status"]))
        for theirs, ours in names.items():
            tally.check(row[ours], value(fit[theirs]), (*key, ours))
        for ours, theirs in ratios.items():
            tally.check(row[ours], math.exp(value(fit[theirs])), (*key, ours))
        if fit["model"] == "rma.mv":  # design.md: rma.mv rows leave tau2, its CIs, I2, H2 empty
            tally.same([c for c in POOLED_UNI.values() if not math.isnan(row[c])], [], key)
    assert not tally.bad, tally.report()
    print(f"pooled.csv: {len(fits)} rows, {tally.compared} numbers equal metafor")
    assert tally.compared > 3000, tally.compared  # 206 rows in the shipped run


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


def _name(r_name: str, **special) -> str:
    """metafor's name as the workflow writes it ('.' -> '_', lower case, tval = zval)."""
    table = {"tval": "zval", "pvals": "pval", "is_infl": "inf"} | special
    return table.get(r_name, r_name.lower().replace(".", "_"))


#: The columns of results/sensitivity/*.csv that are labels, not metafor numbers.
_LABELS = ("inf", "side", "term", "subgroup", "study_id", "solved", "error", "warning")


def _check_record(tally, ours: dict, ref: dict, what, **special):
    """Every number of a fixture record against the same-named column of our row."""
    for name, val in ref.items():
        if name in _LABELS or name.endswith("_warning") or name.startswith(("free_", "filled_")):
            continue
        if isinstance(val, bool):
            tally.same(bool(ours[_name(name, **special)]), val, (*what, name))
        else:
            tally.check(ours[_name(name, **special)], value(val), (*what, name))


def _check_rows(tally, table: pd.DataFrame, refs: list, what, **special):
    if len(table) != len(refs):
        tally.same(len(table), len(refs), (*what, "rows"))
        return
    for i, (row, ref) in enumerate(zip(table.to_dict("records"), refs, strict=True)):
        _check_record(tally, row, ref, (*what, i), **special)


def _check_moderators(tally, table: pd.DataFrame, ref: dict, what):
    """subgroups_common.csv / metareg.csv: one row per term, the model's numbers on each."""
    if "error" in ref:  # metafor declines: so do we, saying why
        tally.same(table["status"].iloc[0], ref["error"], (*what, "status"))
        return
    _check_rows(tally, table, ref["coefs"], what)
    model = {k: v for k, v in ref.items() if k not in ("coefs", "QMdf")}
    model |= {"qm_df": ref["QMdf"][0], "qm_df2": ref["QMdf"][1]}
    for i, row in enumerate(table.to_dict("records")):
        _check_record(tally, row, model, (*what, i))


def test_shipped_sensitivity_tables_equal_metafor(shipped):
    """Every number of results/sensitivity/ of the shipped run equals metafor on the same data
    (shipped_sensitivity.R, REML with Hartung-Knapp): the univariate diagnostics on the
    analysis's rows, or for a multilevel analysis on its split rows (the tables say so in
    ``model``); leave1study.csv refitting the multilevel model without each study; and
    hazard_based.csv pooling the hazard-based comparisons with the main model."""
    assert_fixture_inputs(shipped)
    ref = load("shipped_sensitivity.json")
    tally = Tally()
    for aid, r in ref["analyses"].items():
        sens = shipped / "results/sensitivity" / aid

        def read(table, sens=sens):
            return pd.read_csv(sens / f"{table}.csv")

        for table in ("leave1out", "cumul", "influence", "regtest", "ranktest", "trimfill",
                      "permutest", "subgroups", "subgroups_common", "metareg"):  # fmt: skip
            if table not in r and table != "trimfill":
                assert not (sens / f"{table}.csv").exists(), (aid, table)
                continue
            model = read(table)["model"].iloc[0]
            tally.same("split" in model, r["diagnostics_on"] == "split", (aid, table, model))
        for table in ("leave1out", "influence"):
            tally.same(read(table)["study_id"].tolist(), r["study_id"], (aid, table, "order"))
            _check_rows(tally, read(table), r[table], (aid, table))
        _check_rows(tally, read("cumul"), r["cumul"], (aid, "cumul"))
        for table in ("regtest", "ranktest", "permutest"):
            _check_record(tally, read(table).iloc[0], r[table], (aid, table))
        tf = read("trimfill").iloc[0]
        _check_record(tally, tf, r["trimfill"], (aid, "trimfill"))
        tally.same(tf["side"], r["trimfill"]["side"], (aid, "trimfill", "side"))
        filled = read("trimfill_filled").dropna(subset=["yi"])
        added = zip(r["trimfill"]["filled_yi"], r["trimfill"]["filled_vi"], strict=True)
        fill = [{"yi": y, "vi": v} for y, v in added]
        _check_rows(tally, filled, fill, (aid, "trimfill_filled"))
        if "subgroups" in r:
            sub = read("subgroups").set_index("subgroup")
            for g in r["subgroups"]["groups"]:
                _check_record(tally, sub.loc[g["subgroup"]], g, (aid, "subgroups", g["subgroup"]),
                              QE="q", QEp="qp")  # fmt: skip
            between = sub.loc["subgroup differences"]
            ref_between = {k: v for k, v in r["subgroups"].items() if k != "groups"}
            _check_record(tally, between, ref_between, (aid, "subgroup differences"))
            _check_moderators(tally, read("subgroups_common"), r["subgroups_common"],
                              (aid, "subgroups_common"))  # fmt: skip
        if "metareg" in r:
            _check_moderators(tally, read("metareg"), r["metareg"], (aid, "metareg"))
        l1s = read("leave1study")
        if r["multilevel"]:
            assert l1s["study_id"].tolist() == [x["study_id"] for x in r["leave1study"]], aid
            for row, x in zip(l1s.to_dict("records"), r["leave1study"], strict=True):
                what = (aid, "leave1study", x["study_id"])
                if x["error"] is not None:  # one comparison left: metafor stops, so do we
                    tally.same(row["status"], x["error"], (*what, "status"))
                    tally.same(math.isnan(row["estimate"]) and math.isnan(row["se"]), True, what)
                    continue
                if x.get("free_warning") is not None:  # one study left: sigma2_study fixed at 0
                    tally.same(x["free_warning"] in row["notes"], True, (*what, "notes"))
                    tally.same(row["status"], "ok", (*what, "status"))
                keep = {k: v for k, v in x.items() if k not in ("df", "QE_df", "k", "k_studies",
                                                                "logLik", "pred")}  # fmt: skip
                _check_record(tally, row, keep, what, QE="q", QEp="qp")
        else:
            tally.same(l1s["status"].iloc[0].startswith("not pooled"), True, (aid, "leave1study"))
        hb = read("hazard_based").iloc[0]
        x = r["hazard_based"]
        if "estimate" not in x:  # no HR pooled: the table says why
            tally.same(hb["status"], x["error"], (aid, "hazard_based", "status"))
        else:
            for label in ("model", "dependence", "method", "test"):
                tally.same(hb[label], x[label], (aid, "hazard_based", label))
            labels = ("model", "dependence", "method", "test", "logLik", "pred")
            keep = {k: v for k, v in x.items() if k not in labels}
            _check_record(tally, hb, keep, (aid, "hazard_based"), df="dfs", QE_df="qe_df")
    assert not tally.bad, tally.report()
    print(f"results/sensitivity/: {tally.compared} numbers equal metafor")
    assert tally.compared > 500, tally.compared


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


def test_results_do_not_depend_on_the_shard_count(shipped, tmp_path):
    """The review split over three pool and figure jobs (one per analysis) writes the same
    bytes as one job: every results/ table, every figure and the report (issue 18)."""
    import yaml

    work = copy_project(tmp_path)
    config = yaml.safe_load((work / "config.yaml").read_text())
    config["shards"] = 3
    (work / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    proc = run(work, cores=2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for sub in ("pool_s0", "pool_s1", "pool_s2", "merge_pool", "figures_s2"):
        assert (work / "logs" / f"{sub}.log").exists(), sub
    written = sorted(p.relative_to(shipped) for p in (shipped / "results").rglob("*.csv"))
    written += sorted(p.relative_to(shipped) for p in (shipped / "results").rglob("*.svg"))
    assert len(written) > 40
    for rel in written:
        assert (work / rel).read_bytes() == (shipped / rel).read_bytes(), rel
    # The report differs only where it prints the configuration as run (shards: 3).
    config_block = re.compile(r'<pre class="config".*?</pre>', re.S)
    ours, theirs = ((root / "report/index.html").read_text() for root in (work, shipped))
    assert "shards: 3" in config_block.search(ours).group(0)
    assert config_block.sub("", ours) == config_block.sub("", theirs)
