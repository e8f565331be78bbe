"""The posterior density of tau, one line per prior, as a small inline SVG.

With 2 to 5 studies the between-study SD is barely estimable, and the prior on tau
(half-normal(0.5) by default, Röver et al. 2021) shapes its posterior; drawing the posterior
under each configured prior (methods.md §5, bayes_tau.csv) shows how much, as bayesmeta's
``plot(..., which = 4)`` does for one prior. The first prior is the main one (solid line).
"""

from __future__ import annotations

import numpy as np

from ..numbers import finite, fmt_num
from .data import TauCurve
from .svg import BLUE, GREY, RED, figure, to_svg

#: Line colour and dash per prior, in config order (>= 4.5:1 on white, and told apart
#: without colour by the dash).
STYLES = (
    (BLUE, "-"),
    (RED, (0, (4, 2))),
    ("#1b5e20", (0, (1, 1.5))),
    ("#6d4c41", (0, (5, 2, 1, 2))),
)
WIDTH_IN, HEIGHT_IN = 3.2, 1.8


def tau_axis_label(metric: str) -> str:
    """What tau measures: an SD on the log scale of a ratio, or in months (RMST)."""
    if metric == "rmst_diff":
        return "τ (months)"
    return "τ (between-study SD, log scale of the effect)"


def _summary_text(c: TauCurve) -> str:
    s = c.summary
    if not s or not finite(s.get("tau_median")):
        peak = float(c.tau[int(np.nanargmax(c.density))]) if len(c.tau) else float("nan")
        return f"{c.label}: density highest at τ = {fmt_num(peak)}"
    return (
        f"{c.label}: posterior median τ = {fmt_num(s['tau_median'])}, interval "
        f"{fmt_num(s.get('tau_ci_low'))} to {fmt_num(s.get('tau_ci_high'))}"
    )


def bayes_tau_svg(
    curves: list[TauCurve], title: str, metric: str = "log_hr", *, key: str | None = None
) -> str:
    """Return SVG text: the posterior density of tau under each prior (data.tau_curves).

    ``title`` goes to the SVG's <title> (the report's caption names the figure, so none is
    drawn); ``key`` makes its ids unique on the page (svg.to_svg).
    """
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FixedLocator, MaxNLocator

    with figure(WIDTH_IN, HEIGHT_IN) as fig:
        ax = fig.add_axes((0.5 / WIDTH_IN, 0.42 / HEIGHT_IN, 2.58 / WIDTH_IN, 1.28 / HEIGHT_IN))
        for side in ("right", "top"):
            ax.spines[side].set_visible(False)
        handles = []
        top_x = top_y = 0.0
        for i, c in enumerate(curves):
            color, dash = STYLES[i % len(STYLES)]
            ok = np.isfinite(c.tau) & np.isfinite(c.density)
            ax.plot(c.tau[ok], c.density[ok], color=color, ls=dash, lw=1.3)
            handles.append(Line2D([], [], color=color, ls=dash, lw=1.3, label=c.label))
            if ok.any():
                top_x = max(top_x, float(c.tau[ok].max()))
                top_y = max(top_y, float(c.density[ok].max()))
        xlim = (0.0, top_x if top_x > 0 else 1.0)
        ylim = (0.0, top_y * 1.08 if top_y > 0 else 1.0)
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        # A few fixed ticks: matplotlib's automatic ones create (and measure) many more.
        for axis, (lo, hi) in ((ax.xaxis, xlim), (ax.yaxis, ylim)):
            ticks = MaxNLocator(nbins=4).tick_values(lo, hi)
            axis.set_major_locator(FixedLocator([t for t in ticks if lo <= t <= hi * 1.0001]))
        ax.tick_params(labelsize=7, length=2.5, pad=1.5)
        ax.set_xlabel(tau_axis_label(metric), fontsize=7.5, labelpad=2)
        ax.set_ylabel("Posterior density", fontsize=7.5, labelpad=2)
        if handles:
            ax.legend(handles=handles, loc="upper right", frameon=False, fontsize=7,
                      handlelength=2.2, borderaxespad=0.2, title="Prior on τ",
                      title_fontsize=7)  # fmt: skip
        else:
            ax.text(0.5, 0.5, "No posterior of τ", transform=ax.transAxes, ha="center",
                    color=GREY, fontsize=8)  # fmt: skip
        n = len(curves)
        desc = f"Posterior density of τ under {n} prior{'s' if n != 1 else ''}"
        desc += (": " + "; ".join(_summary_text(c) for c in curves) + ".") if n else "."
        return to_svg(fig, title, desc, key=key)
