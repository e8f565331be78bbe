"""Gather what the report shows: results, figures, input checksums, config and versions.

Reads files only; imports neither matplotlib nor pymare (the figures are already drawn).
"""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path, PurePath

import yaml

from ..figures.data import FIGURE_SUFFIXES, gosh_tables, read_table, sensitivity_tables
from ..tables import read_raw

PACKAGES = (
    "snakemake",
    "numpy",
    "scipy",
    "pandas",
    "statsmodels",
    "pymare",
    "matplotlib",
    "jinja2",
    "survmeta",
)


def software_versions() -> dict[str, str]:
    """Python and the packages whose numbers or output the report depends on."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def figure_map(paths: Iterable, analysis_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """{analysis_id: {kind: svg text}} from results/figures/<id>[_funnel|_gosh].svg."""
    by_name = {Path(p).name: Path(p) for p in paths}
    out: dict[str, dict[str, str]] = {}
    for aid in analysis_ids:
        for kind, suffix in FIGURE_SUFFIXES.items():
            p = by_name.get(f"{aid}{suffix}.svg")
            if p is not None:
                out.setdefault(aid, {})[kind] = p.read_text(encoding="utf-8")
    return out


def shown_path(path) -> str:
    """A configured input path as shown: never absolute (machine-specific, leaks user names)."""
    p = PurePath(str(path))
    return p.name if p.is_absolute() else str(path)


def config_yaml(config: dict) -> str:
    """The config as run, as YAML (key order kept, so two runs print the same text)."""
    return yaml.safe_dump(
        _plain(config), sort_keys=False, allow_unicode=True, width=96, default_flow_style=False
    )


def _plain(x):
    """Snakemake's config may hold its own dict/list subclasses: plain types for YAML."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    return x


def load_results(
    tables: dict[str, str],
    effects,
    excluded,
    derivations,
    pooled,
    config: dict,
    sensitivity: Iterable = (),
    gosh: Iterable = (),
) -> dict:
    """Everything the report shows, read once from the result files (paths).

    ``tables``: {input table name: path} (studies and arms are shown, every one is
    hashed); ``sensitivity``: results/sensitivity/<id>/<name>.csv files; ``gosh``:
    results/gosh/<id>.csv files. The figures are drawn from the same tables.
    """
    ids = [a["id"] for a in config["analyses"]]
    # already validated before any job ran: read, not re-checked
    return {
        "effects": read_table(effects),
        "excluded": read_table(excluded) if excluded else None,
        "derivations": read_table(derivations) if derivations else None,
        "pooled": read_table(pooled),
        "studies": read_raw(tables["studies"], "studies"),
        "arms": read_raw(tables["arms"], "arms") if "arms" in tables else None,
        "sensitivity": sensitivity_tables(sensitivity),
        "gosh": gosh_tables(gosh, ids),
        "inputs": [
            (name, shown_path(config["inputs"].get(name, path)), sha256(path))
            for name, path in tables.items()
        ],
    }


def render_results(results: dict, figures: dict, config: dict) -> str:
    """The report's HTML from :func:`load_results` and the drawn {id: {kind: svg}}."""
    from .render import render_report

    return render_report(
        config=config,
        **results,
        figures=figures,
        versions=software_versions(),
        config_text=config_yaml(config),
    )


def build_report(
    tables: dict[str, str],
    effects,
    excluded,
    derivations,
    pooled,
    figures: Iterable,
    config: dict,
    sensitivity: Iterable = (),
    gosh: Iterable = (),
) -> str:
    """The report's HTML from the result files and the SVG files already written."""
    results = load_results(
        tables, effects, excluded, derivations, pooled, config, sensitivity, gosh
    )
    ids = [a["id"] for a in config["analyses"]]
    return render_results(results, figure_map(figures, ids), config)
