"""The sampling covariance of comparisons that share an arm (methods.md section 4).

Two comparisons a, b of one study that share arm c have

    Cov(y_a, y_b) = s / E_c                      (events of c known: Peto's variance of
                                                  arm c's log hazard; rule "events")
    Cov(y_a, y_b) = s * 0.5 * sqrt(v_a v_b)      (without them: equal information in the
                                                  two arms of each comparison; rule
                                                  "equal_information")

with s = +1 when c is on the same side of both comparisons (the control of both, or
the treatment of both) and -1 otherwise. A correlation beyond 0.99 in absolute value
is capped there (rule suffixed "capped"), which keeps V positive definite for any
events; comparisons of one study that share no arm have covariance 0.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

CORR_CAP = 0.99
PAIR_COLUMNS = ["comparison_a", "comparison_b", "cov", "rule"]


def _events(x) -> float | None:
    try:
        e = float(x)
    except (TypeError, ValueError):
        return None
    return e if math.isfinite(e) and e > 0 else None


def shared_arm(a: dict, b: dict) -> tuple[str, int, str] | None:
    """(arm id, sign, side of a) of the arm two comparisons share, or None."""
    for side_a, arm_a in (("treatment", a["treatment_arm"]), ("control", a["control_arm"])):
        for side_b, arm_b in (("treatment", b["treatment_arm"]), ("control", b["control_arm"])):
            if str(arm_a) == str(arm_b):
                return str(arm_a), (1 if side_a == side_b else -1), side_a
    return None


def sampling_covariance(rows: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """V (k x k) of one analysis's comparisons, and one record per non-zero pair.

    ``rows``: ``study_id, comparison_id, treatment_arm, control_arm, vi`` and, where known,
    ``events_t, events_c`` (the arms' events used by the derivation, whole arms).
    """
    recs = rows.to_dict("records")
    k = len(recs)
    V = np.diag(rows["vi"].to_numpy(float)).copy()
    pairs = []
    for i in range(k):
        for j in range(i + 1, k):
            a, b = recs[i], recs[j]
            if str(a["study_id"]) != str(b["study_id"]):
                continue
            shared = shared_arm(a, b)
            if shared is None:
                continue
            arm, sign, side_a = shared
            events = _events(a["events_t"] if side_a == "treatment" else a["events_c"])
            va, vb = float(a["vi"]), float(b["vi"])
            if events is not None:
                cov, rule = sign / events, "events"
            else:
                cov, rule = sign * 0.5 * math.sqrt(va * vb), "equal_information"
            limit = CORR_CAP * math.sqrt(va * vb)
            if abs(cov) > limit:
                cov, rule = math.copysign(limit, cov), f"{rule}, capped at |r| = {CORR_CAP}"
            V[i, j] = V[j, i] = cov
            pairs.append(
                {"comparison_a": a["comparison_id"], "comparison_b": b["comparison_id"],
                 "cov": cov, "rule": f"{rule} (shared arm {arm})"}
            )  # fmt: skip
    return V, pd.DataFrame(pairs, columns=PAIR_COLUMNS)
