"""What the slow settings will cost, said before the run (issues 18 and 19).

GOSH fits 2^k - 1 subsets per analysis (at most ``gosh_subsets``) and writes one CSV
row each; the permutation test fits min(2^k, ``permutations``) sign patterns (metafor
runs the exact test when 2^k <= iter). Both grow without a word from the workflow, so
the config check estimates them from the tables and warns (it does not stop) when a
run will take more than about a minute or write more than ~50 MB.

The unit costs were measured with this code on the project's 2-core machine, shared
(``bench/costs.py``; k = 10-40, random data, two runs):

- GOSH fit per subset: iterative estimators (REML, ML, PM, EB) 0.8-184 µs, data-
  dependent (REML 18-70 µs on most datasets, 184 µs on one at k = 30 where many
  subsets converge slowly); closed-form ones (DL, HE, SJ) 0.7-2.2 µs. Writing,
  re-reading and plotting each row: 10-22 µs more (write 3-5, read 3-4, plot 2-14).
- Permutation test per sign pattern: iterative 6-73 µs (REML with knha 17-73 µs),
  closed-form 0.7-2.8 µs. Issue 19 measured 10^7 patterns at k = 30 in 270 s: 27 µs.
- GOSH CSV: about 80 bytes per row plus the ``included`` labels (k/2 on average);
  268-396 bytes per row measured at k = 20-30.

The model takes a typical iterative cost, not the worst: an estimate within a factor of
about 3, enough to say "minutes" or "a few hundred MB" before the run.
"""

from __future__ import annotations

from .config import comparison_counts
from .problems import Problem

#: Seconds per GOSH subset fit and per permutation, by whether the estimator iterates.
ITERATIVE = ("REML", "ML", "PM", "PMM", "EB")
GOSH_FIT_S = {True: 60e-6, False: 2e-6}
GOSH_ROW_S = 10e-6
PERMUTATION_S = {True: 30e-6, False: 2e-6}
GOSH_ROW_BYTES = 80
#: Above these a warning is printed.
SLOW_S = 60.0
LARGE_BYTES = 50e6


def _human_s(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _human_bytes(n: float) -> str:
    return f"{n / 1e6:.0f} MB" if n < 1e9 else f"{n / 1e9:.1f} GB"


def analysis_sizes(tables: dict, config: dict) -> list[tuple[str, int, float]]:
    """(analysis id, k, mean length of a comparison's label) per analysis.

    k counts comparisons from the arms table (:func:`comparison_counts`; one per study
    under ``multiarm: combine``), an upper bound of what harmonization will estimate.
    """
    arms = tables["arms"]
    combine = config.get("multiarm", "split") == "combine"
    out = []
    for analysis in config["analyses"]:
        counts = comparison_counts(arms, analysis)
        k = len(counts) if combine else sum(counts.values())
        rows = arms[arms["study_id"].isin(counts) & (arms["outcome"] == analysis["outcome"])]
        label = 0.0
        if len(rows):  # "study: treatment_arm vs control_arm"
            ids, arm_ids = rows["study_id"].astype(str), rows["arm_id"].astype(str)
            label = ids.str.len().mean() + 2 * arm_ids.str.len().mean() + 6
        out.append((analysis["id"], k, float(label)))
    return out


def gosh_cost(k: int, label: float, method: str, cap: int) -> tuple[int, float, float]:
    """(subsets, seconds, CSV bytes) of one analysis's GOSH: 2^k - 1 subsets, at most ``cap``."""
    subsets = min(2**k - 1, cap) if k > 1 else 0
    seconds = subsets * (GOSH_FIT_S[method in ITERATIVE] + GOSH_ROW_S)
    return subsets, seconds, subsets * (GOSH_ROW_BYTES + k / 2 * (label + 1))


def permutation_cost(k: int, method: str, iters: int) -> tuple[int, float]:
    """(sign patterns, seconds) of one analysis's permutation test: min(2^k, iter)."""
    patterns = min(2**k, iters) if k > 1 else 0
    return patterns, patterns * PERMUTATION_S[method in ITERATIVE]


def cost_warnings(tables: dict, config: dict, label: str) -> list[Problem]:
    """A warning line per costly setting, naming the setting to change; [] when cheap.

    ``config`` as the schema fills it (gosh_subsets, permutations defaults).
    """
    sens = config.get("sensitivity") or {}
    method = (config.get("pooling") or {}).get("method", "REML")
    sizes = analysis_sizes(tables, config)
    ks = {aid: k for aid, k, _ in sizes}
    out = []
    if sens.get("gosh", False):
        cap = sens.get("gosh_subsets", 10**6)
        gosh = {aid: gosh_cost(k, lab, method, cap) for aid, k, lab in sizes}
        subsets = sum(n for n, _, _ in gosh.values())
        seconds = sum(s for _, s, _ in gosh.values())
        nbytes = sum(b for _, _, b in gosh.values())
        big = max(gosh, key=lambda aid: gosh[aid][2])
        if seconds > SLOW_S or gosh[big][2] > LARGE_BYTES:
            out.append(
                Problem(
                    label,
                    None,
                    "sensitivity.gosh",
                    f"warning: GOSH will fit {subsets:,} subsets with {method} (largest: {big},"
                    f" k = {ks[big]}, {gosh[big][0]:,} subsets): about {_human_s(seconds)} and"
                    f" {_human_bytes(nbytes)} of CSV (results/gosh/{big}.csv"
                    f" {_human_bytes(gosh[big][2])}); lower sensitivity.gosh_subsets"
                    f" (now {cap:,}) or set sensitivity.gosh: false",
                )
            )
    iters = sens.get("permutations", 1000)
    perm = {aid: permutation_cost(k, method, iters) for aid, k, _ in sizes}
    seconds = sum(s for _, s in perm.values())
    if seconds > SLOW_S:
        big = max(perm, key=lambda aid: perm[aid][0])
        out.append(
            Problem(
                label,
                None,
                "sensitivity.permutations",
                f"warning: the permutation tests will fit {sum(n for n, _ in perm.values()):,}"
                f" sign patterns with {method} (largest: {big}, k ="
                f" {ks[big]}, {perm[big][0]:,} patterns): about {_human_s(seconds)}; lower"
                f" sensitivity.permutations (now {iters:,})",
            )
        )
    return out
