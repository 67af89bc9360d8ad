"""Console view of the chip list (`hardware`)."""

from __future__ import annotations

from typing import Callable

from rich.console import Console

from ... import units
from ..text import safe
from .columns import PLAIN, Column, kv_table, right, table


def _rate(unit: str) -> Callable[[float | None], str]:
    return lambda value: units.count(value, unit)


# Chip ids are typed back (`--hardware ID`): never cut; names wrap; aliases go first at 80 columns.
_WHOLE = {"no_wrap": True}
CHIPS = (Column("id", "id", options=_WHOLE), Column("name", "name", options={"min_width": 12}),
         right("bf16", "bf16_flops", _rate("FLOP/s"), **_WHOLE),
         right("fp32", "fp32_flops", _rate("FLOP/s"), drop=2, **_WHOLE),
         right("bandwidth", "memory_bandwidth", _rate("B/s"), **_WHOLE),
         right("memory", "memory_bytes", units.size, **_WHOLE),
         Column("aliases", "aliases", options={"min_width": 16}, drop=3))


def render(rows: list[dict], console: Console) -> None:
    """`rows`: `csv_rows.chip_rows` of the chips."""
    console.print(table(CHIPS, rows, "Chips (dense peaks)", PLAIN))


def render_measured(result, kept, console: Console) -> None:
    """Summary of `hardware --measure`: what was measured and where the chip YAML is."""
    chip = result.chip
    model = chip.time_model
    rows = [("Device", chip.name),
            ("Peak matmul", units.count(max(chip.peak_flops.values()), "FLOP/s")),
            ("Memory bandwidth (streaming)", units.count(chip.memory_bandwidth, "B/s")),
            ("Fixed cost of an op / a view", f"{units.duration(model.overhead('default'))} / "
                                             f"{units.duration(model.overhead('view'))}"),
            ("Efficiency curves", ", ".join(sorted(set(model.compute) | set(model.memory)))),
            ("Op configurations timed", str(len(result.samples))),
            ("Kept for `modellens time`", str(kept))]
    console.print(kv_table("MEASURED CHIP (use with --hardware FILE.yaml)", rows))
    for failure in result.failures:
        console.print(f"[dim]not measured: {safe(failure)}[/]")
