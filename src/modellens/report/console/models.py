"""Console view of the offline catalog (`models`)."""

from __future__ import annotations

from rich.console import Console

from ... import units
from .columns import PLAIN, Column, right, table

# Model ids are typed back: never cut; family and architecture go first at 80 columns.
CATALOG = (Column("model", "spec", options={"no_wrap": True}),
           Column("family", lambda r: r["family"] or "", options={"no_wrap": True}, drop=2),
           right("params", "params", lambda n: units.significant(n, steps=units.PARAMS, sep="")
                 if n else "?", no_wrap=True),
           right("context", "context", lambda n: f"{n:,}" if n else "", no_wrap=True),
           Column("architecture", lambda r: r["architecture"] or "", options={"no_wrap": True},
                  drop=3))


def render(rows: list[dict], console: Console) -> None:
    """`rows`: catalog index entries (spec, family, params, context, architecture)."""
    console.print(table(CATALOG, rows, f"offline catalog ({len(rows)} models)", PLAIN,
                        title_justify="left"))
