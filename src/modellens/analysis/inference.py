"""Inference cost of one captured step on a chip, with storage formats changed after capture
(weight-only quantization, an fp8 KV cache), and how decode scales with batch size."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..capture import FORWARD, Capture
from ..capture.records import TensorSpec, map_specs
from ..costing.cost import OpCost
from ..costing.registry import MATMUL, category
from ..hardware import Chip
from ..io import JsonRecord
from .fusion import EAGER
from .kernels import Kernel
from .roofline import PhaseTime, distinct_specs, is_timed, weight_bytes_read

if TYPE_CHECKING:
    from .core import Analysis


def matmul_weight_storages(capture: Capture) -> set[int]:
    """Parameters read by matmul-class ops (what weight-only quantization compresses);
    embeddings, norms and biases are left out."""
    params = capture.storages("params")
    found: set[int] = set()
    for op in capture.ops:
        if category(op.name) != MATMUL:
            continue
        for spec in op.inputs:
            if spec.storage in params and len(spec.shape) >= 2:
                found.add(spec.storage)
    return found


def with_storage_formats(capture: Capture, formats: dict[frozenset[int] | set[int], str]) -> Capture:
    """A copy of `capture` whose tensors in each storage set are stored as another format.
    Shapes (so FLOPs) are unchanged; bytes follow the new element size."""
    by_storage = {sid: fmt for storages, fmt in formats.items() for sid in storages}
    if not by_storage:
        return capture

    def convert(spec: TensorSpec) -> TensorSpec:
        fmt = by_storage.get(spec.storage)
        return spec if fmt is None else TensorSpec(spec.shape, fmt, spec.storage)

    ops = [dataclasses.replace(op, args=map_specs(op.args, convert),
                               kwargs=map_specs(op.kwargs, convert),
                               outputs=tuple(convert(s) for s in op.outputs))
           for op in capture.ops]
    return dataclasses.replace(capture, ops=ops)


@dataclass(frozen=True)
class StepCost(JsonRecord):
    """One forward step: totals, its predicted time on a chip (per GPU under tensor parallelism,
    with its communication), and the bytes split that decides how it scales with batch size
    (weights are read once per step whatever the batch)."""

    flops: int  # all FLOPs (matmul-class and the rest), as the roofline uses
    matmul_flops: int
    bytes: int
    weight_bytes: int  # reads of parameters
    kv_bytes: int  # reads and writes of the KV cache
    time_s: float  # sum of per-op times under the chip's time model, plus communication
    bound: str  # where most of the time goes
    intensity: float
    communication_s: float = 0.0  # tensor-parallel all-reduces (in time_s)


def all_reduce_s(chip: Chip, layers: int, tokens: int, hidden: int, element_bytes: float,
                 tp: int) -> float:
    """Megatron tensor parallelism's communication in one step: two all-reduces per layer (after
    attention and after the MLP) of the tokens' hidden states over `tp` GPUs, on the chip's
    interconnect (0 without tensor parallelism or without interconnect data)."""
    if tp <= 1 or chip.interconnect is None:
        return 0.0
    return 2 * layers * chip.interconnect.all_reduce_time(tokens * hidden * element_bytes, tp)


def step_cost(analysis: Analysis, chip: Chip, shards: int = 1, compute_dtype: str | None = None,
              communication_s: float = 0.0, execution: str = EAGER) -> StepCost:
    """The forward step of `analysis` on `chip`, timed by the one per-op loop, on each of
    `shards` tensor-parallel GPUs, plus the step's `communication_s` (its all-reduces), with
    its ops run eagerly or as fused kernels (`execution`)."""
    params, kv = analysis.capture.storages("params"), analysis.capture.storages("kv_cache")
    weight = kv_moved = 0
    for op, cost in analysis.items(FORWARD):
        if is_timed(cost):
            weight += weight_bytes_read(op, cost, params)
            kv_moved += _kv_bytes(op, cost, kv)
    step = analysis.roofline(chip, shards, compute_dtype, execution).phase(FORWARD) or PhaseTime(FORWARD)
    return StepCost(step.flops, step.matmul_flops, step.bytes, weight, kv_moved,
                    step.time_s + communication_s, step.bound, step.intensity, communication_s)


def _kv_bytes(op, cost: OpCost, kv: set[int]) -> int:
    """Cache bytes an op moves: a cache write (output in the cache) moves what the cost says it
    writes; an attention read moves the cache tensors it takes."""
    if any(s.storage in kv for s in op.outputs):
        return cost.bytes_written
    return sum(s.nbytes for s in distinct_specs(op.inputs) if s.storage in kv)


MAX_BATCH_SEARCHED = 2**20  # compute_bound_from looks no further


@dataclass(frozen=True)
class Communication:
    """What a step's tensor-parallel all-reduces depend on (see `all_reduce_s`)."""

    layers: int
    hidden: int
    element_bytes: float
    tp: int

    def seconds(self, chip: Chip, tokens: int) -> float:
        return all_reduce_s(chip, self.layers, tokens, self.hidden, self.element_bytes, self.tp)


@dataclass(frozen=True)
class BatchScaling:
    """Decode time vs batch size from one captured step at batch `batch`: the step's kernels,
    each timed on the chip at every batch by the one per-kernel function (`Kernel.time`: FLOPs,
    activation and KV bytes and GEMM rows grow with the batch, weight reads do not), plus the
    views' fixed cost and the tensor-parallel all-reduces of the batch's tokens. At the
    captured batch it is the captured step's time."""

    batch: int
    kernels: tuple[tuple[Kernel, int], ...]  # distinct kernels and how many of each
    views: int  # ops that take no time but a view's fixed cost (eager execution)
    execution: str
    communication: Communication

    @classmethod
    def from_analysis(cls, analysis: Analysis, batch: int, communication: Communication,
                      compute_dtype: str | None = None, execution: str = EAGER) -> BatchScaling:
        kernels, views = analysis.kernels(execution, communication.tp, compute_dtype).get(
            FORWARD, ([], 0))
        counts = Counter(kernel.signature for kernel in kernels)
        return cls(batch, tuple(counts.items()), views, execution, communication)

    def _timings(self, batch: int, chip: Chip):
        scale = batch / self.batch
        return [(kernel.time(chip, self.communication.tp, scale), count)
                for kernel, count in self.kernels]

    def step_time(self, batch: int, chip: Chip) -> float:
        """Seconds per decode step of `batch` sequences, per GPU."""
        views = self.views * chip.time_model.overhead("view") if self.execution == EAGER else 0.0
        return (math.fsum(t.time_s * n for t, n in self._timings(batch, chip)) + views
                + self.communication.seconds(chip, batch))

    def tokens_per_second(self, batch: int, chip: Chip) -> float:
        return batch / self.step_time(batch, chip)

    def is_compute_bound(self, batch: int, chip: Chip) -> bool:
        """Whether the step's kernels spend more time computing than moving data."""
        timings = self._timings(batch, chip)
        return (math.fsum(t.compute_time_s * n for t, n in timings)
                >= math.fsum(t.memory_time_s * n for t, n in timings))

    def compute_bound_from(self, chip: Chip) -> int | None:
        """Smallest batch at which a decode step turns compute-bound (None: not below
        `MAX_BATCH_SEARCHED`)."""
        high = 1
        while not self.is_compute_bound(high, chip):
            if high >= MAX_BATCH_SEARCHED:
                return None
            high *= 2
        low = high // 2  # not compute-bound (or 0)
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if self.is_compute_bound(middle, chip) else (middle, high)
        return high

    def to_dict(self) -> dict[str, Any]:
        """The step's totals per sequence (what grows with the batch) and its weight reads."""
        flops = sum(k.flops * n for k, n in self.kernels)
        moved = sum(k.bytes * n for k, n in self.kernels)
        weights = sum(k.weight_bytes * n for k, n in self.kernels)
        return {"batch": self.batch, "flops_per_sequence": flops / self.batch,
                "bytes_per_sequence": (moved - weights) / self.batch, "weight_bytes": weights,
                "kernels": sum(n for _, n in self.kernels), "execution": self.execution}
