"""The report rendered and its figures drawn in separate jobs, put together at the end.

The figure jobs (one per shard, matplotlib) and the rendering job (jinja2, no matplotlib)
run side by side; the rendering leaves a marker where each figure goes and
:func:`assemble` replaces every marker with its SVG. The markers are HTML comments made of
the analysis id (a safe file name: config checks) and a counter, never of data.
Plain Python: the assembly runs in snakemake's own process, as a local rule.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

MARK = "<!--survmeta-figure:{}-->"
_MARK_RE = re.compile(r"<!--survmeta-figure:([^>]*?)-->")


def figure_key(analysis_id: str, kind: str, index: int | None = None) -> str:
    """``os_hr/forest``, or ``os_hr/km/0`` for the first reconstructed study's curves."""
    return f"{analysis_id}/{kind}" if index is None else f"{analysis_id}/{kind}/{index}"


def markers(keys_by_analysis: dict[str, dict]) -> dict[str, dict]:
    """The rendering job's stand-ins for the figures: {analysis id: {kind: marker}} with
    ``km``: {study id: marker}, from figures.plots.figure_keys of each analysis."""
    out: dict[str, dict] = {}
    for aid, keys in keys_by_analysis.items():
        out[aid] = {}
        for kind, what in keys.items():
            if kind == "km":
                out[aid]["km"] = {
                    sid: MARK.format(figure_key(aid, "km", i)) for i, sid in enumerate(what)
                }
            else:
                out[aid][kind] = MARK.format(figure_key(aid, kind))
    return out


def inline_figures(drawn: dict[str, dict], keys_by_analysis: dict[str, dict]) -> dict[str, str]:
    """{marker key: svg} of the figures that exist only in the report (not as files)."""
    out = {}
    for aid, svgs in drawn.items():
        for kind, svg in svgs.items():
            if kind == "km":
                for i, sid in enumerate(keys_by_analysis[aid].get("km", [])):
                    out[figure_key(aid, "km", i)] = svg[sid]
            elif kind == "bayes_tau":
                out[figure_key(aid, kind)] = svg
    return out


def assemble(draft: str, svgs: dict[str, str]) -> str:
    """The draft with every marker replaced by its SVG; a marker without one is an error."""
    missing = sorted({m for m in _MARK_RE.findall(draft) if m not in svgs})
    if missing:
        raise ValueError(f"figures missing from the report: {', '.join(missing)}")
    return _MARK_RE.sub(lambda m: svgs[m.group(1)], draft)


def assemble_files(draft, figure_files: dict[str, str], bundles, out) -> None:
    """Write ``out``: ``draft`` with its markers replaced by the SVG files (``figure_files``:
    marker key -> path) and the inline figures of the shards' JSON ``bundles``."""
    from ..io import write_text

    svgs = {key: Path(path).read_text(encoding="utf-8") for key, path in figure_files.items()}
    for bundle in bundles:
        svgs |= json.loads(Path(bundle).read_text(encoding="utf-8"))
    write_text(out, assemble(Path(draft).read_text(encoding="utf-8"), svgs))
