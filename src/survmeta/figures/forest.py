"""Forest plot as deterministic, inline-able SVG text (matplotlib, headless)."""

from __future__ import annotations

import hashlib
import html
import io
import math
import re
from statistics import NormalDist

import pandas as pd

_Z95 = NormalDist().inv_cdf(0.975)
_ROW_IN = 0.28  # inches per plotted row, so height scales with k
_DASH = "–"


def _finite(x) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _f(x, d: int = 2) -> str:
    return f"{float(x):.{d}f}" if _finite(x) else _DASH


def _p(x) -> str:
    if not _finite(x):
        return _DASH
    return "p < 0.001" if float(x) < 0.001 else f"p = {float(x):.3f}"


def _ci_text(est, lo, hi) -> str:
    if not _finite(est):
        return _DASH
    return f"{math.exp(est):.2f} [{_fexp(lo)}, {_fexp(hi)}]"


def _fexp(x) -> str:
    return f"{math.exp(float(x)):.2f}" if _finite(x) else _DASH


def _het_lines(pooled: dict) -> list[str]:
    """Text under the plot, in the wording reviewers know from RevMan/metafor."""
    g = pooled.get
    stat = "t" if str(g("test") or "").lower() == "knha" else "z"
    i2 = f"{float(g('i2')):.1f}%" if _finite(g("i2")) else _DASH
    df = str(int(float(g("q_df")))) if _finite(g("q_df")) else _DASH
    return [
        f"Heterogeneity: tau² = {_f(g('tau2'), 4)}; Q = {_f(g('q'))}, df = {df} "
        f"({_p(g('q_p'))}); I² = {i2}",
        f"Test for overall effect: {stat} = {_f(g('stat'))} ({_p(g('p'))})",
    ]


def _accessible(svg: str, title: str) -> str:
    """Drop prolog/DOCTYPE, make ids unique per figure, add <title>, role and aria-label.

    Unique ids matter because several figures are inlined into one HTML page.
    """
    svg = svg[svg.index("<svg") :]
    prefix = "f" + hashlib.sha1(title.encode()).hexdigest()[:8] + "-"

    def fix_tag(m: re.Match) -> str:  # only inside tags, never in text content
        tag = re.sub(r'(\sid=")', rf"\g<1>{prefix}", m.group(0))
        return re.sub(r'(href="|url\()#', rf"\g<1>#{prefix}", tag)

    svg = re.sub(r"<[^<>]+>", fix_tag, svg)
    head = f'role="img" aria-label="{html.escape(title)}">\n<title>{html.escape(title)}</title>'
    return re.sub(r"<svg\b([^>]*)>", lambda m: f"<svg{m.group(1)} {head}", svg, count=1)


def forest_svg(
    effects: pd.DataFrame,
    pooled: dict | None,
    title: str,
    treatment_label: str,
    control_label: str,
    metric: str = "log_hr",
) -> str:
    """Return SVG text of a forest plot on the ratio scale.

    Uses the Figure API (no pyplot state) and fixed svg.hashsalt / no metadata dates
    so the same inputs always give byte-identical SVG.
    """
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.patches import Polygon
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
    from matplotlib.transforms import blended_transform_factory

    is_mr = metric == "log_mr"
    ratio = "Ratio" if is_mr else "HR"
    rows = effects.reset_index(drop=True)
    n = len(rows)
    has_pool = pooled is not None and _finite(pooled.get("estimate"))
    has_pi = has_pool and _finite(pooled.get("pi_low")) and _finite(pooled.get("pi_high"))
    labels = [f"{r.study_id}: {r.treatment_arm} vs {r.control_arm}" for r in rows.itertuples()]
    y_pool = n + 1.2
    y_bottom = y_pool + (1.4 if has_pi else 0.8)

    left_in = max(2.2, 0.068 * max([len(s) for s in labels] + [30]))
    plot_in, right_in = 4.2, 2.6
    top_in, bottom_in = 0.4, 1.3
    width = left_in + plot_in + right_in
    height = top_in + bottom_in + _ROW_IN * (y_bottom + 0.6)

    rc = {
        "svg.hashsalt": "survmeta",
        "svg.fonttype": "none",
        "font.family": "sans-serif",  # bundled DejaVu for layout, CSS fallbacks for browsers
        "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
        "font.size": 9,
    }
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(width, height))
        plot_h = 1 - (top_in + bottom_in) / height
        ax = fig.add_axes((left_in / width, bottom_in / height, plot_in / width, plot_h))
        ax.set_xscale("log")
        ax.set_ylim(y_bottom, -0.6)
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
        ax.set_yticks([])
        txt = dict(parse_math=False, va="center")
        lab = blended_transform_factory(fig.transFigure, ax.transData)
        col_ci = (left_in + plot_in + 0.15) / width
        col_w = (left_in + plot_in + right_in - 0.15) / width

        ax.text(0.01, 0, "Study: treatment vs control", transform=lab, weight="bold", **txt)
        ax.text(col_ci, 0, f"{ratio} [95% CI]", transform=lab, weight="bold", **txt)
        ax.text(col_w, 0, "Weight", transform=lab, weight="bold", ha="right", **txt)

        bounds = [1.0]
        w = pd.to_numeric(rows.get("weight", pd.Series(float("nan"), index=rows.index)))
        for i, r in enumerate(rows.itertuples(), start=1):
            ax.text(0.01, i, labels[i - 1], transform=lab, **txt)
            lo = hi = float("nan")
            if _finite(r.yi):
                if _finite(r.sei):
                    lo, hi = r.yi - _Z95 * r.sei, r.yi + _Z95 * r.sei
                    ax.plot([math.exp(lo), math.exp(hi)], [i, i], color="black", lw=1)
                    bounds += [math.exp(lo), math.exp(hi)]
                size = 10 + 2.0 * float(w.iloc[i - 1]) if _finite(w.iloc[i - 1]) else 30
                ax.scatter([math.exp(r.yi)], [i], marker="s", s=size, color="#1f4e79", zorder=3)
                bounds.append(math.exp(r.yi))
            ax.text(col_ci, i, _ci_text(r.yi, lo, hi), transform=lab, **txt)
            wt = f"{float(w.iloc[i - 1]):.1f}%" if _finite(w.iloc[i - 1]) else _DASH
            ax.text(col_w, i, wt, transform=lab, ha="right", **txt)

        if pooled is not None:
            g = pooled.get
            k = int(float(g("k"))) if _finite(g("k")) else _DASH
            name = f"Random effects ({g('method') or '?'}, {g('test') or '?'}), k = {k}"
            ax.text(0.01, y_pool, name, transform=lab, weight="bold", **txt)
            ax.text(
                col_ci,
                y_pool,
                _ci_text(g("estimate"), g("ci_low"), g("ci_high")),
                transform=lab,
                weight="bold",
                **txt,
            )
            ax.text(col_w, y_pool, "100%" if has_pool else _DASH, transform=lab, ha="right", **txt)
        if has_pool:
            est = math.exp(pooled["estimate"])
            lo = math.exp(pooled["ci_low"]) if _finite(pooled.get("ci_low")) else est
            hi = math.exp(pooled["ci_high"]) if _finite(pooled.get("ci_high")) else est
            ax.add_patch(
                Polygon(
                    [(lo, y_pool), (est, y_pool - 0.4), (hi, y_pool), (est, y_pool + 0.4)],
                    closed=True,
                    color="#8b1a1a",
                    zorder=3,
                )
            )
            bounds += [lo, hi]
        if has_pi:
            pl, ph = math.exp(pooled["pi_low"]), math.exp(pooled["pi_high"])
            y_pi = y_pool + 0.75
            ax.plot([pl, ph], [y_pi, y_pi], color="#8b1a1a", lw=2.5, solid_capstyle="butt")
            ax.text(0.01, y_pi, "Prediction interval", transform=lab, **txt)
            ax.text(col_ci, y_pi, f"[{pl:.2f}, {ph:.2f}]", transform=lab, **txt)
            bounds += [pl, ph]

        lo_b, hi_b = min(bounds), max(bounds)
        span = max(math.log(hi_b / lo_b), math.log(4.0))
        pad = 0.08 * span
        x0, x1 = lo_b * math.exp(-pad), hi_b * math.exp(pad)
        ax.set_xlim(x0, x1)
        # Plain-number ticks (0.5, 1, 2) rather than mathtext 10^k: readable as SVG text.
        decades = math.log10(x1 / x0)
        mant = (1,) if decades > 2.5 else (1, 2, 5) if decades > 0.8 else (1, 1.5, 2, 3, 5, 7)
        ticks = [m * 10.0**e for e in range(-4, 5) for m in mant]
        ax.xaxis.set_major_locator(FixedLocator([t for t in ticks if x0 <= t <= x1]))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.plot([1, 1], [0.4, y_bottom], color="grey", lw=0.8, zorder=1)
        ax.set_xlabel(
            "Ratio of medians (log scale)" if is_mr else "Hazard ratio (log scale)", labelpad=22
        )

        # HR < 1 favours treatment; for the median ratio it is the other way round.
        left_lab, right_lab = (
            (control_label, treatment_label) if is_mr else (treatment_label, control_label)
        )
        fav = blended_transform_factory(ax.transData, ax.transAxes)
        for x_off, ha, who in ((-6, "right", left_lab), (6, "left", right_lab)):
            ax.annotate(
                f"favours {who}",
                xy=(1, 0),
                xycoords=fav,
                xytext=(x_off, -18),
                textcoords="offset points",
                ha=ha,
                va="top",
                fontsize=8,
                style="italic",
                annotation_clip=False,
                parse_math=False,
            )
        if has_pool:
            for j, line in enumerate(_het_lines(pooled)):
                ax.annotate(
                    line,
                    xy=(0.01, 0),
                    xycoords=("figure fraction", "axes fraction"),
                    xytext=(0, -50 - 13 * j),
                    textcoords="offset points",
                    ha="left",
                    va="top",
                    fontsize=8,
                    annotation_clip=False,
                    parse_math=False,
                )
        else:
            why = (pooled or {}).get("status")
            why = why if isinstance(why, str) and why else "fewer than 2 studies"
            ax.annotate(
                f"No pooled estimate ({why})",
                xy=(0.01, 0),
                xycoords=("figure fraction", "axes fraction"),
                xytext=(0, -50),
                textcoords="offset points",
                ha="left",
                va="top",
                fontsize=8,
                annotation_clip=False,
                parse_math=False,
            )
        fig.suptitle(title, x=0.01, ha="left", fontsize=11, weight="bold", parse_math=False)

        buf = io.StringIO()
        fig.savefig(
            buf,
            format="svg",
            metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
        )
    return _accessible(buf.getvalue(), title)
