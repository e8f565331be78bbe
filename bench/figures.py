"""Issue 18's figure timing: every figure of a finished run drawn, side by side with a revision.

    python bench/figures.py [--workdir DIR [--configfile FILE]] [--against REV]
                            [--rounds 5] [--repeat 3]

Draws the figures of a finished run (``--workdir``: a directory holding ``results/``, and
its config; default: the shipped review, run once into a temporary directory) with
``survmeta.figures.plots.all_figures`` on one core, as the report job does. With
``--against REV`` the ``src/`` of git revision REV is extracted next to this tree and both
are timed in alternating fresh processes (``--rounds`` each, ``--repeat`` draws per
process), so that both see the same machine load. Prints, per tree, the medians (seconds)
of:

  cold      the first all_figures of a process (matplotlib's import and font set-up
            included: what the report job pays);
  all       all_figures again in the same process;
  <kind>    each figure kind alone (forest, funnel, gosh; bayes_tau and km where the tree
            draws them), every analysis;
  forest k= a forest plot of --big-k synthetic studies (issue 18's grouped analyses);

and the ratios this tree / REV, for the kinds both draw and in total.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

#: Run in a fresh process with PYTHONPATH on the tree to time; prints one JSON line.
CHILD = r"""
import gc, json, sys, time
from pathlib import Path
import yaml
import survmeta
from survmeta.figures import plots
from survmeta.figures.data import gosh_tables, read_table, sensitivity_tables

work, config_path, repeat = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
big_k = int(sys.argv[4])
res = work / "results"
config = yaml.safe_load(config_path.read_text())
analyses = config["analyses"]
level = config.get("pooling", {}).get("level", 0.95)
# The tables report.build.load_results reads (its signature is the report's business).
results = {p.stem: read_table(p) for p in sorted(res.glob("*.csv"))}
results.update({p.stem: read_table(p) for p in sorted((res / "validated").glob("*.csv"))})
results["sensitivity"] = sensitivity_tables(sorted(res.glob("sensitivity/*/*.csv")))
results["gosh"] = gosh_tables(sorted(res.glob("gosh/*.csv")), [a["id"] for a in analyses])
t = time.perf_counter()
drawn = plots.all_figures(analyses, results, level)
cold = time.perf_counter() - t
# Each kind alone, as both trees draw it (bayes_tau and km exist in newer trees only).
kinds = {
    "forest": lambda a: plots.forest_for(a, results, level),
    "funnel": lambda a: plots.funnel_for(a, results),
    "gosh": lambda a: plots.gosh_for(a, results) if a["id"] in results["gosh"] else None,
    "bayes_tau": getattr(plots, "bayes_tau_for", None),
    "km": getattr(plots, "km_for", None),
}
warm = {"all": []} | {k: [] for k, f in kinds.items() if f is not None}
for _ in range(repeat):
    gc.collect()  # each timing starts clean: no collection of another's garbage in it
    t = time.perf_counter()
    plots.all_figures(analyses, results, level)
    warm["all"].append(time.perf_counter() - t)
    for k, f in kinds.items():
        if f is None:
            continue
        if k in ("bayes_tau", "km"):
            f = (lambda g: lambda a: g(a, results))(f)
        gc.collect()
        t = time.perf_counter()
        for a in analyses:
            f(a)
        warm[k].append(time.perf_counter() - t)
if big_k:  # one analysis pooling big_k studies, as the grouped analyses of issue 18's review
    import numpy as np, pandas as pd
    from survmeta.figures.forest import forest_svg
    rng = np.random.default_rng(1)
    yi, se = rng.normal(-0.3, 0.3, big_k), rng.uniform(0.1, 0.4, big_k)
    rows = pd.DataFrame({
        "study_id": [f"Study{i:04d}" for i in range(big_k)], "treatment_arm": "resection",
        "control_arm": "systemic_therapy", "yi": yi, "ci_lb": yi - 1.96 * se,
        "ci_ub": yi + 1.96 * se, "weight": 100 / big_k, "n_treatment": 50, "n_control": 60,
        "events_t": 20.0, "events_c": 30.0, "year": 1990 + np.arange(big_k) % 30,
    })
    fit = dict(estimate=-0.3, ci_low=-0.4, ci_high=-0.2, pi_low=-0.9, pi_high=0.3, tau2=0.05,
               i2=40.0, q=300.0, q_df=big_k - 1, q_p=0.001, stat=-5.0, df=big_k - 1, p=0.001,
               method="REML", test="knha", k=big_k, k_studies=big_k, model="rma.uni")
    warm[f"forest k={big_k}"] = []
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        forest_svg(rows, fit, "Synthetic", "liver-directed", "systemic")
        warm[f"forest k={big_k}"].append(time.perf_counter() - t)
counts = {}
for svgs in drawn.values():
    for k, v in svgs.items():
        counts[k] = counts.get(k, 0) + (len(v) if isinstance(v, dict) else 1)
print(json.dumps({"file": survmeta.__file__, "cold": cold, "warm": warm, "counts": counts}))
"""


def run(cmd, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{proc.stderr[-3000:]}")
    return proc


def shipped_run(dest: Path) -> Path:
    """The shipped review's results (harmonize and pool, 2 cores) in ``dest``: the figures
    are drawn here, not by the workflow's report job."""
    shutil.copytree(ROOT / "data", dest / "data")
    shutil.copy(ROOT / "config.yaml", dest / "config.yaml")
    run([BIN / "snakemake", "-s", ROOT / "Snakefile", "--directory", dest, "--cores", "2", "-q",
         "--omit-from", "report"])  # fmt: skip
    return dest


def extract(rev: str, dest: Path) -> Path:
    """``src/`` of git revision ``rev`` under ``dest`` (only the package, nothing else)."""
    dest.mkdir(parents=True, exist_ok=True)
    tar = dest / "src.tar"
    with open(tar, "wb") as fh:
        subprocess.run(["git", "-C", ROOT, "archive", rev, "src"], stdout=fh, check=True)
    with tarfile.open(tar) as t:
        t.extractall(dest, filter="data")
    return dest / "src"


def time_tree(src: Path, work: Path, config: Path, repeat: int, big_k: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "MPLBACKEND": "agg"}
    cmd = [sys.executable, "-c", CHILD, work, config, str(repeat), str(big_k)]
    out = json.loads(run(cmd, env=env).stdout)
    assert out["file"].startswith(str(src)), f"timed {out['file']}, not the tree under {src}"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, help="a finished run (results/ and its config)")
    ap.add_argument("--configfile", type=Path, help="its config (default: WORKDIR/config.yaml)")
    ap.add_argument("--against", help="git revision to time side by side (e.g. main)")
    ap.add_argument("--rounds", type=int, default=5, help="fresh processes per tree")
    ap.add_argument("--repeat", type=int, default=3, help="warm draws per process")
    ap.add_argument("--big-k", type=int, default=200, help="also a forest plot of this many "
                    "studies (synthetic); 0: none")  # fmt: skip
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="survmeta-figbench-"))
    try:
        work = args.workdir or shipped_run(tmp / "shipped")
        config = args.configfile or work / "config.yaml"
        trees = {"this tree": ROOT / "src"}
        if args.against:
            trees[args.against] = extract(args.against, tmp / "against")
        runs: dict[str, list[dict]] = {name: [] for name in trees}
        for _ in range(args.rounds):  # alternate, so both see the same load
            for name, src in trees.items():
                runs[name].append(time_tree(src, work, config, args.repeat, args.big_k))
        med: dict[str, dict[str, float]] = {}
        for name, rs in runs.items():
            med[name] = {"cold": statistics.median(r["cold"] for r in rs)}
            for kind in rs[0]["warm"]:
                med[name][kind] = statistics.median(w for r in rs for w in r["warm"][kind])
            drawn = ", ".join(f"{n} {k}" for k, n in sorted(rs[0]["counts"].items()))
            print(f"{name}: draws {drawn}; median of {args.rounds} processes x "
                  f"{args.repeat} draws (s):")  # fmt: skip
            print("   " + ", ".join(f"{k} {v:.3f}" for k, v in med[name].items()))
        if args.against:
            a, b = med["this tree"], med[args.against]
            common = [k for k in ("forest", "funnel", "gosh") if k in a and k in b]
            big = [k for k in a if k.startswith("forest k=")]
            ratios = {k: a[k] / b[k] for k in ("cold", "all", *common, *big)}
            ratios["forest+funnel+gosh"] = sum(a[k] for k in common) / sum(b[k] for k in common)
            print(f"this tree / {args.against} (below 1: faster; cold and all include the kinds "
                  "only this tree draws):")  # fmt: skip
            print("   " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
