"""Gather what the report shows: results, figures, input checksums and software versions."""

from __future__ import annotations

import hashlib
import platform
from importlib import metadata
from pathlib import Path

import pandas as pd

from ..figures.plots import analysis_effects
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


def build_report(tables, effects, excluded, derivations, pooled, figures, config) -> str:
    """The report's HTML from the result files (paths) and the run's config."""
    from .render import render_report

    eff = pd.read_csv(effects, keep_default_na=False, na_values=[""])
    pool = pd.read_csv(pooled, keep_default_na=False, na_values=[""])
    parts = []
    for a in config["analyses"]:
        rows, _ = analysis_effects(eff, pool, a["id"])
        parts.append(rows)
    eff = pd.concat(parts) if parts else eff
    # already validated before any job ran: read, not re-checked
    studies = read_raw(tables["studies"], "studies")
    return render_report(
        eff,
        pd.read_csv(excluded, keep_default_na=False, na_values=[""]),
        pool,
        studies,
        config,
        {aid: Path(p).read_text(encoding="utf-8") for aid, p in figures.items()},
        software_versions(),
        {str(config["inputs"][name]): sha256(path) for name, path in sorted(tables.items())},
    )
