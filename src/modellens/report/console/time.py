"""Console view of a TimeResult (`time`): measured and predicted totals, and the slowest op
configurations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from ... import units
from ..text import safe
from .columns import Column, kv_table, table

if TYPE_CHECKING:
    from ...tasks.time import OpTimeRow, TimeResult


def _achieved(row: OpTimeRow) -> str:
    if row.flops:
        return units.count(row.achieved_flops_per_s, "FLOP/s")
    return units.size(row.achieved_bytes_per_s) + "/s"


_FOLD = {"overflow": "fold"}
SLOWEST = (Column("op", lambda r: r.name.removeprefix("aten."), options=_FOLD),
           Column("shapes", "shapes", units.shapes, options=_FOLD),
           Column("calls", "calls", justify="right", options=_FOLD),
           Column("measured", "measured_s", units.duration, "right", _FOLD),
           Column("predicted", "predicted_s", units.duration, "right", _FOLD),
           Column("achieved", lambda r: r, _achieved, "right", _FOLD))


def render_time(result: TimeResult, console: Console, top: int = 15) -> None:
    console.print(kv_table(f"TIME: {result.model} on {result.device}", _summary(result)))
    rows = sorted((r for r in result.ops if r.measured_s), key=lambda r: -r.measured_s * r.calls)
    console.print(table(SLOWEST, rows[:top], "SLOWEST OP CONFIGURATIONS (time x calls)",
                        pad_edge=False))
    for row in result.failed:
        console.print(f"[red]failed[/] {safe(row.name)} {safe(units.shapes(row.shapes))}: "
                      f"{safe(row.error)}")
    for note in result.notes:
        console.print(f"[dim]note: {safe(note)}[/]")


def _summary(result: TimeResult) -> list[tuple[str, str]]:
    measured = result.measured
    rows = [("Measured end to end", units.duration(measured.end_to_end_s)),
            ("Measured op by op (sum)", units.duration(measured.op_sum_s))]
    if measured.ratio is not None:
        rows.append(("Op sum / end to end", f"{measured.ratio:.2f}"))
    if result.hardware is not None:
        rows.append((f"Predicted ({result.hardware['name']})",
                     units.duration(result.predicted_s)))
        if measured.end_to_end_s and result.predicted_s:
            error = (result.predicted_s - measured.end_to_end_s) / measured.end_to_end_s
            rows.append(("Prediction vs end to end", f"{100 * error:+.1f} %"))
    rows.append(("Configurations measured", f"{result.configs_measured} of {result.configs_total}"))
    return rows
