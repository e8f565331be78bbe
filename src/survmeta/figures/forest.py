"""Forest plot in the layout reviewers know from RevMan and R's meta, as inline-able SVG.

Per study: the arms with events/N, the effect with its CI as text and as a square whose area
is proportional to the study's random-effects weight, and the weight in %. With subgroups,
each block ends in its own diamond and heterogeneity line; then the overall diamond, the
prediction interval (Higgins, Thompson & Spiegelhalter 2009), the heterogeneity line (tau²,
Q with df and p, I²), the test for the overall effect and the test for subgroup differences.
The x axis is on the ratio scale (log), symmetric about 1, with the "favours" labels.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field

import pandas as pd

from ..numbers import DASH as _DASH
from ..numbers import ci_text, events_n, finite, fmt_dec, fmt_exp, fmt_int, p_text, ratio
from .data import arm_label
from .svg import (
    BLUE,
    GREY,
    INK,
    RED,
    figure,
    put_title,
    ratio_ticks,
    tick_label,
    title_height,
    title_lines,
    to_svg,
)

_ROW_IN = 0.21  # inches per text line, so height scales with k
_CHAR_IN = 0.07  # average width of a character at 9 pt (DejaVu Sans), for column widths
_ARM_WRAP = 18  # characters per line of an arm name
_LIMITS = (2.0, 5.0, 10.0, 20.0, 50.0, 100.0)  # symmetric axis limits, as RevMan's scales


def het_text(row: dict | None, with_tau2: bool = True) -> str:
    """'Heterogeneity: tau² = …; Q = …, df = … (p …); I² = …%' as RevMan/metafor print it."""
    if row is None or not finite(row.get("q")) or not finite(row.get("k")) or row["k"] < 2:
        return "Heterogeneity: not applicable (k = 1)" if row is not None else ""
    i2 = f"{float(row['i2']):.1f}%" if finite(row.get("i2")) else _DASH
    tau = f"tau² = {fmt_dec(row.get('tau2'), 4)}; " if with_tau2 else ""
    return (
        f"Heterogeneity: {tau}Q = {fmt_dec(row.get('q'))}, df = {fmt_int(row.get('q_df'))} "
        f"({p_text(row.get('q_p'))}); I² = {i2}"
    )


def overall_test_text(row: dict | None) -> str:
    """'Test for overall effect: t = …, df = … (p = …)' (z without df)."""
    if row is None or not finite(row.get("stat")):
        return ""
    knha = str(row.get("test") or "").lower() == "knha"
    df = f", df = {int(float(row['k'])) - 1}" if knha and finite(row.get("k")) else ""
    stat = "t" if knha else "z"
    return f"Test for overall effect: {stat} = {fmt_dec(row['stat'])}{df} ({p_text(row.get('p'))})"


def between_text(between: dict | None) -> str:
    """'Test for subgroup differences: Q = …, df = … (p = …)' from subgroups.csv."""
    if between is None:
        return "Test for subgroup differences: not available"
    if not finite(between.get("q_between")):
        why = between.get("status") or between.get("error")
        why = why if isinstance(why, str) and why and why != "ok" else "not computable"
        return f"Test for subgroup differences: not available ({why})"
    return (
        f"Test for subgroup differences: Q = {fmt_dec(between['q_between'])}, "
        f"df = {fmt_int(between.get('df_between'))} ({p_text(between.get('p_between'))})"
    )


@dataclass
class _Line:
    kind: str  # header | group | study | subtotal | het | total | pi | note
    y: float
    height: float = 1.0
    data: dict = field(default_factory=dict)


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, _ARM_WRAP, break_long_words=True) or [""]


def _order(rows: pd.DataFrame) -> pd.DataFrame:
    """Chronological within a block (then by study id), as Cochrane forest plots are."""
    if "year" in rows:
        key = pd.to_numeric(rows["year"], errors="coerce")
        rows = rows.assign(_year=key).sort_values(["_year", "study_id"], kind="stable")
        return rows.drop(columns="_year")
    return rows


def _layout(rows, subgroup_by, subgroup_rows, overall, has_pi, heads) -> list[_Line]:
    lines: list[_Line] = []
    y = 0.0

    def add(kind, height=1.0, **data):
        nonlocal y
        lines.append(_Line(kind, y, height, data))
        y += height

    def studies(block):
        for r in _order(block).to_dict("records"):
            t = _wrap(arm_label(r.get("treatment_arm")))
            c = _wrap(arm_label(r.get("control_arm")))
            add("study", max(1.0, 0.85 * max(len(t), len(c)) + 0.15), row=r, t=t, c=c)

    add("header", 1.1 + 0.85 * max(len(heads[0]), len(heads[1])), t=heads[0], c=heads[1])
    add("header2", 1.2)
    if subgroup_by and subgroup_by in rows and rows[subgroup_by].notna().any():
        keys = rows[subgroup_by].astype(str)
        for g in sorted(keys.unique()):
            add("group", 1.0, name=g)
            studies(rows[keys == g])
            sub = subgroup_rows.get(g)
            add("subtotal", 1.0, row=sub, name=g)
            add("het", 0.85, text=het_text(sub))
            add("gap", 0.3)
    else:
        studies(rows)
        add("gap", 0.4)
    add("total", 1.2, row=overall)
    if has_pi:
        add("pi", 1.0, row=overall)
    add("end", 0.4)
    return lines


def _axis_limit(bounds: list[float]) -> float:
    need = max([1.0] + [max(b, 1 / b) for b in bounds if finite(b) and b > 0])
    for lim in _LIMITS:
        if need <= lim * 1.0001:
            return lim
    return _LIMITS[-1]


def forest_svg(
    effects: pd.DataFrame,
    pooled: dict | None,
    title: str,
    treatment_label: str,
    control_label: str,
    metric: str = "log_hr",
    *,
    subgroup_by: str | None = None,
    subgroup_rows: dict[str, dict] | None = None,
    between: dict | None = None,
    level: float = 0.95,
) -> str:
    """Return SVG text of the forest plot of one analysis.

    ``effects``: the analysis's study rows (``study_id, treatment_arm, control_arm, yi``,
    ``ci_lb, ci_ub`` at the review's level and ``weight`` (%) from weights.csv, and when
    known ``n_treatment, n_control, events_treatment,
    events_control, year`` and the ``subgroup_by`` column). ``pooled``: the main
    method x test row of pooled.csv for the whole analysis (``None`` when there is no
    pooled estimate; a dict with a ``status`` says why). ``subgroup_rows``: the main row of
    each subgroup; ``between``: the test for subgroup differences (subgroups.csv's last row).
    Every number is a result's (weights.csv, pooled.csv): nothing is recomputed here.
    """
    from matplotlib.patches import Polygon
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
    from matplotlib.transforms import blended_transform_factory

    is_mr = metric == "log_mr"
    ratio_name = "Ratio" if is_mr else "HR"
    rows = effects.reset_index(drop=True)
    subgroup_rows = subgroup_rows or {}
    has_pool = pooled is not None and finite(pooled.get("estimate"))
    has_pi = has_pool and finite(pooled.get("pi_low")) and finite(pooled.get("pi_high"))
    heads = [textwrap.wrap(x, 2 * _ARM_WRAP) or [""] for x in (treatment_label, control_label)]
    lines = _layout(rows, subgroup_by, subgroup_rows, pooled if has_pool else None, has_pi, heads)
    y_end = lines[-1].y + lines[-1].height
    use_groups = any(ln.kind == "group" for ln in lines)

    # Column widths from their content (inches).
    study_w = _CHAR_IN * max([len(str(s)) for s in rows["study_id"]] + [22]) + 0.2
    arm_w = _CHAR_IN * (_ARM_WRAP + 1)
    en_w = 0.62
    x_study = 0.08
    x_tarm = x_study + study_w
    x_ten = x_tarm + arm_w + en_w  # right edge of the treatment events/N
    x_carm = x_ten + 0.15
    x_cen = x_carm + arm_w + en_w
    plot_x0 = x_cen + 0.25
    plot_w = 2.9
    x_ci = plot_x0 + plot_w + 0.2
    x_w = x_ci + 1.45 + 0.5
    width = x_w + 0.12

    foot = [het_text(pooled if has_pool else None), overall_test_text(pooled if has_pool else None)]
    if use_groups:
        foot.append(between_text(between))
    if not has_pool:
        why = (pooled or {}).get("status")
        why = why if isinstance(why, str) and why and why != "ok" else "fewer than 2 studies"
        foot = [f"No pooled estimate ({why})"] + ([between_text(between)] if use_groups else [])
    foot = [s for s in foot if s]
    heading = title_lines(title, width)
    top_in = title_height(heading)
    bottom_in = 0.75 + 0.19 * len(foot)
    height = top_in + bottom_in + _ROW_IN * y_end

    # Axis limits: symmetric about 1 (RevMan's 0.5-2 ... 0.01-100), covering every study CI
    # and diamond; what lies beyond is drawn to the edge with an arrow.
    bounds: list[float] = []
    for r in rows.itertuples():
        if finite(r.yi):
            bounds.append(ratio(r.yi))
            if finite(r.ci_lb):
                bounds += [ratio(r.ci_lb), ratio(r.ci_ub)]
    for src in [pooled if has_pool else None, *subgroup_rows.values()]:
        if src is not None:
            for key in ("estimate", "ci_low", "ci_high"):
                if finite(src.get(key)):
                    bounds.append(ratio(float(src[key])))
    lim = _axis_limit(bounds)
    x0, x1 = 1 / lim, lim

    with figure(width, height) as fig:
        ax = fig.add_axes(
            (plot_x0 / width, bottom_in / height, plot_w / width, _ROW_IN * y_end / height)
        )
        ax.set_xscale("log")
        ax.set_xlim(x0, x1)
        ax.set_ylim(y_end, 0)
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
        ax.set_yticks([])
        ax.xaxis.set_major_locator(FixedLocator(ratio_ticks(x0, x1)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: tick_label(v)))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel(
            "Ratio of medians (log scale)" if is_mr else "Hazard ratio (log scale)", labelpad=20
        )
        tr = blended_transform_factory(fig.dpi_scale_trans, ax.transData)
        txt = dict(transform=tr, parse_math=False, va="center", clip_on=False)

        def text(x, y, s, **kw):
            ax.text(x, y, s, **{**txt, **kw})

        def clipped_line(lo, hi, y, **kw):
            a, b = max(lo, x0), min(hi, x1)
            ax.plot([a, b], [y, y], solid_capstyle="butt", **kw)
            for edge, beyond, sign in ((x0, lo < x0, -1), (x1, hi > x1, 1)):
                if beyond:
                    ax.annotate(
                        "",
                        xy=(edge, y),
                        xytext=(edge * math.exp(-sign * 0.12 * math.log(lim)), y),
                        arrowprops=dict(arrowstyle="-|>", color=kw.get("color", INK), lw=1),
                        annotation_clip=False,
                    )

        def diamond(row, y, color):
            est = ratio(float(row["estimate"]))
            lo = ratio(float(row["ci_low"])) if finite(row.get("ci_low")) else est
            hi = ratio(float(row["ci_high"])) if finite(row.get("ci_high")) else est
            lo, hi, est = max(lo, x0), min(hi, x1), min(max(est, x0), x1)
            pts = [(lo, y), (est, y - 0.38), (hi, y), (est, y + 0.38)]
            ax.add_patch(Polygon(pts, closed=True, facecolor=color, edgecolor=color, zorder=3))

        level_pct = f"{level * 100:g}%"
        for ln in lines:
            y = ln.y + 0.5
            if ln.kind == "header":
                # RevMan's group headers over the arm columns: the role, then the arm class.
                for x_a, x_e, role, who in (
                    (x_tarm, x_ten, "Treatment", ln.data["t"]),
                    (x_carm, x_cen, "Control", ln.data["c"]),
                ):
                    text(x_a, y, role, weight="bold")
                    for j, part in enumerate(who):
                        text(x_a, y + 0.85 * (j + 1), part, style="italic")
                    ax.plot(
                        [x_a, x_e],
                        [ln.y + ln.height - 0.02] * 2,
                        transform=tr,
                        color=GREY,
                        lw=0.6,
                        clip_on=False,
                    )
            elif ln.kind == "header2":
                bold = dict(weight="bold")
                text(x_study, y, "Study", **bold)
                text(x_tarm, y, "Arm", **bold)
                text(x_ten, y, "Events/N", ha="right", **bold)
                text(x_carm, y, "Arm", **bold)
                text(x_cen, y, "Events/N", ha="right", **bold)
                text(x_ci, y, f"{ratio_name} [{level_pct} CI]", **bold)
                text(x_w, y, "Weight", ha="right", **bold)
                ax.plot(
                    [x_study, x_w],
                    [ln.y + ln.height - 0.05] * 2,
                    transform=tr,
                    color=INK,
                    lw=0.8,
                    clip_on=False,
                )
            elif ln.kind == "group":
                text(x_study, y, f"{subgroup_by}: {ln.data['name']}", weight="bold", style="italic")
            elif ln.kind == "study":
                r = ln.data["row"]
                text(x_study, y, str(r["study_id"]))
                for x_a, parts in ((x_tarm, ln.data["t"]), (x_carm, ln.data["c"])):
                    for j, part in enumerate(parts):
                        text(x_a, y + 0.85 * j, part)
                text(
                    x_ten, y, events_n(r.get("events_treatment"), r.get("n_treatment")), ha="right"
                )
                text(x_cen, y, events_n(r.get("events_control"), r.get("n_control")), ha="right")
                lo = hi = float("nan")
                if finite(r.get("yi")):
                    yi = float(r["yi"])
                    if finite(r.get("ci_lb")):
                        lo, hi = float(r["ci_lb"]), float(r["ci_ub"])
                        clipped_line(ratio(lo), ratio(hi), y, color=INK, lw=1)
                    w = r.get("weight")
                    size = 10 + 3.2 * float(w) if finite(w) else 24
                    est = ratio(yi)
                    if x0 <= est <= x1:
                        ax.scatter(
                            [est], [y], marker="s", s=size, color=BLUE, zorder=3, linewidths=0
                        )
                text(x_ci, y, ci_text(r.get("yi"), lo, hi))
                w = r.get("weight")
                text(x_w, y, f"{float(w):.1f}%" if finite(w) else _DASH, ha="right")
            elif ln.kind == "subtotal":
                row = ln.data["row"]
                k = fmt_int(row.get("k")) if row is not None else "0"
                text(x_study, y, f"Subtotal (k = {k})", weight="bold")
                if row is not None and finite(row.get("estimate")):
                    diamond(row, y, INK)
                    text(
                        x_ci,
                        y,
                        ci_text(row["estimate"], row.get("ci_low"), row.get("ci_high")),
                        weight="bold",
                    )
                    members = rows[rows[subgroup_by].astype(str) == ln.data["name"]]
                    w = pd.to_numeric(members.get("weight"), errors="coerce").sum(min_count=1)
                    text(x_w, y, f"{w:.1f}%" if finite(w) else _DASH, ha="right", weight="bold")
                else:
                    text(x_ci, y, _DASH)
            elif ln.kind == "het":
                text(x_study, y, ln.data["text"], fontsize=8, color=GREY)
            elif ln.kind == "total":
                k = fmt_int(pooled.get("k")) if pooled is not None else _DASH
                method = f"{pooled.get('method')}, {pooled.get('test')}" if pooled else ""
                label = f"Total, random effects ({method}), k = {k}" if method else "Total"
                if k == "1":
                    label = "Total (k = 1: the study's own estimate, not pooled)"
                text(x_study, y, label, weight="bold")
                if has_pool:
                    diamond(pooled, y, RED)
                    text(
                        x_ci,
                        y,
                        ci_text(pooled["estimate"], pooled.get("ci_low"), pooled.get("ci_high")),
                        weight="bold",
                    )
                    text(x_w, y, "100%", ha="right", weight="bold")
                else:
                    text(x_ci, y, _DASH)
            elif ln.kind == "pi":
                pl, ph = ratio(float(pooled["pi_low"])), ratio(float(pooled["pi_high"]))
                clipped_line(pl, ph, y, color=RED, lw=2.5)
                text(x_study, y, f"Prediction interval ({level_pct})")
                text(x_ci, y, f"[{pl:.2f}, {ph:.2f}]")

        first = next((ln.y for ln in lines if ln.kind not in ("header", "header2")), 0.0)
        ax.plot([1, 1], [first, y_end], color=GREY, lw=0.8, zorder=1)
        if has_pool:
            est = ratio(float(pooled["estimate"]))
            if x0 <= est <= x1:
                ax.plot([est, est], [first, y_end], color=RED, lw=0.6, ls=(0, (3, 3)), zorder=1)

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
                xytext=(x_off, -16),
                textcoords="offset points",
                ha=ha,
                va="top",
                fontsize=8.5,
                style="italic",
                annotation_clip=False,
                parse_math=False,
            )
        for j, line in enumerate(foot):
            ax.annotate(
                line,
                xy=(x_study / width, 0),
                xycoords=("figure fraction", "axes fraction"),
                xytext=(0, -44 - 13.5 * j),
                textcoords="offset points",
                ha="left",
                va="top",
                fontsize=8.5,
                annotation_clip=False,
                parse_math=False,
            )
        put_title(fig, heading, width, height)
        desc = _describe(rows, pooled if has_pool else None, ratio_name, foot)
        return to_svg(fig, title, desc)


def _describe(rows: pd.DataFrame, pooled: dict | None, ratio_name: str, foot: list[str]) -> str:
    """The text alternative: what the plot shows, in words and numbers."""
    parts = [f"Forest plot of {len(rows)} study comparison(s)."]
    if pooled is not None:
        ci = ci_text(pooled["estimate"], pooled.get("ci_low"), pooled.get("ci_high"))
        parts.append(f"Pooled {ratio_name} {ci}.")
        if finite(pooled.get("pi_low")):
            parts.append(
                f"Prediction interval {fmt_exp(pooled['pi_low'])} to {fmt_exp(pooled['pi_high'])}."
            )
    parts += [s + "." for s in foot]
    return " ".join(parts)
