"""Forest plot in the layout reviewers know from RevMan and R's meta, as inline-able SVG.

Per comparison: the arms with events/N, the effect with its CI as text and as a square whose
area is proportional to its weight in the main model, and the weight in %. A study that gives
several comparisons (a multi-arm trial) is a header line with its comparisons indented
beneath, as RevMan draws them. With subgroups, each block ends in its own diamond and
heterogeneity line; then the overall diamond, the prediction interval (Higgins, Thompson &
Spiegelhalter 2009), the model, the heterogeneity line (tau², Q with df and p, I²; for the
multilevel model of methods.md §4 its two variance components and Q_E), the test for the
overall effect (z, t or the cluster-robust t with the df of the pooled row) and the test for
subgroup differences. In a hazard-ratio plot, a comparison whose Grambsch-Therneau test
(methods.md §6) rejects proportional hazards is marked.

The x axis is on the ratio scale (log), symmetric about 1, for hazard ratios and ratios of
medians; in months, linear and symmetric about 0, for restricted mean survival differences.

Text is written through :class:`~.svg.TextLayer` (one SVG element per cell, placed as a
matplotlib Text would be); matplotlib draws the axis, the lines and the shapes.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field

import pandas as pd

from ..numbers import DASH as _DASH
from ..numbers import events_n, finite, fmt_dec, fmt_int, missing, p_text
from .data import arm_label
from .effect_scale import EffectScale
from .svg import (
    BLUE,
    GREY,
    INK,
    RED,
    TextLayer,
    figure,
    put_title,
    tick_label,
    title_height,
    title_lines,
    to_svg,
)

_ROW_IN = 0.21  # inches per text line, so height scales with k
_CHAR_IN = 0.07  # average width of a character at 9 pt (DejaVu Sans), for column widths
_ARM_WRAP = 18  # characters per line of an arm name
_INDENT_IN = 0.16  # a comparison beneath its study's header line
_PH_MARK = "†"
PH_NOTE = (
    f"{_PH_MARK} proportional-hazards test p < 0.05 (Grambsch-Therneau on the reconstructed "
    "patients): read its HR with care"
)
ESTIMATED_NOTE = "≈ events estimated by the harmonization method, not reported"
#: The row's ``test`` whose statistic is a t (df in the pooled row's ``df``).
_T_TESTS = {"t", "knha", "adhoc", "cr2"}


def k_text(k, k_studies) -> str:
    """'k = 4 comparisons, 2 studies' where a study gives several comparisons, else
    'k = 3 studies' ('k = 3' when the number of studies is not known)."""
    if not finite(k):
        return f"k = {_DASH}"
    k = int(float(k))
    if not finite(k_studies):
        return f"k = {k}"
    s = int(float(k_studies))
    studies = f"{s} stud{'y' if s == 1 else 'ies'}"
    return f"k = {studies}" if s == k else f"k = {k} comparisons, {studies}"


def het_text(row: dict | None) -> str:
    """The heterogeneity line as metafor prints it: 'Heterogeneity: tau² = …; Q = …, df = …
    (p …); I² = …%' (rma.uni), or for the multilevel model (rma.mv) its two variance
    components and Q_E: 'Heterogeneity: σ²(study) = …, σ²(comparison) = …; Q_E = …, df = …
    (p …)'."""
    if row is None or not finite(row.get("q")) or not finite(row.get("k")) or row["k"] < 2:
        return "Heterogeneity: not applicable (k = 1)" if row is not None else ""
    q = f"= {fmt_dec(row.get('q'))}, df = {fmt_int(row.get('q_df'))} ({p_text(row.get('q_p'))})"
    if str(row.get("model")) == "rma.mv":
        return (
            f"Heterogeneity: σ²(study) = {fmt_dec(row.get('sigma2_study'), 4)}, "
            f"σ²(comparison) = {fmt_dec(row.get('sigma2_comparison'), 4)}; Q_E {q}"
        )
    i2 = f"{float(row['i2']):.1f}%" if finite(row.get("i2")) else _DASH
    return f"Heterogeneity: tau² = {fmt_dec(row.get('tau2'), 4)}; Q {q}; I² = {i2}"


def _df_text(df) -> str:
    v = float(df)
    return str(int(v)) if v == int(v) else f"{v:.2f}"  # Satterthwaite df are fractional


def overall_test_text(row: dict | None) -> str:
    """'Test for overall effect: t = …, df = … (p = …)' with the pooled row's ``df``;
    'robust t' for the cluster-robust CR2 test, z where the row has no df and its test is z."""
    if row is None or not finite(row.get("stat")):
        return ""
    test = str(row.get("test") or "").lower()
    has_df = finite(row.get("df"))
    stat = "robust t" if test == "cr2" else "t" if has_df or test in _T_TESTS else "z"
    df = f", df = {_df_text(row['df'])}" if has_df else ""
    return f"Test for overall effect: {stat} = {fmt_dec(row['stat'])}{df} ({p_text(row.get('p'))})"


_TEST_NAMES = {
    "z": "z test",
    "t": "t test",
    "knha": "Hartung-Knapp test",
    "adhoc": "Hartung-Knapp test (ad hoc)",
    "cr2": "cluster-robust (CR2) t test by study",
}


def model_text(row: dict | None) -> str:
    """Which model the diamond comes from: 'Random effects (REML), Hartung-Knapp test' or
    'Multilevel random effects (REML; comparisons within studies), t test'."""
    if row is None or not isinstance(row.get("method"), str):
        return ""
    test = str(row.get("test") or "")
    how = _TEST_NAMES.get(test.lower(), f"{test} test")
    if str(row.get("model")) == "rma.mv":
        return f"Multilevel random effects ({row['method']}; comparisons within studies), {how}"
    return f"Random effects ({row['method']}), {how}"


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


def events_text(events, n) -> str:
    """'12/58'; '≈5/58' for events a method estimated (not a whole number); '–/58' when
    unknown."""
    if not finite(n):
        return _DASH
    if finite(events) and float(events) != round(float(events)):
        return f"≈{round(float(events))}/{fmt_int(n)}"
    return events_n(events, n)


@dataclass
class _Line:
    kind: str  # header | header2 | group | studyhead | study | subtotal | het | gap | total | pi
    y: float
    height: float = 1.0
    data: dict = field(default_factory=dict)


def _wrap(text: str, width: int = _ARM_WRAP) -> list[str]:
    return textwrap.wrap(text, width, break_long_words=True) or [""]


def _order(records: list[dict]) -> list[dict]:
    """Chronological (then by study id), as Cochrane forest plots are; a study's
    comparisons stay together in their order."""

    def year(r):
        y = r.get("year")
        return float(y) if finite(y) else math.inf

    return sorted(records, key=lambda r: (year(r), str(r["study_id"])))


def _distinct_label(comp: dict, comps: list[dict]) -> str:
    """What tells a study's comparisons apart: the arm that is not shared."""
    if len({str(c["control_arm"]) for c in comps}) == 1:
        return arm_label(comp["treatment_arm"])
    if len({str(c["treatment_arm"]) for c in comps}) == 1:
        return arm_label(comp["control_arm"])
    return f"{arm_label(comp['treatment_arm'])} vs {arm_label(comp['control_arm'])}"


def _ph_flag(r: dict) -> bool:
    return finite(r.get("ph_p")) and float(r["ph_p"]) < 0.05


def _layout(records, subgroup_by, subgroup_rows, overall, has_pi, heads, label_chars):
    lines: list[_Line] = []
    y = 0.0

    def add(kind, height=1.0, **data):
        nonlocal y
        lines.append(_Line(kind, y, height, data))
        y += height

    def row(r, label, indent):
        mark = f" {_PH_MARK}" if _ph_flag(r) else ""
        who = _wrap(label + mark, label_chars - 2) if indent else [label + mark]
        t = _wrap(arm_label(r.get("treatment_arm")))
        c = _wrap(arm_label(r.get("control_arm")))
        n = max(len(t), len(c), len(who))
        add("study", max(1.0, 0.85 * n + 0.15), row=r, t=t, c=c, who=who, indent=indent)

    def studies(block):
        by_study: dict[str, list[dict]] = {}
        for r in _order(block):
            by_study.setdefault(str(r["study_id"]), []).append(r)
        for sid, comps in by_study.items():
            if len(comps) == 1:
                row(comps[0], sid, False)
                continue
            add("studyhead", 1.0, name=sid, n=len(comps))
            for r in comps:
                row(r, _distinct_label(r, comps), True)

    add("header", 1.1 + 0.85 * max(len(heads[0]), len(heads[1])), t=heads[0], c=heads[1])
    add("header2", 1.2)
    if subgroup_by and any(not missing(r.get(subgroup_by)) for r in records):
        keys = [str(r.get(subgroup_by)) for r in records]
        for g in sorted(set(keys)):
            members = [r for r, key in zip(records, keys, strict=True) if key == g]
            add("group", 1.0, name=g)
            studies(members)
            sub = subgroup_rows.get(g)
            add("subtotal", 1.0, row=sub, name=g, members=members)
            add("het", 0.85, text=het_text(sub))
            add("gap", 0.3)
    else:
        studies(records)
        add("gap", 0.4)
    add("total", 1.2, row=overall)
    if has_pi:
        add("pi", 1.0, row=overall)
    add("end", 0.4)
    return lines


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

    ``effects``: the analysis's comparison rows (``study_id, treatment_arm, control_arm,
    yi``, ``ci_lb, ci_ub`` at the review's level and ``weight`` (%) from weights.csv, and
    when known effects.csv's ``n_treatment, n_control, events_t, events_c, ph_p, year`` and
    the ``subgroup_by`` column). ``pooled``: the main row of pooled.csv for the whole
    analysis (``None`` when there is no pooled estimate; a dict with a ``status`` says why),
    rma.uni or rma.mv. ``subgroup_rows``: the main row of each subgroup; ``between``: the
    test for subgroup differences (subgroups.csv's last row). ``metric``: log_hr, log_mr or
    rmst_diff. Every number is a result's (weights.csv, pooled.csv, effects.csv): nothing
    is recomputed here.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Polygon
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    scale = EffectScale(metric)
    records = effects.reset_index(drop=True).to_dict("records")
    if metric != "log_hr":  # an RMST difference or a ratio of medians assumes no PH
        records = [{**r, "ph_p": None} for r in records]
    subgroup_rows = subgroup_rows or {}
    has_pool = pooled is not None and finite(pooled.get("estimate"))
    has_pi = has_pool and finite(pooled.get("pi_low")) and finite(pooled.get("pi_high"))
    heads = [textwrap.wrap(x, 2 * _ARM_WRAP) or [""] for x in (treatment_label, control_label)]
    label_chars = max([len(str(r["study_id"])) for r in records] + [22])
    lines = _layout(
        records, subgroup_by, subgroup_rows, pooled if has_pool else None, has_pi, heads,
        label_chars,
    )  # fmt: skip
    y_end = lines[-1].y + lines[-1].height
    use_groups = any(ln.kind == "group" for ln in lines)
    n_studies = len({str(r["study_id"]) for r in records})

    # Column widths from their content (inches).
    study_w = _CHAR_IN * label_chars + 0.2
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

    row = pooled if has_pool else None
    foot = [model_text(row), het_text(row), overall_test_text(row)]
    if use_groups:
        foot.append(between_text(between))
    if not has_pool:
        why = (pooled or {}).get("status")
        why = why if isinstance(why, str) and why and why != "ok" else "fewer than 2 studies"
        foot = [f"No pooled estimate ({why})"] + ([between_text(between)] if use_groups else [])
    if any(_ph_flag(r) for r in records):
        foot.append(PH_NOTE)
    shown_events = [r.get(c) for r in records for c in ("events_t", "events_c")]
    if any(finite(e) and float(e) != round(float(e)) for e in shown_events):
        foot.append(ESTIMATED_NOTE)
    foot = [s for s in foot if s]
    heading = title_lines(title, width)
    top_in = title_height(heading)
    bottom_in = 0.75 + 0.19 * len(foot)
    height = top_in + bottom_in + _ROW_IN * y_end

    # Axis limits covering every comparison's CI and every diamond.
    bounds: list[float] = []
    for r in records:
        for key in ("yi", "ci_lb", "ci_ub"):
            if finite(r.get(key)):
                bounds.append(scale.x(r[key]))
    for src in [row, *subgroup_rows.values()]:
        if src is not None:
            for key in ("estimate", "ci_low", "ci_high"):
                if finite(src.get(key)):
                    bounds.append(scale.x(src[key]))
    x0, x1 = scale.limits(bounds)

    def px(v: float) -> float:  # axis units -> inches from the left
        return plot_x0 + plot_w * scale.frac(v, x0, x1)

    layer = TextLayer(height)

    def text(x, y, s, **kw):  # y in rows from the top of the table
        layer.add(x, top_in + _ROW_IN * y, s, **kw)

    segments: list[tuple[tuple[float, float], tuple[float, float]]] = []
    squares: list[tuple[float, float, float]] = []
    arrows: list[tuple[float, float, float, str]] = []
    diamonds: list[tuple[list, str]] = []
    rules: list[tuple[float, float, float, str, float]] = []  # x_a, x_b (inches), y, color, lw
    seg_style: list[tuple[str, float]] = []  # colour and width of each segment

    def clipped(lo, hi, y, color=INK, lw=1.0):
        a, b = max(lo, x0), min(hi, x1)
        segments.append(((a, y), (b, y)))
        seg_style.append((color, lw))
        for edge, beyond, sign in ((x0, lo < x0, -1), (x1, hi > x1, 1)):
            if beyond:
                arrows.append((edge, scale.inward(edge, sign, x0, x1), y, color))

    def diamond(r, y, color):
        est = scale.x(r["estimate"])
        lo = scale.x(r["ci_low"]) if finite(r.get("ci_low")) else est
        hi = scale.x(r["ci_high"]) if finite(r.get("ci_high")) else est
        lo, hi, est = max(lo, x0), min(hi, x1), min(max(est, x0), x1)
        diamonds.append(([(lo, y), (est, y - 0.38), (hi, y), (est, y + 0.38)], color))

    level_pct = f"{level * 100:g}%"
    bold = dict(weight="bold")
    for ln in lines:
        y = ln.y + 0.5
        if ln.kind == "header":
            # RevMan's group headers over the arm columns: the role, then the arm class.
            for x_a, x_e, role, who in (
                (x_tarm, x_ten, "Treatment", ln.data["t"]),
                (x_carm, x_cen, "Control", ln.data["c"]),
            ):
                text(x_a, y, role, **bold)
                for j, part in enumerate(who):
                    text(x_a, y + 0.85 * (j + 1), part, style="italic")
                rules.append((x_a, x_e, ln.y + ln.height - 0.02, GREY, 0.6))
        elif ln.kind == "header2":
            text(x_study, y, "Study", **bold)
            text(x_tarm, y, "Arm", **bold)
            text(x_ten, y, "Events/N", ha="right", **bold)
            text(x_carm, y, "Arm", **bold)
            text(x_cen, y, "Events/N", ha="right", **bold)
            text(x_ci, y, f"{scale.column} [{level_pct} CI]", **bold)
            text(x_w, y, "Weight", ha="right", **bold)
            rules.append((x_study, x_w, ln.y + ln.height - 0.05, INK, 0.8))
        elif ln.kind == "group":
            text(x_study, y, f"{subgroup_by}: {ln.data['name']}", weight="bold", style="italic")
        elif ln.kind == "studyhead":
            text(x_study, y, ln.data["name"])
        elif ln.kind == "study":
            r = ln.data["row"]
            x_label = x_study + (_INDENT_IN if ln.data["indent"] else 0.0)
            for j, part in enumerate(ln.data["who"]):
                text(x_label, y + 0.85 * j, part)
            for x_a, parts in ((x_tarm, ln.data["t"]), (x_carm, ln.data["c"])):
                for j, part in enumerate(parts):
                    text(x_a, y + 0.85 * j, part)
            text(x_ten, y, events_text(r.get("events_t"), r.get("n_treatment")), ha="right")
            text(x_cen, y, events_text(r.get("events_c"), r.get("n_control")), ha="right")
            lo = hi = float("nan")
            if finite(r.get("yi")):
                if finite(r.get("ci_lb")) and finite(r.get("ci_ub")):
                    lo, hi = float(r["ci_lb"]), float(r["ci_ub"])
                    clipped(scale.x(lo), scale.x(hi), y)
                w = r.get("weight")
                est = scale.x(r["yi"])
                if x0 <= est <= x1:
                    squares.append((est, y, 10 + 3.2 * float(w) if finite(w) else 24))
            text(x_ci, y, scale.ci(r.get("yi"), lo, hi))
            w = r.get("weight")
            text(x_w, y, f"{float(w):.1f}%" if finite(w) else _DASH, ha="right")
        elif ln.kind == "subtotal":
            sub = ln.data["row"]
            members = ln.data["members"]
            k = k_text(sub.get("k"), sub.get("k_studies")) if sub is not None else "k = 0"
            text(x_study, y, f"Subtotal ({k})", **bold)
            if sub is not None and finite(sub.get("estimate")):
                diamond(sub, y, INK)
                text(x_ci, y, scale.ci(sub["estimate"], sub.get("ci_low"), sub.get("ci_high")),
                     **bold)  # fmt: skip
                w = pd.to_numeric(pd.Series([m.get("weight") for m in members]), errors="coerce")
                w = w.sum(min_count=1)
                text(x_w, y, f"{w:.1f}%" if finite(w) else _DASH, ha="right", **bold)
            else:
                text(x_ci, y, _DASH)
        elif ln.kind == "het":
            text(x_study, y, ln.data["text"], size=8, color=GREY)
        elif ln.kind == "total":
            k_studies = pooled.get("k_studies") if pooled is not None else None
            if pooled is not None and finite(pooled.get("k")) and int(float(pooled["k"])) == 1:
                label = "Total (k = 1: the study's own estimate, not pooled)"
            elif pooled is not None and finite(pooled.get("k")):
                label = f"Total ({k_text(pooled['k'], k_studies)})"
            else:
                label = "Total"
            text(x_study, y, label, **bold)
            if has_pool:
                diamond(pooled, y, RED)
                ci = scale.ci(pooled["estimate"], pooled.get("ci_low"), pooled.get("ci_high"))
                text(x_ci, y, ci, **bold)
                text(x_w, y, "100%", ha="right", **bold)
            else:
                text(x_ci, y, _DASH)
        elif ln.kind == "pi":
            clipped(scale.x(pooled["pi_low"]), scale.x(pooled["pi_high"]), y, RED, 2.5)
            text(x_study, y, f"Prediction interval ({level_pct})")
            text(x_ci, y, f"[{scale.value(pooled['pi_low'])}, {scale.value(pooled['pi_high'])}]")

    first = next((ln.y for ln in lines if ln.kind not in ("header", "header2")), 0.0)
    # Which side favours whom: HR < 1 favours treatment; a ratio of medians or an RMST
    # difference above the null favours it.
    left_lab, right_lab = (
        (control_label, treatment_label)
        if scale.high_favours_treatment
        else (treatment_label, control_label)
    )
    x_null = px(scale.null_x)
    ax_bottom = top_in + _ROW_IN * y_end  # inches from the top
    for dx, ha, who in ((-6, "right", left_lab), (6, "left", right_lab)):
        layer.add(x_null + dx / 72, ax_bottom + 16 / 72, f"favours {who}", ha=ha, va="top",
                  size=8.5, style="italic")  # fmt: skip
    for j, line in enumerate(foot):
        layer.add(x_study, ax_bottom + (44 + 13.5 * j) / 72, line, va="top", size=8.5)

    with figure(width, height) as fig:
        ax = fig.add_axes(
            (plot_x0 / width, bottom_in / height, plot_w / width, _ROW_IN * y_end / height)
        )
        if not scale.months:
            ax.set_xscale("log")
        ax.set_xlim(x0, x1)
        ax.set_ylim(y_end, 0)
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
        ax.set_yticks([])
        ax.xaxis.set_major_locator(FixedLocator(scale.ticks(x0, x1)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: tick_label(v)))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel(scale.label, labelpad=20)

        # Column rules, in inches across the figure.
        for x_a, x_b, y, color, lw in rules:
            yy = 1 - (top_in + _ROW_IN * y) / height
            fig.add_artist(_line(fig, [x_a / width, x_b / width], [yy, yy], color=color, lw=lw))
        ax.plot([scale.null_x] * 2, [first, y_end], color=GREY, lw=0.8, zorder=1)
        if has_pool:
            est = scale.x(pooled["estimate"])
            if x0 <= est <= x1:
                ax.plot([est, est], [first, y_end], color=RED, lw=0.6, ls=(0, (3, 3)), zorder=1)
        if segments:
            ax.add_collection(
                LineCollection(
                    segments,
                    colors=[c for c, _ in seg_style],
                    linewidths=[w for _, w in seg_style],
                    capstyle="butt",
                    zorder=2,
                ),
                autolim=False,
            )
        for edge, tail, y, color in arrows:
            ax.annotate(
                "",
                xy=(edge, y),
                xytext=(tail, y),
                arrowprops=dict(arrowstyle="-|>", color=color, lw=1),
                annotation_clip=False,
            )
        if squares:
            xs, ys, sizes = zip(*squares, strict=True)
            ax.scatter(xs, ys, marker="s", s=sizes, color=BLUE, zorder=3, linewidths=0)
        for pts, color in diamonds:
            ax.add_patch(Polygon(pts, closed=True, facecolor=color, edgecolor=color, zorder=3))
        put_title(fig, heading, width, height)
        desc = _describe(records, n_studies, row, scale, foot)
        return to_svg(fig, title, desc, layer=layer)


def _line(fig, xs, ys, **kw):
    """A line in figure coordinates (the column rules above the table)."""
    from matplotlib.lines import Line2D

    return Line2D(xs, ys, transform=fig.transFigure, solid_capstyle="butt", **kw)


def _describe(records, n_studies, pooled: dict | None, scale: EffectScale, foot: list[str]) -> str:
    """The text alternative: what the plot shows, in words and numbers."""
    k = len(records)
    parts = [
        f"Forest plot of {k} comparison{'s' if k != 1 else ''} from {n_studies} "
        f"stud{'y' if n_studies == 1 else 'ies'}."
    ]
    unit = scale.unit
    if pooled is not None:
        ci = scale.ci(pooled["estimate"], pooled.get("ci_low"), pooled.get("ci_high"))
        parts.append(f"Pooled {scale.what} {ci}{unit}.")
        if finite(pooled.get("pi_low")):
            parts.append(
                f"Prediction interval {scale.value(pooled['pi_low'])} to "
                f"{scale.value(pooled['pi_high'])}{unit}."
            )
    parts += [s + "." for s in foot]
    return " ".join(parts)
