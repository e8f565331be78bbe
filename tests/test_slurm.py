"""The workflow through SLURM, as a cluster user runs it: `snakemake --profile profiles/slurm`.

Runs only where `sbatch` is on the PATH and a cluster answers `sinfo`, and is skipped otherwise
with the reason; `bash .ci/slurm-up` (as root, Debian) stands up a one-node cluster on this
machine. Every result file must equal, byte for byte, those of a local run of the same review.
That cluster is what the profile must cope with: no accounting (the test then adds the
profile's commented `--slurm-status-command squeue`, as a user would) and nodes of 2 CPUs
while the report rule asks for 4 (the profile's `max-threads`; without it that job pends for
ever and the run times out). Not run by .ci/run: it adds about 95 s, mostly status polling.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
#: The jobs that go through sbatch (the Snakefile's localrules, all and assemble, stay local).
RULES = ("harmonize", "pool_s0", "figures_s0", "render")
#: Longer than a run that waits in a busy queue should take; then the jobs are cancelled.
TIMEOUT = 1200


def _answers(*cmd: str) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return None


def no_cluster() -> str | None:
    """Why the SLURM run cannot be tried here, or None when it can."""
    if shutil.which("sbatch") is None:
        return "sbatch is not on the PATH (as root on Debian, `bash .ci/slurm-up` makes a cluster)"
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm is not installed (pip install -e '.[test]')"
    proc = _answers("sinfo", "-h", "-o", "%P %a")
    if proc is None or proc.returncode != 0 or " up" not in proc.stdout:
        said = "no answer in 60 s" if proc is None else (proc.stderr or proc.stdout).strip()
        said = said.splitlines()[-1] if said else "no partition is up"
        return f"no SLURM cluster answers `sinfo` with a partition up: {said}"
    return None


@pytest.fixture(scope="module")
def cluster():
    """Skip, with the reason, where no cluster answers (asked here, not at collection: a
    configured but stopped controller takes `sinfo` some seconds to give up on)."""
    why = no_cluster()
    if why:
        pytest.skip(why)


def accounting_flags() -> list[str]:
    """The profile's commented fix for a cluster without accounting, when this is one."""
    proc = _answers("sacct", "-n", "-X", "-o", "JobID")
    return [] if proc is not None and proc.returncode == 0 else ["--slurm-status-command", "squeue"]


def copy_review(dest: Path) -> Path:
    shutil.copytree(ROOT / "data", dest / "data")
    shutil.copy(ROOT / "config.yaml", dest / "config.yaml")
    return dest


def snakemake(work: Path, *extra: str) -> list:
    return [SNAKEMAKE, "-s", ROOT / "Snakefile", "--directory", work,
            "--configfile", work / "config.yaml", *extra]  # fmt: skip


def run_on_cluster(cmd: list) -> tuple[int, str]:
    """Run snakemake; past TIMEOUT interrupt it as a user would (it cancels its jobs)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)  # snakemake cancels its jobs (scancel)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # a run that lost its jobs ignores SIGINT
            proc.kill()
            out, _ = proc.communicate()
        queue = _answers("squeue", "-o", "%i %j %T %r")
        pytest.fail(
            f"the SLURM run took over {TIMEOUT} s; squeue said:\n"
            f"{queue.stdout if queue else '(no answer)'}\n{out[-3000:]}"
        )
    return proc.returncode, out


def result_files(work: Path) -> dict[str, bytes]:
    files = [*(work / "results").rglob("*"), work / "report/index.html"]
    return {str(f.relative_to(work)): f.read_bytes() for f in files if f.is_file()}


@pytest.fixture
def shared_dir():
    """A scratch folder inside the project: compute nodes see the project (README), not /tmp."""
    path = Path(tempfile.mkdtemp(prefix=".slurm-test-", dir=ROOT))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_slurm_run_equals_a_local_run(cluster, shared_dir, tmp_path):
    local = copy_review(tmp_path)
    proc = subprocess.run(snakemake(local, "--cores", "2"), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]

    cluster = copy_review(shared_dir)
    cmd = snakemake(cluster, "--profile", ROOT / "profiles/slurm", *accounting_flags())
    code, out = run_on_cluster(cmd)
    assert code == 0, out[-3000:]

    for rule in RULES:  # each job went through sbatch, not the local executor
        assert re.search(rf"submitted with SLURM jobid \d+ .*rule_{rule}/", out), rule
    ours, theirs = result_files(cluster), result_files(local)
    assert "results/pooled.csv" in theirs and len(theirs) > 20
    assert sorted(ours) == sorted(theirs)
    for rel, content in theirs.items():
        assert ours[rel] == content, rel
