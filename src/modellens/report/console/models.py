"""Console view of the offline catalog (`models`)."""

from __future__ import annotations

from rich.console import Console

from ... import units
from .columns import PLAIN, Column, right, table

CATALOG = (Column("model", "spec"), Column("family", lambda r: r["family"] or ""),
           right("params", "params", lambda n: units.significant(n, steps=units.PARAMS, sep="")
                 if n else "?"),
           right("context", "context", lambda n: f"{n:,}" if n else ""),
           Column("architecture", lambda r: r["architecture"] or ""))


def render(rows: list[dict], console: Console) -> None:
    """`rows`: catalog index entries (spec, family, params, context, architecture)."""
    console.print(table(CATALOG, rows, f"offline catalog ({len(rows)} models)", PLAIN,
                        title_justify="left"))
