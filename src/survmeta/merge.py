"""Merge the shards' review-wide tables into one, rows in the config's analysis order.

Each pool shard writes pooled.csv, weights.csv, ... for its own analyses; the merged table
is byte for byte the table one job would have written: the header once, then each
analysis's rows as its shard wrote them, analyses in config order. Plain ``csv`` (no
pandas): it runs in snakemake's own process, as a local rule.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .io import atomic_open


def merge_tables(paths: list, out, analysis_order: list[str]) -> None:
    """Concatenate CSVs that share a header, grouping rows by ``analysis_id``."""
    header: list[str] | None = None
    rows: dict[str, list[list[str]]] = {}
    for path in paths:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            head = next(reader, None)
            if head is None:
                continue
            if header is None:
                header = head
            elif head != header:
                raise ValueError(f"{path}: columns differ from the other shards'")
            col = head.index("analysis_id")
            for row in reader:
                rows.setdefault(row[col], []).append(row)
    unknown = set(rows) - set(analysis_order)
    if unknown:
        raise ValueError(f"rows of analyses not in the config: {sorted(unknown)}")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if header is not None:
        writer.writerow(header)
    for aid in analysis_order:
        writer.writerows(rows.get(aid, []))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(out) as fh:
        fh.write(buf.getvalue())
