"""Console table and CSV rows of a TimeResult (`modellens time`)."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .. import units


def render_time(result, console: Console, top: int = 15) -> None:
    summary = Table(title=f"TIME: {escape(result.model)} on {result.device}",
                    title_justify="left", title_style="bold cyan", box=box.SIMPLE_HEAD,
                    show_header=False, pad_edge=False)
    summary.add_column("key", style="bold")
    summary.add_column("value", justify="right")
    measured = result.measured
    summary.add_row("Measured end to end", units.duration(measured.end_to_end_s))
    summary.add_row("Measured op by op (sum)", units.duration(measured.op_sum_s))
    if measured.ratio is not None:
        summary.add_row("Op sum / end to end", f"{measured.ratio:.2f}")
    if result.hardware is not None:
        summary.add_row(f"Predicted ({escape(result.hardware['name'])})",
                        units.duration(result.predicted_s))
        if measured.end_to_end_s and result.predicted_s:
            error = (result.predicted_s - measured.end_to_end_s) / measured.end_to_end_s
            summary.add_row("Prediction vs end to end", f"{100 * error:+.1f} %")
    summary.add_row("Configurations measured",
                    f"{result.configs_measured} of {result.configs_total}")
    console.print(summary)
    table = Table(title="SLOWEST OP CONFIGURATIONS (time x calls)", title_justify="left",
                  title_style="bold cyan", box=box.SIMPLE_HEAD, pad_edge=False)
    for header in ("op", "shapes", "calls", "measured", "predicted", "achieved"):
        table.add_column(header, justify="left" if header in ("op", "shapes") else "right",
                         overflow="fold")
    rows = sorted((r for r in result.ops if r.measured_s), key=lambda r: -r.measured_s * r.calls)
    for row in rows[:top]:
        table.add_row(escape(row.name.removeprefix("aten.")), units.shapes(row.shapes),
                      str(row.calls), units.duration(row.measured_s),
                      units.duration(row.predicted_s),
                      units.count(row.achieved_flops_per_s, "FLOP/s")
                      if row.flops else units.size(row.achieved_bytes_per_s) + "/s")
    console.print(table)
    for row in result.failed:
        console.print(f"[red]failed[/] {escape(row.name)} {units.shapes(row.shapes)}: "
                      f"{escape(row.error)}")
    for note in result.notes:
        console.print(f"[dim]note: {escape(note)}[/]")


def time_rows(result) -> list[dict]:
    return [row.to_dict() for row in result.ops]
