"""Roofline: per op, time = max(FLOPs / peak, bytes / bandwidth); bound by whichever is larger."""

from __future__ import annotations

from dataclasses import dataclass

from ..capture import FORWARD, Capture, OpRecord
from ..costing.cost import OpCost
from ..costing.registry import MATMUL
from ..hardware import Chip

COMPUTE = "compute"
MEMORY = "memory"


def roofline_time(flops: float, bytes_moved: float, peak: float, bandwidth: float):
    """(time, compute time, memory time) of work on a chip: the roofline model."""
    compute, memory = flops / peak, bytes_moved / bandwidth
    return max(compute, memory), compute, memory


def op_dtype(op: OpRecord) -> str:
    """The dtype an op computes in: its first floating input, else its first output."""
    for spec in op.inputs:
        if spec.is_floating:
            return spec.dtype
    return op.outputs[0].dtype if op.outputs else "float32"


@dataclass(frozen=True, slots=True)
class OpTiming:
    time_s: float
    compute_time_s: float
    memory_time_s: float
    bound: str  # COMPUTE or MEMORY


def op_timing(op: OpRecord, cost: OpCost, chip: Chip) -> OpTiming | None:
    """None for ops that neither compute nor move data (views)."""
    if cost.flops_all == 0 and cost.bytes == 0:
        return None
    peak = chip.peak(op_dtype(op), matmul=cost.category == MATMUL)
    time, compute, memory = roofline_time(cost.flops_all, cost.bytes, peak, chip.memory_bandwidth)
    return OpTiming(time, compute, memory, COMPUTE if compute >= memory else MEMORY)


@dataclass(frozen=True)
class Bottleneck:
    hardware: str
    phase: str
    compute_bound_ops: int
    memory_bound_ops: int
    compute_bound_time_share: float
    memory_bound_time_share: float
    predicted_time_s: float  # sum over ops of their roofline time (no overlap between ops)
    arithmetic_intensity: float  # FLOPs (all) / bytes over the whole phase
    ridge_point: float  # FLOPs/byte where matmuls in the model's dtype turn compute-bound

    def to_dict(self) -> dict:
        return dict(vars(self))


def bottleneck(
    capture: Capture, costs: list[OpCost], chip: Chip, phase: str = FORWARD
) -> tuple[Bottleneck, list[OpTiming | None]]:
    """Summary for one phase plus per-op timings aligned with `capture.ops` (None elsewhere)."""
    timings: list[OpTiming | None] = []
    counts = {COMPUTE: 0, MEMORY: 0}
    times = {COMPUTE: 0.0, MEMORY: 0.0}
    flops = moved = 0
    dtype = None
    for op, cost in zip(capture.ops, costs):
        timing = op_timing(op, cost, chip) if op.phase == phase else None
        timings.append(timing)
        if timing is None:
            continue
        counts[timing.bound] += 1
        times[timing.bound] += timing.time_s
        flops += cost.flops_all
        moved += cost.bytes
        if dtype is None and cost.category == MATMUL:
            dtype = op_dtype(op)
    total = times[COMPUTE] + times[MEMORY]
    summary = Bottleneck(
        hardware=chip.id,
        phase=phase,
        compute_bound_ops=counts[COMPUTE],
        memory_bound_ops=counts[MEMORY],
        compute_bound_time_share=times[COMPUTE] / total if total else 0.0,
        memory_bound_time_share=times[MEMORY] / total if total else 0.0,
        predicted_time_s=total,
        arithmetic_intensity=flops / moved if moved else 0.0,
        ridge_point=chip.ridge_point(dtype or "float32"),
    )
    return summary, timings
