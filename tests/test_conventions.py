"""The workflow follows Snakemake's conventions (issue 8): lint, format, entry points, profile."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
BIN = Path(sys.executable).parent


def snakemake(*args, cwd=ROOT):
    return subprocess.run(
        [BIN / "snakemake", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_lint_is_clean():
    proc = snakemake("--lint")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakefmt_leaves_the_files_unchanged():
    files = [ROOT / "Snakefile", ROOT / "workflow"]
    proc = subprocess.run([BIN / "snakefmt", "--check", *files], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("entry", [[], ["-s", "workflow/Snakefile"]])
def test_both_entry_points_build_every_output(entry):
    """The catalog's workflow/Snakefile keeps a default target that builds what `all` does."""
    proc = snakemake(*entry, "-n", "-F", "--cores", "1")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    for rule in ("harmonize", "pool_s0", "figures_s0", "render", "assemble"):
        assert f"rule {rule}:" in out


def test_slurm_profile_dry_run():
    pytest.importorskip("snakemake_executor_plugin_slurm")
    proc = snakemake("--profile", "profiles/slurm", "-n", "-F")
    assert proc.returncode == 0, proc.stderr
    assert "harmonize" in proc.stdout + proc.stderr
