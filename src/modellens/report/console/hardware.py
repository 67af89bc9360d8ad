"""Console view of the chip list (`hardware`)."""

from __future__ import annotations

from typing import Callable

from rich.console import Console

from ... import units
from .columns import PLAIN, Column, table


def _rate(unit: str) -> Callable[[float | None], str]:
    return lambda value: units.count(value, unit)


CHIPS = (Column("id", "id"), Column("name", "name"),
         Column("bf16", "bf16_flops", _rate("FLOP/s")), Column("fp32", "fp32_flops", _rate("FLOP/s")),
         Column("bandwidth", "memory_bandwidth", _rate("B/s")),
         Column("memory", "memory_bytes", units.size), Column("aliases", "aliases"))


def render(rows: list[dict], console: Console) -> None:
    """`rows`: `csv_rows.chip_rows` of the chips."""
    console.print(table(CHIPS, rows, "Chips (dense peaks)", PLAIN))
