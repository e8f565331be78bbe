"""A reconstructed study's Kaplan-Meier curves over its digitized points, as SVG.

The audit of a Guyot reconstruction (Guyot 2012, Fig. 3-4): per arm, the Kaplan-Meier curve
of the rebuilt patients (results/reconstructed.csv) drawn as steps, the points digitized
from the paper (km_points) on top, and beneath the plot the numbers at risk at the paper's
times, as reported (km_at_risk) and as rebuilt (patients with time >= t), a rebuilt number
that differs from the reported one in bold. A reader sees at once where the rebuilt
patients leave the published curve. Optionally the Grambsch-Therneau p of each comparison
in the subtitle.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..survival.km import kaplan_meier
from .data import arm_label, finite
from .svg import (
    BLUE,
    GREY,
    INK,
    RED,
    TextLayer,
    figure,
    put_title,
    title_height,
    title_lines,
    to_svg,
)

#: Arm colours in order: the house blue and red, then dark green and brown (>= 4.5:1 on white).
COLOURS = (BLUE, RED, "#1b5e20", "#6d4c41")
_ROW_IN = 0.19  # inches per row of the at-risk table


def _ticks(t_max: float) -> np.ndarray:
    """Round month ticks (every 3, 6, 12, 24 ... months) for an axis from 0 to t_max."""
    for step in (1, 3, 6, 12, 24, 36, 60, 120):
        if t_max / step <= 10:
            break
    return np.arange(0.0, t_max + 1e-9, step)


def _p_text(ph_p) -> str:
    """The subtitle: one p, or each comparison's ({comparison: p}) where a study gives
    several."""
    ps = ph_p if isinstance(ph_p, dict) else {"": ph_p}
    ps = {k: float(p) for k, p in ps.items() if finite(p)}
    if not ps:
        return ""
    parts = [
        (f"{who}: " if who and len(ps) > 1 else "") + ("p < 0.001" if p < 0.001 else f"p = {p:.3f}")
        for who, p in ps.items()
    ]
    flag = " (below 0.05: the hazards may not be proportional)" if min(ps.values()) < 0.05 else ""
    return f"Grambsch-Therneau test of proportional hazards: {'; '.join(parts)}{flag}"


def _low(ph_p) -> bool:
    ps = ph_p.values() if isinstance(ph_p, dict) else [ph_p]
    return any(finite(p) and float(p) < 0.05 for p in ps)


_EMPTY = {
    "points": ("arm_id", "time_months", "surv_prop"),
    "at_risk": ("arm_id", "time_months", "n_at_risk"),
}


def km_overlay_svg(
    points: pd.DataFrame | None,
    at_risk: pd.DataFrame | None,
    patients: pd.DataFrame,
    title: str,
    *,
    arms: list[str] | None = None,
    ph_p: float | dict[str, float] | None = None,
    key: str | None = None,
) -> str:
    """Return SVG text of one study's reconstructed curves over its digitized points.

    ``points``: the study's km_points rows (``arm_id, time_months, surv_prop``);
    ``at_risk``: its km_at_risk rows (``arm_id, time_months, n_at_risk``); ``patients``: its
    reconstructed.csv rows (``arm_id, time_months, event``), all for one outcome (None:
    no such rows). ``arms``: which arms to draw, in order (default: those of ``patients``,
    as they come). ``ph_p``: the comparison's ``ph_p``, or {comparison: ph_p} for a study
    that gives several, shown under the title. ``key``: see svg.to_svg.
    """
    from matplotlib.lines import Line2D

    if points is None:
        points = pd.DataFrame(columns=_EMPTY["points"])
    if at_risk is None:
        at_risk = pd.DataFrame(columns=_EMPTY["at_risk"])
    if arms is None:
        arms = list(dict.fromkeys(patients["arm_id"]))
    risk_times = sorted(set(at_risk.loc[at_risk["arm_id"].isin(arms), "time_months"]))
    times = [*points["time_months"], *patients["time_months"], *risk_times]
    t_max = max([float(t) for t in times if finite(t)] + [1.0])
    subtitle = _p_text(ph_p)
    width = 6.6
    heading = title_lines(title, width)
    label_w = 1.45
    plot_h = 3.0
    table_h = _ROW_IN * (2 * len(arms) + 1) + 0.1
    top = title_height(heading) + (0.22 if subtitle else 0.0)
    bottom = table_h + 0.55
    height = top + plot_h + bottom
    desc: list[str] = []
    with figure(width, height) as fig:
        ax = fig.add_axes(
            (label_w / width, bottom / height, (width - label_w - 0.25) / width, plot_h / height)
        )
        for side in ("right", "top"):
            ax.spines[side].set_visible(False)
        ax.set_xlim(0, t_max * 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_yticks([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])  # as matplotlib's own, without its search
        ax.set_xticks(_ticks(t_max))
        ax.set_xlabel("Months", labelpad=2)
        ax.set_ylabel("Survival probability")
        handles = []
        for i, arm in enumerate(arms):
            colour = COLOURS[i % len(COLOURS)]
            mine = patients[patients["arm_id"] == arm]
            km = kaplan_meier(mine["time_months"].to_numpy(float), mine["event"].to_numpy() == 1)
            ax.step(
                np.r_[0.0, km.time],
                np.r_[1.0, km.surv],
                where="post",
                color=colour,
                lw=1.4,
                zorder=2,
            )
            dig = points[points["arm_id"] == arm].sort_values("time_months", kind="stable")
            ax.plot(
                dig["time_months"],
                dig["surv_prop"],
                ls="none",
                marker="o",
                markersize=2.6,
                markerfacecolor="white",
                markeredgecolor=colour,
                markeredgewidth=0.7,
                zorder=3,
            )
            name = arm_label(arm)
            handles += [
                Line2D([], [], color=colour, lw=1.4, label=f"{name}: rebuilt patients (KM)"),
                Line2D(
                    [],
                    [],
                    ls="none",
                    marker="o",
                    markersize=4,
                    markerfacecolor="white",
                    markeredgecolor=colour,
                    label=f"{name}: digitized points",
                ),
            ]
            desc.append(
                f"{name}: {len(mine)} patients rebuilt, {int((mine['event'] == 1).sum())} "
                f"events, {len(dig)} digitized points"
            )
        ax.legend(handles=handles, loc="upper right", frameon=False, fontsize=7.5)

        # The at-risk table beneath, aligned on the x axis (inches from the top left).
        layer = TextLayer(height)
        plot_w = width - label_w - 0.25

        def at_x(t: float) -> float:
            return label_w + plot_w * float(t) / (t_max * 1.02)

        y = height - table_h + 0.05
        layer.add(0.1, y, "Number at risk", size=8, weight="bold", va="top")
        y += _ROW_IN
        differ = total = 0
        for i, arm in enumerate(arms):
            colour = COLOURS[i % len(COLOURS)]
            rep = at_risk[at_risk["arm_id"] == arm].sort_values("time_months", kind="stable")
            times = patients.loc[patients["arm_id"] == arm, "time_months"].to_numpy(float)
            for kind in ("reported", "rebuilt"):
                layer.add(0.1, y, f"{arm_label(arm)}, {kind}", size=7.5, va="top",
                          color=colour if kind == "reported" else GREY)  # fmt: skip
                for t, n in zip(rep["time_months"], rep["n_at_risk"], strict=True):
                    rebuilt = int((times >= t).sum())
                    value = int(n) if kind == "reported" else rebuilt
                    off = kind == "rebuilt" and rebuilt != int(n)
                    layer.add(
                        at_x(t),
                        y,
                        str(value),
                        size=7.5,
                        ha="center",
                        va="top",
                        color=INK if kind == "reported" else GREY,
                        weight="bold" if off else "normal",
                    )
                    if kind == "rebuilt":
                        total += 1
                        differ += off
                y += _ROW_IN
        put_title(fig, heading, width, height)
        if subtitle:
            layer.add(0.1, title_height(heading) - 0.05, subtitle, size=8.5, va="top",
                      color=RED if _low(ph_p) else GREY)  # fmt: skip
        desc.append(
            f"Rebuilt numbers at risk equal the reported ones at {total - differ} of {total} "
            "reported times."
        )
        if subtitle:
            desc.append(subtitle + ".")
        return to_svg(fig, title, " ".join(desc), layer=layer, key=key)
