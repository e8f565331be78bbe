"""Where the numbers came from: checksums of the input tables and the software versions.

The harmonize job writes the checksums to ``results/inputs.csv`` (it reads the
tables); the report shows that table and the versions of the job that renders it.
"""

from __future__ import annotations

import hashlib
import platform
from importlib import metadata
from pathlib import Path, PurePath

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
INPUT_COLUMNS = ["table", "path", "sha256"]


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def shown_path(path) -> str:
    """A configured input path as shown: never absolute (machine-specific, leaks user names)."""
    p = PurePath(str(path))
    return p.name if p.is_absolute() else str(path)


def input_checksums(inputs: dict, base: Path | str = ".") -> list[dict]:
    """One record per configured input table: its name, path as configured, SHA-256 (of the
    file at ``base``/path)."""
    return [
        {"table": name, "path": shown_path(path), "sha256": sha256(Path(base) / path)}
        for name, path in inputs.items()
    ]


def software_versions() -> dict[str, str]:
    """Python and the packages whose numbers or output the report depends on."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
