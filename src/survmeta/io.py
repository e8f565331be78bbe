"""Outputs are written whole or not at all: to a temporary file, then renamed."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

FLOAT_FORMAT = "%.12g"


@contextmanager
def atomic_open(path: str | Path):
    """A text file that appears at ``path`` only when the block ends without an error.

    It is written beside ``path`` (``.<name>.<random>.tmp``) and renamed over it. A job
    killed mid-write (SIGKILL, power loss) can leave such a file; the next write of the
    same output removes it (snakemake gives each output to one job at a time).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            yield fh
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; outputs are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` atomically (a reader never sees a partial file)."""
    with atomic_open(path) as fh:
        fh.write(text)


def write_csv(path: str | Path, df) -> None:
    """A DataFrame as CSV, 12 significant digits, so runs on two machines agree byte for byte."""
    write_text(path, df.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n"))
