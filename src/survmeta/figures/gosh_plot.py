"""GOSH plot (Olkin, Dahabreh & Trikalinos 2012): the estimate of every subset against its I².

As metafor's ``plot(gosh(res))`` without the marginal histograms: one point per subset of
studies. Up to :data:`MAX_POINTS` subsets are drawn as points; beyond that (GOSH samples up
to 10^6 subsets) a 2-D histogram of vector rectangles keeps the SVG small. The fit with all
studies is marked.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..numbers import finite
from .effect_scale import EffectScale
from .svg import (
    BLUE,
    RED,
    effect_axes,
    figure,
    put_title,
    title_height,
    title_lines,
    to_svg,
)

MAX_POINTS = 4000


def gosh_svg(
    gosh: pd.DataFrame, title: str, metric: str = "log_hr", full: dict | None = None
) -> str:
    """Return SVG text: subset estimates (ratio scale, or months) against I² (%)."""
    from matplotlib.lines import Line2D

    scale = EffectScale(metric)
    empty = pd.Series(dtype=float)  # a declined GOSH (k < 2) is a one-line status table
    est = pd.to_numeric(gosh.get("estimate", empty), errors="coerce").to_numpy(float)
    i2 = pd.to_numeric(gosh.get("i2", empty), errors="coerce").to_numpy(float)
    keep = np.isfinite(est) & np.isfinite(i2)
    est, i2 = est[keep], i2[keep]
    n = int(est.size)
    width = 6.6
    heading = title_lines(title, width)
    height = title_height(heading) + 3.25 + 0.7
    with figure(width, height) as fig:
        ax = fig.add_axes((0.75 / width, 0.7 / height, 4.0 / width, 3.25 / height))
        for side in ("right", "top"):
            ax.spines[side].set_visible(False)
        lo, hi = (float(est.min()), float(est.max())) if n else (-1.0, 1.0)
        pad = 0.06 * max(hi - lo, 0.2)
        lo, hi = lo - pad, hi + pad
        ax.set_xlim(lo, hi)
        ax.set_ylim(-2, 102)
        if n <= MAX_POINTS:
            alpha = 0.6 if n <= 300 else 0.3
            ax.scatter(est, i2, s=9, color=BLUE, alpha=alpha, linewidths=0, zorder=2)
            what = "Subset"
        else:
            h, xe, ye = np.histogram2d(est, i2, bins=(60, 40), range=((lo, hi), (0, 100)))
            h = np.ma.masked_equal(h, 0)
            ax.pcolormesh(xe, ye, np.log1p(h.T), cmap="Blues", vmin=0, shading="flat", zorder=1)
            what = "Subsets (density)"
        handles = [Line2D([], [], marker="o", color=BLUE, ls="none", markersize=4, label=what)]
        if full is not None and finite(full.get("estimate")) and finite(full.get("i2")):
            ax.scatter(
                [full["estimate"]],
                [full["i2"]],
                marker="X",
                s=70,
                color=RED,
                zorder=3,
                linewidths=0,
            )
            handles.append(
                Line2D([], [], marker="X", color=RED, ls="none", markersize=7, label="All studies")
            )
        effect_axes(ax, scale, lo, hi, "I² (%)", handles)
        put_title(fig, heading, width, height)
        desc = f"GOSH plot of {n} subsets of studies: estimate against I²."
        if n:
            desc += (
                f" Estimates range from {scale.value(est.min())} to {scale.value(est.max())}"
                f"{scale.unit};"
                f" I² from {i2.min():.1f}% to {i2.max():.1f}%."
            )
        return to_svg(fig, title, desc)
