"""Console view of a MatricesResult (`matrices`, seed 000): one line per model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from ... import units
from ..text import safe
from .columns import Column, right, table
from .profile import shown_notes

if TYPE_CHECKING:
    from ...tasks.matrices import MatricesResult

_thousands = "{:,}".format
_WHOLE = {"no_wrap": True}  # numbers and their units are never cut; columns drop first
MODELS = (Column("Model Name", "name", options={"overflow": "fold", "min_width": 12}),
          right("Matrix Count", "total_matrices", _thousands, drop=4, **_WHOLE),
          right("Total Matrix Params", "total_matrix_params", _thousands, **_WHOLE),
          right("Model Params", "model_params", _thousands, drop=3, **_WHOLE),
          right("Matrix Bytes", "matrix_bytes", units.size, **_WHOLE),
          right("Max Seq", "max_sequence_length", lambda n: "-" if n is None else f"{n:,}",
                drop=2, **_WHOLE),
          right("Fwd FLOPs\n(matmul)", "forward_flops",
                lambda n: "unknown" if n is None else units.count(n, "FLOPs"), **_WHOLE),
          right("Stream Time", "stream_time_s", units.duration, drop=1, **_WHOLE))


def render(result: MatricesResult, console: Console, verbose: bool = False) -> None:
    """The models' table; block-replay notes only when `verbose`."""
    console.print(table(MODELS, result.models,
                        f"WEIGHT MATRICES (stream time at {result.bandwidth_source})"))
    for model in result.models:
        for note in shown_notes(model.notes, verbose):
            console.print(f"[dim]{safe(model.name)}: {safe(note)}[/dim]")
