"""Console view of the result cache (`cache info`, `cache clear`)."""

from __future__ import annotations

from rich.console import Console

from ... import units
from .columns import kv_table


def render(info: dict, console: Console, *, cleared: bool = False) -> None:
    """`info`: the cache's directory, entries and bytes (`tasks.result_cache.CacheInfo`)."""
    title = "result cache cleared" if cleared else "result cache"
    what = "removed" if cleared else "entries"
    console.print(kv_table(title, [("directory", info["directory"]),
                                   (what, f"{info['entries']:,}"),
                                   ("size", units.size(info["bytes"]))]))
