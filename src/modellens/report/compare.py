"""What `compare` shows, one row per quantity and one column per model, for the console table
and the markdown and LaTeX tables (`sections.compare_document`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from .. import units

if TYPE_CHECKING:
    from ..tasks.compare import ComparedModel, CompareResult

Metric = tuple[str, Callable[["ComparedModel"], str]]


def metrics(result: CompareResult) -> list[Metric]:
    rows: list[Metric] = [
        ("Class", lambda m: m.model_class),
        ("Input", lambda m: m.input_description),
        ("Params", lambda m: units.count(m.params)),
        ("FLOPs fwd (matmul)", lambda m: units.count(m.forward_flops, "FLOPs")),
        ("FLOPs fwd (all ops)", lambda m: units.count(m.forward_flops_all, "FLOPs")),
        ("FLOPs bwd (matmul)", lambda m: units.count(m.backward_flops, "FLOPs")),
        ("Memory, inference", lambda m: units.size(m.inference_memory_bytes)),
        (f"Memory, training ({result.optimizer})", lambda m: units.size(m.training_memory_bytes)),
    ]
    rows += [(f"Fwd time, {chip}", lambda m, chip=chip: units.duration(m.forward_time_s[chip]))
             for chip in result.chips]
    rows.append(("Intensity (all FLOPs/B)", lambda m: f"{m.arithmetic_intensity:.1f}"))
    return rows


def cells(result: CompareResult) -> list[list[str]]:
    """[quantity, value per model] rows."""
    return [[label, *(value(m) for m in result.models)] for label, value in metrics(result)]
