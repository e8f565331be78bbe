"""Unit costs behind the config check's warnings (survmeta.costs), measured on this machine.

    python bench/costs.py [--k 20 30] [--subsets 100000] [--iter 100000]

For each k: GOSH with each estimator (fit per subset), then writing, re-reading and
plotting the rows as the pool and report jobs do; the permutation test per sign
pattern. Compare the printed figures with the constants of survmeta/costs.py and
update them (and its docstring) when the code gets faster or slower.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from survmeta.costs import GOSH_FIT_S, GOSH_ROW_S, ITERATIVE, PERMUTATION_S
from survmeta.estimators.gosh import gosh, write_gosh_csv
from survmeta.estimators.permutation import permutest
from survmeta.figures.data import read_table
from survmeta.figures.gosh_plot import gosh_svg

METHODS = ("DL", "REML", "ML", "PM", "SJ", "HE", "EB")


def per_unit(n, fn, *args, **kw) -> float:
    """Microseconds per unit of ``fn(*args, **kw)`` doing ``n`` units."""
    t = time.perf_counter()
    fn(*args, **kw)
    return (time.perf_counter() - t) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, nargs="+", default=[20, 30])
    ap.add_argument("--subsets", type=int, default=100_000)
    ap.add_argument("--iter", type=int, default=100_000)
    args = ap.parse_args()
    print(f"model (µs): GOSH fit {GOSH_FIT_S[True] * 1e6:g} iterative / {GOSH_FIT_S[False] * 1e6:g}"
          f" closed-form + {GOSH_ROW_S * 1e6:g} per row; permutation {PERMUTATION_S[True] * 1e6:g}"
          f" / {PERMUTATION_S[False] * 1e6:g}")  # fmt: skip
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "g.csv")
        for k in args.k:
            y, v = rng.normal(-0.3, 0.3, k), rng.uniform(0.02, 0.2, k)
            n = min(2**k - 1, args.subsets)
            for method in METHODS:
                fit = per_unit(n, gosh, y, v, method, subsets=n, seed=1)
                perm = per_unit(args.iter, permutest, y, v, method, "knha", iter=args.iter, seed=1)
                kind = "iterative" if method in ITERATIVE else "closed-form"
                print(f"k={k} {method:4} ({kind}): GOSH fit {fit:6.2f} µs/subset,"
                      f" permutation {perm:6.2f} µs/pattern")  # fmt: skip
            table = gosh(y, v, "DL", subsets=n, seed=1)
            labels = [f"Study{i:02d}: tace vs ssa" for i in range(k)]
            write = per_unit(n, write_gosh_csv, table, path, labels)
            read = per_unit(n, read_table, path)
            plot = per_unit(n, gosh_svg, read_table(path), "GOSH")
            size = os.path.getsize(path) / n
            print(f"k={k} rows: write {write:.2f} + read {read:.2f} + plot {plot:.2f} µs/row,"
                  f" {size:.0f} bytes/row")  # fmt: skip


if __name__ == "__main__":
    main()
