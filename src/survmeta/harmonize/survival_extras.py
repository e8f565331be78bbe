"""What the digitized Kaplan-Meier curves add beside the effects (methods.md section 6).

``results/reconstructed.csv``: every patient rebuilt from a digitized curve (Guyot 2012),
one row each, so a reviewer can refit them; and the Grambsch-Therneau test per comparison
(chisq, df, p) for the audit trail. The effects themselves (the log HR, ``ph_p`` and the
``rmst_diff`` rows) come from harmonize's loop (:mod:`.run`), which rebuilds each arm through
the same cached :func:`~.km_reconstruction.arm_ipd`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .base import NotEstimable
from .comparisons import build_comparisons
from .km_reconstruction import arm_ipd, ph_test

RECONSTRUCTED_COLUMNS = ["study_id", "outcome", "arm_id", "time_months", "event"]
PH_COLUMNS = [
    "analysis_id",
    "study_id",
    "outcome",
    "treatment_arm",
    "control_arm",
    "ph_chisq",
    "ph_df",
    "ph_p",
]

__all__ = ["PH_COLUMNS", "RECONSTRUCTED_COLUMNS", "survival_extras"]


def survival_extras(tables: dict, config: dict) -> dict[str, pd.DataFrame]:
    """``reconstructed`` (one row per rebuilt patient) and ``ph`` (one row per comparison).

    Arms are those of the config's analyses (in analysis, study and arm order, each once);
    an arm whose curve cannot be rebuilt is left out here (harmonize's excluded.csv and
    derivations say why). Patients of an arm are in time order, deaths before censorings at
    a tie.
    """
    multiarm = config.get("multiarm", "split")
    patients, ph_rows, seen = [], [], set()
    for analysis in config["analyses"]:
        for comp in build_comparisons(tables, analysis, multiarm):
            for arm in (comp.t, comp.c):
                key = (comp.study_id, comp.outcome, arm.arm_id)
                if key in seen or not arm.km or not arm.at_risk:
                    continue
                seen.add(key)
                try:
                    rec = arm_ipd(arm)[0]
                except NotEstimable:
                    continue
                order = np.lexsort((~rec.event, rec.time))
                patients += [(*key, float(rec.time[i]), int(rec.event[i])) for i in order]
            test = ph_test(comp)
            if test is not None:
                ph_rows.append(
                    (
                        analysis["id"],
                        comp.study_id,
                        comp.outcome,
                        comp.t.arm_id,
                        comp.c.arm_id,
                        test.chisq,
                        test.df,
                        test.p,
                    )
                )
    return {
        "reconstructed": pd.DataFrame(patients, columns=RECONSTRUCTED_COLUMNS),
        "ph": pd.DataFrame(ph_rows, columns=PH_COLUMNS),
    }
