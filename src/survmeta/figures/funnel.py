"""Funnel plot with pseudo-confidence contours and the trim-and-fill studies, as SVG.

As metafor's ``funnel(res, level = c(90, 95, 99), refline = 0)`` (contour-enhanced, Peters
et al. 2008): the standard error on the y axis (0 at the top), the effect on the x axis on
the ratio scale (in months for an RMST difference); shaded regions where a study of that SE
would be significant at 10%, 5% and 1% against no effect; the pseudo 95% confidence region
(estimate ± 1.96 SE) around the pooled estimate; the studies filled in by trim-and-fill
(Duval & Tweedie 2000) as open circles, with the adjusted estimate. Egger's regression test
and Begg's rank correlation test are printed underneath.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd

from ..numbers import finite, fmt_dec, p_text
from .data import status_ok
from .effect_scale import EffectScale
from .svg import (
    BLUE,
    GREY,
    INK,
    RED,
    effect_axes,
    figure,
    put_title,
    title_height,
    title_lines,
    to_svg,
)


def _z(level: float) -> float:
    return NormalDist().inv_cdf(1 - (1 - level) / 2)


def egger_text(regtest: pd.DataFrame | None, metric: str = "log_hr") -> str:
    """Egger's regression test (metafor ``regtest``: predictor sei) in one line."""
    ok, why = status_ok(regtest)
    if not ok:
        return f"Egger's regression test: not available ({why})"
    r = regtest.iloc[0]
    df = r.get("dfs")
    stat = (
        f"t = {fmt_dec(r['zval'])}, df = {int(df)}" if finite(df) else f"z = {fmt_dec(r['zval'])}"
    )
    limit = ""
    if finite(r.get("est")):
        sc = EffectScale(metric)
        limit = f"; limit estimate {sc.what} {sc.ci(r['est'], r.get('ci_lb'), r.get('ci_ub'))}"
        limit += sc.unit
    return f"Egger's regression test: {stat} ({p_text(r.get('pval'))}){limit}"


def begg_text(ranktest: pd.DataFrame | None) -> str:
    """Begg and Mazumdar's rank correlation test (metafor ``ranktest``) in one line."""
    ok, why = status_ok(ranktest)
    if not ok:
        return f"Begg's rank correlation test: not available ({why})"
    r = ranktest.iloc[0]
    tau = fmt_dec(r["tau"], 3)
    return f"Begg's rank correlation test: Kendall's tau = {tau} ({p_text(r.get('pval'))})"


def trimfill_text(trimfill: pd.DataFrame | None, metric: str = "log_hr") -> str:
    """Trim-and-fill (metafor ``trimfill``) in one line."""
    ok, why = status_ok(trimfill)
    if not ok:
        return f"Trim-and-fill: not available ({why})"
    r, sc = trimfill.iloc[0], EffectScale(metric)
    k0 = int(r["k0"]) if finite(r.get("k0")) else 0
    side = r.get("side") if isinstance(r.get("side"), str) else "?"
    return (
        f"Trim-and-fill: {k0} stud{'y' if k0 == 1 else 'ies'} imputed on the {side} side; "
        f"adjusted {sc.what} {sc.ci(r.get('estimate'), r.get('ci_lb'), r.get('ci_ub'))}"
        f"{sc.unit}"
    )


def _filled_xy(filled: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    if filled is None or filled.empty or "yi" not in filled:
        return np.zeros(0), np.zeros(0)
    y = pd.to_numeric(filled["yi"], errors="coerce").to_numpy(float)
    if "sei" in filled:
        se = pd.to_numeric(filled["sei"], errors="coerce").to_numpy(float)
    elif "vi" in filled:
        se = np.sqrt(pd.to_numeric(filled["vi"], errors="coerce").to_numpy(float))
    else:
        return np.zeros(0), np.zeros(0)
    keep = np.isfinite(y) & np.isfinite(se)
    return y[keep], se[keep]


def funnel_svg(
    effects: pd.DataFrame,
    pooled: dict | None,
    title: str,
    metric: str = "log_hr",
    *,
    trimfill: pd.DataFrame | None = None,
    filled: pd.DataFrame | None = None,
    regtest: pd.DataFrame | None = None,
    ranktest: pd.DataFrame | None = None,
) -> str:
    """Return SVG text of the funnel plot of one analysis (its ``yi``/``sei`` rows)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    scale = EffectScale(metric)
    y = pd.to_numeric(effects["yi"], errors="coerce").to_numpy(float)
    se = pd.to_numeric(effects["sei"], errors="coerce").to_numpy(float)
    keep = np.isfinite(y) & np.isfinite(se)
    y, se = y[keep], se[keep]
    fy, fse = _filled_xy(filled)
    est = (
        float(pooled["estimate"]) if pooled is not None and finite(pooled.get("estimate")) else None
    )
    tf_ok, _ = status_ok(trimfill)
    tf_est = None
    if tf_ok and finite(trimfill.iloc[0].get("estimate")) and len(fy):
        tf_est = float(trimfill.iloc[0]["estimate"])

    foot = [egger_text(regtest, metric), begg_text(ranktest), trimfill_text(trimfill, metric)]
    width, plot_h = 6.6, 3.6
    heading = title_lines(title, width)
    top_in, bottom_in, left_in, right_in = (
        title_height(heading),
        0.75 + 0.19 * len(foot),
        0.75,
        1.85,
    )
    height = top_in + plot_h + bottom_in

    se_all = np.concatenate([se, fse])
    se_max = float(se_all.max()) * 1.1 if se_all.size else 1.0
    z95 = _z(0.95)
    xs = list(np.concatenate([y, fy])) + [0.0]
    if est is not None:
        xs += [est - z95 * se_max, est + z95 * se_max]
    lo, hi = min(xs), max(xs)
    pad = 0.08 * max(hi - lo, 1.0)
    lo, hi = lo - pad, hi + pad

    with figure(width, height) as fig:
        ax = fig.add_axes(
            (
                left_in / width,
                bottom_in / height,
                (width - left_in - right_in) / width,
                plot_h / height,
            )
        )
        ax.set_xlim(lo, hi)
        ax.set_ylim(se_max, 0)
        for side in ("right", "top"):
            ax.spines[side].set_visible(False)
        ax.set_facecolor("white")
        # Contour-enhanced regions around no effect (x = 0): significance at 10%, 5%, 1%.
        ses = np.linspace(0, se_max, 50)
        shades = [(0.90, "#c4c4c4"), (0.95, "#dadada"), (0.99, "#efefef")]
        handles = []
        for (lv, col), nxt in zip(shades, [0.95, 0.99, None], strict=True):
            z_in = _z(lv)
            outer = _z(nxt) * ses if nxt else np.full_like(ses, max(abs(lo), abs(hi)) * 2)
            for sgn in (-1, 1):
                ax.fill_betweenx(ses, sgn * z_in * ses, sgn * outer, color=col, lw=0, zorder=0)
            label = {0.90: "0.05 < p < 0.10", 0.95: "0.01 < p < 0.05", 0.99: "p < 0.01"}[lv]
            handles.append(Patch(facecolor=col, edgecolor=GREY, lw=0.5, label=label))
        ax.axvline(0, color=GREY, lw=0.8, zorder=1)
        if est is not None:
            ax.plot(
                [est - z95 * se_max, est, est + z95 * se_max],
                [se_max, 0, se_max],
                color=INK,
                lw=0.9,
                ls=(0, (4, 3)),
                zorder=2,
            )
            ax.plot([est, est], [0, se_max], color=RED, lw=1.2, zorder=2)
            handles += [
                Line2D([], [], color=RED, lw=1.2, label="Pooled estimate"),
                Line2D([], [], color=INK, lw=0.9, ls=(0, (4, 3)), label="Pseudo 95% CI"),
            ]
        if tf_est is not None:
            ax.plot([tf_est, tf_est], [0, se_max], color=BLUE, lw=1.2, ls=(0, (1, 2)), zorder=2)
            handles.append(
                Line2D([], [], color=BLUE, lw=1.2, ls=(0, (1, 2)), label="Trim-and-fill estimate")
            )
        ax.scatter(y, se, s=28, color=INK, zorder=4, linewidths=0)
        handles.append(
            Line2D([], [], marker="o", color=INK, ls="none", markersize=5, label="Study")
        )
        if len(fy):
            ax.scatter(fy, fse, s=28, facecolor="white", edgecolor=INK, linewidths=1, zorder=4)
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="o",
                    markerfacecolor="white",
                    markeredgecolor=INK,
                    color=INK,
                    ls="none",
                    markersize=5,
                    label="Filled (trim-and-fill)",
                )
            )
        effect_axes(ax, scale, lo, hi, "Standard error", handles)
        for j, line in enumerate(foot):
            ax.annotate(
                line,
                xy=(0.1 / width, 0),
                xycoords=("figure fraction", "axes fraction"),
                xytext=(0, -34 - 13.5 * j),
                textcoords="offset points",
                ha="left",
                va="top",
                fontsize=8.5,
                annotation_clip=False,
                parse_math=False,
            )
        put_title(fig, heading, width, height)
        desc = (
            f"Funnel plot of {len(y)} studies (standard error against effect)"
            + (f", with {len(fy)} filled by trim-and-fill" if len(fy) else "")
            + ". "
            + " ".join(s + "." for s in foot)
        )
        return to_svg(fig, title, desc)
