"""A synthetic review: N studies in A analyses, for timing the workflow at scale.

Each study compares one arm class ``drug_XX`` (of ``classes``) with ``control`` and reports
an HR with its CI (a fifth report medians instead, a fifth a log-rank p with events), so
harmonization exercises several methods. The first ``A - grouped`` analyses each pool one
class; the last ``grouped`` analyses each pool a seeded selection of 20 to 30 classes, a
few hundred studies each (issue 18's review). Every tau^2 method and every test is in the
sensitivity grid. Seeded: the same call writes the same files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

MODALITIES = ["resection", "ablation", "tace", "sirt"]


def write_review(
    dest: Path,
    studies: int = 500,
    analyses: int = 50,
    seed: int = 1,
    grouped: int = 20,
    gosh: bool = False,
    method: str = "REML",
) -> Path:
    rng = np.random.default_rng(seed)
    classes = analyses
    data = dest / "data"
    data.mkdir(parents=True, exist_ok=True)
    s_rows, a_rows, c_rows = [], [], []
    for i in range(studies):
        sid, a = f"S{i:04d}", i % classes
        n_t, n_c = (int(x) for x in rng.integers(20, 300, 2))
        log_hr = rng.normal(-0.3 + 0.1 * (a % 5), 0.3)
        se = np.sqrt(4 / (0.7 * (n_t + n_c)))
        est = log_hr + rng.normal(0, se)
        s_rows.append(
            dict(
                study_id=sid,
                citation=f"Synthetic study {i}",
                year=1995 + i % 30,
                design="retrospective",
                risk_of_bias=["low", "moderate", "serious"][i % 3],
            )
        )
        mod = MODALITIES[i % len(MODALITIES)]
        mc = float(np.round(rng.uniform(12, 60), 1))
        arm_t = dict(
            study_id=sid,
            arm_id="t",
            arm_class=f"drug_{a:02d}",
            modality=mod,
            outcome="os",
            n=n_t,
            events=int(0.7 * n_t),
            median_months=float(np.round(mc * np.exp(-est), 1)),
        )
        arm_c = dict(
            study_id=sid,
            arm_id="c",
            arm_class="control",
            modality="none",
            outcome="os",
            n=n_c,
            events=int(0.7 * n_c),
            median_months=mc,
        )
        a_rows += [arm_t, arm_c]
        kind = i % 5
        if kind < 3:
            c_rows.append(
                dict(
                    study_id=sid,
                    outcome="os",
                    arm_id="t",
                    ref_arm_id="c",
                    hr=round(float(np.exp(est)), 3),
                    ci_low=round(float(np.exp(est - 1.96 * se)), 3),
                    ci_high=round(float(np.exp(est + 1.96 * se)), 3),
                )
            )
        elif kind == 3:
            from scipy.stats import norm

            p = float(2 * norm.sf(abs(est) / se))
            c_rows.append(
                dict(
                    study_id=sid,
                    outcome="os",
                    arm_id="t",
                    ref_arm_id="c",
                    p_value=f"{max(p, 1e-4):.2g}",
                    events_total=int(0.7 * (n_t + n_c)),
                    favours="t" if est < 0 else "c",
                )
            )
    pd.DataFrame(s_rows).to_csv(data / "studies.csv", index=False)
    pd.DataFrame(a_rows).to_csv(data / "arms.csv", index=False)
    pd.DataFrame(c_rows).to_csv(data / "contrasts.csv", index=False)
    config = {
        "title": f"Synthetic review: {studies} studies, {analyses} analyses",
        "inputs": {
            "studies": "data/studies.csv",
            "arms": "data/arms.csv",
            "contrasts": "data/contrasts.csv",
        },
        "pooling": {"method": method, "test": "knha", "level": 0.95},
        "sensitivity": {
            "methods": ["DL", "REML", "ML", "PM", "SJ", "HE", "EB", "HS", "HSk", "PMM"],
            "tests": ["z", "t", "knha", "adhoc"],
            "gosh": gosh,
        },
        "arm_classes": [f"drug_{a:02d}" for a in range(classes)] + ["control"],
        "modalities": MODALITIES + ["none"],
        "analyses": [
            {
                "id": f"a{a:02d}",
                "outcome": "os",
                "treatment": _treatment(a, analyses - grouped, classes, seed),
                "control": "control",
                "subgroups": "modality",
                "metareg": ["year"],
            }
            for a in range(analyses)
        ],
    }
    (dest / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return dest


def _treatment(a: int, single: int, classes: int, seed: int):
    """One class for the first ``single`` analyses, then 20 to 30 classes (seeded)."""
    if a < single:
        return f"drug_{a:02d}"
    rng = np.random.default_rng([seed, a])
    pick = rng.choice(classes, size=int(rng.integers(20, 31)), replace=False)
    return [f"drug_{c:02d}" for c in sorted(pick)]


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dest", type=Path)
    ap.add_argument("--studies", type=int, default=500)
    ap.add_argument("--analyses", type=int, default=50)
    ap.add_argument("--grouped", type=int, default=20)
    args = ap.parse_args()
    print(write_review(args.dest, args.studies, args.analyses, grouped=args.grouped))
