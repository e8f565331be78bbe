"""Issues 9 and 18's speed figures, measured side by side in one run on this machine.

    python bench/speed.py [--cores 2] [--repeat 3]

Prints, each as the median of --repeat runs:
  floor     one Python process importing pandas, scipy.stats, statsmodels.api, pymare,
            matplotlib.pyplot and jinja2, plus snakemake's own no-op of a one-rule workflow;
  shipped   the shipped workflow: a clean run and a no-op rerun;
  synthetic bench/synthetic.py's 500-study, 50-analysis review (20 analyses grouping
            several classes, every method x test, the default sensitivity analyses; once);
and the ratios against issue 18's targets: clean <= 1.5 x floor, no-op <= 1.2 x snakemake's
own no-op, synthetic < 30 s on 2 cores.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
IMPORTS = "import pandas, scipy.stats, statsmodels.api, pymare, matplotlib.pyplot, jinja2"

sys.path.insert(0, str(ROOT / "bench"))
from synthetic import write_review  # noqa: E402


def timed(cmd, cwd=None) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{proc.stderr[-2000:]}")
    return elapsed


def snakemake(workdir: Path, cores: int, *extra) -> list:
    return [
        BIN / "snakemake",
        "-s",
        ROOT / "Snakefile",
        "--directory",
        workdir,
        "--configfile",
        workdir / "config.yaml",
        "--cores",
        str(cores),
        "-q",
        *extra,
    ]


def shipped_copy(dest: Path) -> Path:
    shutil.copytree(ROOT / "data" / "nelm", dest / "data" / "nelm")
    shutil.copy(ROOT / "config.yaml", dest / "config.yaml")
    return dest


def median_of(n: int, fn) -> float:
    return statistics.median(fn() for _ in range(n))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-synthetic", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="survmeta-bench-"))

    imports = median_of(args.repeat, lambda: timed([sys.executable, "-c", IMPORTS]))
    toy = tmp / "toy"
    toy.mkdir()
    (toy / "Snakefile").write_text('rule all:\n    input: "x"\n')
    (toy / "x").write_text("")
    sm_noop = median_of(
        args.repeat, lambda: timed([BIN / "snakemake", "--cores", "1", "-q"], cwd=toy)
    )
    floor = imports + sm_noop

    def clean_run() -> float:
        work = shipped_copy(Path(tempfile.mkdtemp(dir=tmp)))
        return timed(snakemake(work, args.cores))

    clean = median_of(args.repeat, clean_run)
    work = shipped_copy(tmp / "noop")
    timed(snakemake(work, args.cores))
    noop = median_of(args.repeat, lambda: timed(snakemake(work, args.cores)))

    print(f"cores: {args.cores}, median of {args.repeat}")
    print(f"imports (pandas, scipy.stats, statsmodels.api, pymare, mpl, jinja2): {imports:6.2f} s")
    print(f"snakemake no-op, one-rule workflow:                                {sm_noop:6.2f} s")
    print(f"floor = imports + snakemake no-op:                                 {floor:6.2f} s")
    print(f"shipped clean run:  {clean:6.2f} s  = {clean / floor:4.2f} x floor     (target <= 1.5)")
    print(
        f"shipped no-op:      {noop:6.2f} s  = {noop / sm_noop:4.2f} x snakemake's (target <= 1.2)"
    )
    if not args.skip_synthetic:
        syn = write_review(tmp / "synthetic")
        big = timed(snakemake(syn, args.cores))
        print(f"500 studies, 50 analyses, all sensitivity on: {big:6.2f} s (target < 30)")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
