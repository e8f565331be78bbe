"""Deterministic, accessible, inline-able SVG from a matplotlib Figure.

Every figure of the report goes through :func:`figure` and :func:`to_svg`: the Figure API
(no pyplot state), a fixed ``svg.hashsalt`` and no metadata dates, so the same inputs give
byte-identical SVG; then the prolog is dropped, ids are made unique per figure (several
figures share one HTML page) and a ``<title>``, ``<desc>``, ``role`` and ``aria-label`` are
added for screen readers.
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


def to_svg(fig, title: str, desc: str = "") -> str:
    """The figure as SVG text: no prolog or dates, unique ids, <title>/<desc>, role=img."""
    buf = io.StringIO()
    fig.savefig(
        buf,
        format="svg",
        metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
    )
    return accessible(buf.getvalue(), title, desc)


def accessible(svg: str, title: str, desc: str = "") -> str:
    """Drop prolog/DOCTYPE, make ids unique per figure, add <title>, <desc>, role, aria-label."""
    svg = svg[svg.index("<svg") :]
    prefix = "f" + hashlib.sha1(title.encode()).hexdigest()[:8] + "-"

    def fix_tag(m: re.Match) -> str:  # only inside tags, never in text content
        tag = re.sub(r'(\sid=")', rf"\g<1>{prefix}", m.group(0))
        return re.sub(r'(href="|url\()#', rf"\g<1>#{prefix}", tag)

    svg = re.sub(r"<[^<>]+>", fix_tag, svg)
    t = html.escape(title)
    head = f'role="img" aria-label="{t}">\n<title>{t}</title>'
    if desc:
        head += f"\n<desc>{html.escape(desc)}</desc>"
    return re.sub(r"<svg\b([^>]*)>", lambda m: f"<svg{m.group(1)} {head}", svg, count=1)


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
