"""Outputs are written whole or not at all: to a temporary file, then renamed."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

FLOAT_FORMAT = "%.12g"


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` atomically (a reader never sees a partial file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; outputs are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_csv(path: str | Path, df) -> None:
    """A DataFrame as CSV, 12 significant digits, so runs on two machines agree byte for byte."""
    write_text(path, df.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n"))
