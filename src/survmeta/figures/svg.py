"""Deterministic, accessible, inline-able SVG from a matplotlib Figure.

Every figure of the report goes through :func:`figure` and :func:`to_svg`: the Figure API
(no pyplot state), a fixed ``svg.hashsalt`` and no metadata dates, so the same inputs give
byte-identical SVG; then the prolog is dropped, ids are made unique per figure (several
figures share one HTML page) and a ``<title>``, ``<desc>``, ``role`` and ``aria-label`` are
added for screen readers.

A figure with many cells of text (the forest plot's table) writes them through a
:class:`TextLayer`: the same ``<text>`` elements at the same coordinates as matplotlib's
Text would give, without creating, laying out and drawing one Text artist per cell (issue
18: that was most of a forest plot's drawing time).
"""

from __future__ import annotations

import hashlib
import html
import io
import re
from contextlib import contextmanager

RC = {
    "svg.hashsalt": "survmeta",
    "svg.fonttype": "none",  # text stays text: searchable, selectable, read by screen readers
    "font.family": "sans-serif",  # bundled DejaVu for layout, CSS fallbacks for browsers
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 9,
    "axes.edgecolor": "#222222",
    "axes.labelcolor": "#111111",
    "xtick.color": "#222222",
    "ytick.color": "#222222",
    "text.color": "#111111",
    "path.simplify": False,
}
INK = "#111111"
BLUE = "#1f4e79"  # study markers: 8.9:1 on white
RED = "#8b1a1a"  # pooled diamonds and the prediction interval: 9.6:1 on white
GREY = "#595959"  # secondary text: 7:1 on white


@contextmanager
def figure(width_in: float, height_in: float):
    """A matplotlib Figure under the report's fixed rc settings."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(RC):
        yield Figure(figsize=(width_in, height_in))


def to_svg(
    fig, title: str, desc: str = "", *, layer: TextLayer | None = None, key: str | None = None
) -> str:
    """The figure as SVG text: no prolog or dates, unique ids, <title>/<desc>, role=img.

    ``layer``: texts written over the figure (:class:`TextLayer`); ``key``: what makes the
    figure's ids unique on a page (default: its title; give one where two figures of a page
    may share a title, e.g. one study's curves shown under two analyses).
    """
    buf = io.StringIO()
    fig.savefig(
        buf,
        format="svg",
        metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
    )
    svg = buf.getvalue()
    if layer is not None and layer.items:
        end = svg.rindex("</svg>")
        svg = svg[:end] + layer.svg() + svg[end:]
    return accessible(svg, title, desc, key=key)


def id_prefix(key: str) -> str:
    """What a figure's ids start with: ``f`` and 8 hex digits of its key, then ``-``."""
    return "f" + hashlib.sha1(key.encode()).hexdigest()[:8] + "-"


def rekey(svg: str, old_key: str, new_key: str) -> str:
    """A drawn figure under another key (its ids and their references renamed), for the
    same picture shown twice on a page without drawing it twice."""
    old, new = id_prefix(old_key), id_prefix(new_key)
    return re.sub(r"<[^<>]+>", lambda m: m.group(0).replace(old, new), svg)


def accessible(svg: str, title: str, desc: str = "", *, key: str | None = None) -> str:
    """Drop prolog/DOCTYPE, make ids unique per figure, add <title>, <desc>, role, aria-label."""
    svg = svg[svg.index("<svg") :]
    prefix = id_prefix(title if key is None else key)

    def fix_tag(m: re.Match) -> str:  # only inside tags, never in text content
        tag = re.sub(r'(\sid=")', rf"\g<1>{prefix}", m.group(0))
        return re.sub(r'(href="|url\()#', rf"\g<1>#{prefix}", tag)

    svg = re.sub(r"<[^<>]+>", fix_tag, svg)
    t = html.escape(title)
    head = f'role="img" aria-label="{t}">\n<title>{t}</title>'
    if desc:
        head += f"\n<desc>{html.escape(desc)}</desc>"
    return re.sub(r"<svg\b([^>]*)>", lambda m: f"<svg{m.group(1)} {head}", svg, count=1)


def effect_axes(ax, scale, lo: float, hi: float, ylabel: str, handles: list) -> None:
    """The x axis on the effect's scale (ratio ticks on a log axis, or months), the y label
    and the legend beside the plot: the funnel and GOSH plots share this frame."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    log_ticks = scale.log_axis_ticks(lo, hi)
    if log_ticks is not None:
        ax.xaxis.set_major_locator(FixedLocator(log_ticks[0]))
        ax.xaxis.set_major_formatter(FuncFormatter(log_ticks[1]))
        ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(scale.label)
    ax.set_ylabel(ylabel)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False,
              fontsize=8)  # fmt: skip


def title_lines(title: str, width_in: float, size: float = 10.5) -> list[str]:
    """The title wrapped to the figure's width (an estimate from the average glyph width)."""
    import textwrap

    chars = max(20, int(width_in / (size * 0.0085)))
    return textwrap.wrap(title, chars) or [""]


def put_title(fig, lines: list[str], width_in: float, height_in: float, size: float = 10.5):
    """The wrapped title at the top left, one suptitle-like text per figure."""
    fig.text(
        0.1 / width_in,
        1 - 0.12 / height_in,
        "\n".join(lines),
        ha="left",
        va="top",
        fontsize=size,
        weight="bold",
        parse_math=False,
        linespacing=1.3,
    )


def title_height(lines: list[str], size: float = 10.5) -> float:
    """Inches the wrapped title takes, with the gap below it."""
    return 0.28 + len(lines) * size * 1.3 / 72


def ratio_ticks(x0: float, x1: float) -> list[float]:
    """Plain-number ticks (0.5, 1, 2) on a log axis from x0 to x1, never mathtext 10^k."""
    import math

    decades = math.log10(x1 / x0)
    mant = (1,) if decades > 2.5 else (1, 2, 5) if decades > 0.8 else (1, 1.5, 2, 3, 5, 7)
    ticks = [m * 10.0**e for e in range(-6, 7) for m in mant]
    return [t for t in ticks if x0 * (1 - 1e-9) <= t <= x1 * (1 + 1e-9)]


def tick_label(v: float) -> str:
    return f"{v:g}"


#: matplotlib's font-family list in SVG text (backend_svg: the configured names, quoted, then
#: the generic family).
_FAMILY_CSS = ", ".join([repr(name) for name in RC["font.sans-serif"]] + ["sans-serif"])
_WEIGHTS = {"normal": 400, "bold": 700}
_ANCHOR = {"left": "start", "right": "end", "center": "middle"}
_FONT_SCALE = 100.0  # matplotlib.textpath.TextToPath measures every text at this size


def _short(x: float) -> str:
    """A coordinate as matplotlib's SVG backend writes it (``%f``, trailing zeros dropped)."""
    return f"{x:f}".rstrip("0").rstrip(".")


class _Font:
    """One font (weight x style) under :data:`RC`, measured as matplotlib measures text.

    ``ascent``/``descent`` (per point of size): the font's OS/2 typographic ascender and
    descender, which matplotlib's Text takes as the least extent of a line
    (``Text._get_layout``); :meth:`extent` the ink extent of a text, from each character's
    extent measured once (the extent of a text is the union of its glyphs' boxes, FreeType's
    ``FT_Glyph_Get_CBox`` as ft2font sums them, so the same numbers come out).
    """

    _cache: dict = {}

    def __init__(self, weight: str, style: str):
        import matplotlib
        from matplotlib.font_manager import FontProperties, findfont, get_font
        from matplotlib.textpath import TextToPath

        with matplotlib.rc_context(RC):
            self.prop = FontProperties(size=_FONT_SCALE, weight=weight, style=style)
            font = get_font(findfont(self.prop))
            os2, upem = font.get_sfnt_table("OS/2"), font.get_sfnt_table("head")["unitsPerEm"]
        self.ascent = os2["sTypoAscender"] / upem
        self.descent = -os2["sTypoDescender"] / upem
        self._measure = TextToPath().get_text_width_height_descent
        self._chars: dict[str, tuple[float, float]] = {}

    @classmethod
    def get(cls, weight: str, style: str) -> _Font:
        key = (weight, style)
        if key not in cls._cache:
            cls._cache[key] = cls(weight, style)
        return cls._cache[key]

    def extent(self, text: str) -> tuple[float, float]:
        """(top, bottom) of the ink above the baseline at size 100 (bottom < 0 below it)."""
        top = bottom = None
        for ch in text:
            if ch not in self._chars:
                import matplotlib

                with matplotlib.rc_context(RC):
                    _, h, d = self._measure(ch, self.prop, False)
                self._chars[ch] = (h - d, -d)
            t, b = self._chars[ch]
            top = t if top is None or t > top else top
            bottom = b if bottom is None or b < bottom else bottom
        return (0.0, 0.0) if top is None else (top, bottom)

    def baseline_shift(self, text: str, size: float, va: str) -> float:
        """Points from the anchor down to the baseline of a one-line Text with ``va``."""
        scale = size / _FONT_SCALE
        top, bottom = self.extent(text)
        h, d = (top - bottom) * scale, -bottom * scale  # as TextToPath returns them
        a = max(h - d, self.ascent * size)
        d = max(d, self.descent * size)
        if va == "center":
            return (a + d) / 2 - d
        if va == "top":
            return a
        if va == "baseline":
            return 0.0
        raise ValueError(f"va={va!r}: expected center, top or baseline")


class TextLayer:
    """One-line texts of a figure, written as SVG ``<text>`` elements over it.

    Each text is placed exactly where ``fig.text(..., va=va, ha=ha)`` would put it with
    ``svg.fonttype: none`` (same anchor, same baseline, same style), at a fraction of the
    cost: no artist is created and no text is laid out or measured but for its height
    (:class:`_Font`). Positions are in inches from the figure's top left corner.
    """

    def __init__(self, height_in: float):
        self.height_in = height_in
        self.items: list[str] = []

    def add(
        self,
        x_in: float,
        y_in: float,
        text: str,
        *,
        ha: str = "left",
        va: str = "center",
        size: float = 9.0,
        weight: str = "normal",
        style: str = "normal",
        color: str = "#111111",
    ) -> None:
        """A text at (``x_in``, ``y_in``) inches from the top left, aligned by ``ha``/``va``."""
        if "\n" in text:
            raise ValueError("TextLayer holds one-line texts")
        if not text:
            return  # as matplotlib, which writes no element for an empty text
        x = x_in * 72
        y = y_in * 72 + _Font.get(weight, style).baseline_shift(text, size, va)
        css = []
        if style != "normal":
            css.append(f"font-style: {style}")
        if _WEIGHTS.get(weight, weight) != 400:
            css.append(f"font-weight: {_WEIGHTS.get(weight, weight)}")
        css += [
            f"font-size: {_short(size)}px",
            f"font-family: {_FAMILY_CSS}",
            f"text-anchor: {_ANCHOR[ha]}",
        ]
        if color.lower() != "#000000":
            css.append(f"fill: {color}")
        xs, ys = _short(x), _short(y)
        self.items.append(
            f'  <text style="{"; ".join(css)}" x="{xs}" y="{ys}" '
            f'transform="rotate(-0 {xs} {ys})">{html.escape(text, quote=False)}</text>\n'
        )

    def svg(self) -> str:
        return ' <g id="text_layer">\n' + "".join(self.items) + " </g>\n"
