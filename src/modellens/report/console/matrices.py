"""Console view of a MatricesResult (`matrices`, seed 000): one line per model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from ... import units
from ..text import safe
from .columns import Column, right, table

if TYPE_CHECKING:
    from ...tasks.matrices import MatricesResult

_thousands = "{:,}".format
MODELS = (Column("Model Name", "name"), right("Matrix Count", "total_matrices", _thousands),
          right("Total Matrix Params", "total_matrix_params", _thousands),
          right("Model Params", "model_params", _thousands),
          right("Matrix Bytes", "matrix_bytes", units.size),
          right("Max Seq", "max_sequence_length", lambda n: "-" if n is None else f"{n:,}"),
          right("Fwd FLOPs", "forward_flops",
                lambda n: "unknown" if n is None else units.count(n, "FLOPs")),
          right("Stream Time", "stream_time_s", units.duration))


def render(result: MatricesResult, console: Console) -> None:
    console.print(table(MODELS, result.models,
                        f"WEIGHT MATRICES (stream time at {result.bandwidth_source})"))
    for model in result.models:
        for note in model.notes:
            console.print(f"[dim]{safe(model.name)}: {safe(note)}[/dim]")
