"""Console view of a CompareResult (`compare`): quantities down, models across."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from ..compare import cells
from .columns import Column, right, table

if TYPE_CHECKING:
    from ...tasks.compare import CompareResult


def render_compare(result: CompareResult, console: Console) -> None:
    columns = [Column("", 0, options={"no_wrap": True, "style": "bold"}),
               *(right(m.model, i + 1, overflow="fold") for i, m in enumerate(result.models))]
    console.print(table(columns, cells(result), "COMPARE (1 MiB = 1024² bytes; 1 MAC = 2 FLOPs)"))
