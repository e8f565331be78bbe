"""GOSH speed: R metafor's gosh() against survmeta's, side by side in one run.

    python bench/gosh.py [--k 18] [--method REML] [--seed 1] [--keep DIR] [--converged]

One dataset of k studies (vi ~ U(0.01, 0.2), yi ~ N(-0.3, vi + 0.05), rounded
to 6 decimals) is fitted with both. metafor runs with its default control, as a
user runs it (its time is the yardstick), or with --converged as the fixtures
do (control tol = threshold = 1e-12, maxiter = 10000; at k = 18 that takes
metafor more than 10 minutes here). survmeta always solves to full precision,
so with metafor's defaults a few subsets may differ beyond 1e-5 where
metafor's stopping rule (threshold 1e-5) stops short; they are counted.

  R   Rscript: rma.uni() then gosh(res) (all 2^k - 1 subsets when <= 10^6),
      its full result written to a CSV for the comparison. Timed: gosh() alone
      (R's system.time) and the whole Rscript process.
  us  survmeta.estimators.gosh.gosh() plus write_gosh_csv() of every subset
      (mask, k, estimate, tau2, i2, h2, q at %.12g), as the workflow job writes it.

Every subset's numbers are compared (1e-5 abs + 1e-5 rel, NaN where metafor
has NA); prints both times and the ratio.

End to end (issue 18's measure): the workflow run on a synthetic review whose one
analysis has k studies (bench/synthetic.py), with ``sensitivity: gosh`` on and off,
alternated --repeat times; what GOSH adds to the run (the difference of the medians:
the subsets, their CSV, the GOSH plot and its report section) is held against
metafor's gosh() time (target: at most 1/20).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
from speed import snakemake, timed  # noqa: E402
from synthetic import write_review  # noqa: E402

from survmeta.estimators.gosh import gosh, write_gosh_csv  # noqa: E402

R_SCRIPT = r"""
suppressPackageStartupMessages(library(metafor))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], colClasses = "character")
yi <- as.numeric(d$yi); vi <- as.numeric(d$vi)
ctrl <- list()
if (args[4] == "converged") ctrl <- list(tol = 1e-12, threshold = 1e-12, maxiter = 10000)
res <- rma.uni(yi, vi, method = args[3], control = ctrl)
tm <- system.time(g <- gosh(res, progbar = FALSE))[["elapsed"]]
mask <- as.vector(g$incl %*% 2^(seq_len(ncol(g$incl)) - 1))
f <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))
out <- data.frame(mask = sprintf("%.0f", mask), k = g$res$k, estimate = f(g$res$estimate),
                  tau2 = f(g$res$tau2), i2 = f(g$res$I2), h2 = f(g$res$H2), q = f(g$res$QE))
write.csv(out, args[2], row.names = FALSE, quote = FALSE)
cat(sprintf("%.3f\n", tm))
"""


def dataset(k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.2, k)
    yi = rng.normal(-0.3, np.sqrt(vi + 0.05))
    return np.round(yi, 6), np.round(vi, 6)


def compare(ours: pd.DataFrame, theirs: pd.DataFrame) -> tuple[int, int]:
    """(numbers compared, mismatches) over every subset and column."""
    if ours["mask"].tolist() != theirs["mask"].tolist():
        sys.exit("row order differs from metafor's")
    if ours["k"].tolist() != theirs["k"].tolist():
        sys.exit("k differs from metafor's")
    n = bad = 0
    for col in ("estimate", "tau2", "i2", "h2", "q"):
        a = ours[col].to_numpy(dtype=float)
        b = theirs[col].to_numpy(dtype=float)
        same_nan = np.isnan(a) == np.isnan(b)
        ok = np.isnan(b) | (np.abs(a - b) <= 1e-5 + 1e-5 * np.abs(b))
        n += a.size
        bad += int(np.count_nonzero(~(same_nan & ok)))
    return n, bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=18)
    ap.add_argument("--method", default="REML")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="keep the CSVs in this directory")
    ap.add_argument("--repeat", type=int, default=3, help="workflow runs with and without GOSH")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--converged", action="store_true", help="metafor fully converged")
    opts = ap.parse_args()
    yi, vi = dataset(opts.k, opts.seed)
    with tempfile.TemporaryDirectory() as tmp:
        work = opts.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        data = work / "data.csv"
        pd.DataFrame({"yi": [f"{x:.6f}" for x in yi], "vi": [f"{x:.6f}" for x in vi]}).to_csv(
            data, index=False
        )
        script = work / "gosh.R"
        script.write_text(R_SCRIPT)
        r_csv, our_csv = work / "gosh_metafor.csv", work / "gosh_survmeta.csv"

        print(f"k = {opts.k} ({2**opts.k - 1:,} subsets), method {opts.method}", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(
            [
                "Rscript",
                str(script),
                str(data),
                str(r_csv),
                opts.method,
                "converged" if opts.converged else "default",
            ],  # fmt: skip
            capture_output=True,
            text=True,
        )
        r_wall = time.perf_counter() - t0
        if proc.returncode != 0:
            sys.exit(f"Rscript failed:\n{proc.stderr[-2000:]}")
        r_gosh = float(proc.stdout.strip().splitlines()[-1])

        t0 = time.perf_counter()
        df = gosh(yi, vi, opts.method)
        t_fit = time.perf_counter() - t0
        write_gosh_csv(df, our_csv)
        ours_s = time.perf_counter() - t0

        theirs = pd.read_csv(r_csv, na_values=["NA"])
        n, bad = compare(pd.read_csv(our_csv), theirs)
    print(f"metafor gosh():           {r_gosh:10.2f} s  (Rscript process {r_wall:.2f} s)")
    csv_s = ours_s - t_fit
    print(f"survmeta gosh() + CSV:    {ours_s:10.2f} s  (fit {t_fit:.2f} s, CSV {csv_s:.2f} s)")
    ratio = ours_s / r_gosh
    print(f"ratio ours / metafor:     {ratio:10.5f}  (1/{1 / ratio:.0f}; target < 1/20)")
    print(
        f"compared {n:,} numbers over {len(theirs):,} subsets: {bad} outside 1e-5 abs + 1e-5 rel"
        f"; {int(theirs['estimate'].isna().sum())} subsets NA in metafor"
    )
    on, off = workflow_times(opts.k, opts.repeat, opts.cores, opts.method)
    added = on - off
    print(f"workflow run, GOSH off:   {off:10.2f} s  (median of {opts.repeat})")
    print(f"workflow run, GOSH on:    {on:10.2f} s")
    print(
        f"GOSH adds {added:.2f} s = 1/{r_gosh / max(added, 1e-9):.0f} of metafor's gosh() "
        f"(target: at most 1/20)"
    )
    if (bad and opts.converged) or added * 20 > r_gosh:
        sys.exit(1)


def workflow_times(k: int, repeat: int, cores: int, method: str) -> tuple[float, float]:
    """Median wall times of the workflow's clean run with GOSH on and off, alternated."""
    times = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeat):
            for on in (True, False):
                work = write_review(Path(tmp) / f"{on}{i}", studies=k, analyses=1, grouped=0,
                                    gosh=on, method=method)  # fmt: skip
                times[on].append(timed(snakemake(work, cores)))
    return float(np.median(times[True])), float(np.median(times[False]))


if __name__ == "__main__":
    main()
