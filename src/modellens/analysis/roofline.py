"""Time on a chip. `kernels.Kernel.time` is THE function that times one kernel (an op alone,
or a fused group): the chip's time model (see `hardware.timemodel`: calibrated efficiency
curves, or the plain roofline max(FLOPs / peak, bytes / bandwidth)) applied to its class,
FLOPs, bytes and dtype; `op_time` is it for one op alone. `time_ops` is THE loop
over a capture's ops that the per-capture time figures (profile's bottleneck and per-op times,
LLM step costs, the report's per-chip times and plots) read, under the chip's time model
(`Analysis.roofline`; `Analysis.lower_bound` is the plain roofline beside it)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..capture import FORWARD, OpRecord
from ..costing.cost import OpCost
from ..costing.registry import MATMUL
from ..hardware import Chip
from ..hardware.timemodel import MATRIX_CLASSES_NAMES, OpTime
from ..io import JsonRecord
from .fusion import EAGER
from .kernels import (SHARDED_CLASSES, Kernel, distinct_specs, is_timed, op_dtype, op_kernel,
                      weight_bytes_read)
from .timeclass import time_class

if TYPE_CHECKING:
    from .core import Analysis

COMPUTE = "compute"
MEMORY = "memory"


def roofline_time(flops: float, bytes_moved: float, peak: float, bandwidth: float):
    """(time, compute time, memory time) of work on a chip: the roofline model."""
    compute, memory = flops / peak, bytes_moved / bandwidth
    return max(compute, memory), compute, memory


def op_peak(op: OpRecord, cost: OpCost, chip: Chip) -> float:
    """The roof an op runs under: matrix units for matmul, conv and attention, vector units
    otherwise (as `Chip.op_time` has it)."""
    return chip.peak(op_dtype(op), matmul=time_class(op, cost) in MATRIX_CLASSES_NAMES)


def op_time(op: OpRecord, cost: OpCost, chip: Chip, shards: int = 1,
            compute_dtype: str | None = None, weight_bytes: int = 0) -> OpTime:
    """THE time of one op alone on `chip`, under the chip's time model. `shards`: the
    tensor-parallel degree (a sharded op does 1/shards of its FLOPs and bytes, its GEMM 1/shards
    of the columns); `compute_dtype`: the dtype matrix-class ops compute in when it is not the
    captured one (fp8 matmuls captured in bf16); `weight_bytes`: the parameter bytes it reads
    inside a model (`weight_bytes_read`), for chips that charge cold weights."""
    kernel = op_kernel(0, op, cost, set(), compute_dtype)
    return replace(kernel, weight_bytes=weight_bytes).time(chip, shards)


@dataclass
class PhaseTime:
    """The timed ops of one phase on one chip, run one after another (no overlap)."""

    phase: str
    ops: dict[str, int] = field(default_factory=lambda: {COMPUTE: 0, MEMORY: 0})  # by bound
    times: dict[str, float] = field(default_factory=lambda: {COMPUTE: 0.0, MEMORY: 0.0})
    flops: int = 0  # all FLOPs
    matmul_flops: int = 0
    bytes: int = 0
    matmul_dtype: str | None = None  # of the first matmul-class op
    fixed_s: float = 0.0  # what ops that take no time on the roofline (views) cost: dispatch

    def add(self, op: OpRecord, cost: OpCost, timing: OpTime) -> None:
        self.ops[timing.bound] += 1
        self.times[timing.bound] += timing.time_s
        self.flops += cost.flops_all
        self.matmul_flops += cost.flops
        self.bytes += cost.bytes
        if self.matmul_dtype is None and cost.category == MATMUL:
            self.matmul_dtype = op_dtype(op)

    @property
    def time_s(self) -> float:
        return self.times[COMPUTE] + self.times[MEMORY] + self.fixed_s

    @property
    def bound(self) -> str:
        """Where most of the time goes."""
        return COMPUTE if self.times[COMPUTE] >= self.times[MEMORY] else MEMORY

    def share(self, bound: str) -> float:
        """Share of the time spent in ops bound by `bound`."""
        total = self.times[COMPUTE] + self.times[MEMORY]
        return self.times[bound] / total if total else 0.0

    @property
    def intensity(self) -> float:
        return self.flops / self.bytes if self.bytes else 0.0


@dataclass(frozen=True)
class Bottleneck(JsonRecord):
    hardware: str
    phase: str
    compute_bound_ops: int
    memory_bound_ops: int
    compute_bound_time_share: float
    memory_bound_time_share: float
    predicted_time_s: float  # sum over ops of their time under the chip's time model
    arithmetic_intensity: float  # FLOPs (all) / bytes over the whole phase
    ridge_point: float  # FLOPs/byte where matmuls in the model's dtype turn compute-bound
    roofline_time_s: float = 0.0  # the plain roofline of the same ops: the lower bound
    time_model: str = "roofline"  # "calibrated" (the chip's measured curves) or "roofline"


@dataclass(frozen=True)
class Roofline:
    """One capture timed on one chip: per-op timings aligned with the capture's ops (None for
    ops that take no time, see `is_timed`) and per-phase totals."""

    chip: Chip
    timings: list[OpTime | None]
    phases: dict[str, PhaseTime]

    def phase(self, phase: str) -> PhaseTime | None:
        """None when the phase has no timed op (e.g. backward was not captured)."""
        return self.phases.get(phase)

    def bottleneck(self, phase: str = FORWARD, lower_bound: Roofline | None = None
                   ) -> Bottleneck:
        """The summary of one phase, as `profile` reports it (`lower_bound`: the same ops on
        the plain roofline, shown beside the prediction)."""
        totals = self.phases.get(phase) or PhaseTime(phase)
        bound = (lower_bound or self).phases.get(phase) or PhaseTime(phase)
        return Bottleneck(
            hardware=self.chip.id,
            phase=phase,
            compute_bound_ops=totals.ops[COMPUTE],
            memory_bound_ops=totals.ops[MEMORY],
            compute_bound_time_share=totals.share(COMPUTE),
            memory_bound_time_share=totals.share(MEMORY),
            predicted_time_s=totals.time_s,
            arithmetic_intensity=totals.intensity,
            ridge_point=self.chip.ridge_point(totals.matmul_dtype or "float32"),
            roofline_time_s=bound.time_s,
            time_model="roofline" if self.chip.time_model.is_roofline else "calibrated",
        )


def _kernel_time(kernel: Kernel, chip: Chip, shards: int, known: dict[Kernel, OpTime]) -> OpTime:
    """`kernel.time(chip, shards)`, computed once per distinct kernel (`Kernel.signature`)."""
    key = kernel.signature
    timing = known.get(key)
    if timing is None:
        timing = known[key] = kernel.time(chip, shards)
    return timing


def time_ops(analysis: Analysis, chip: Chip, shards: int = 1,
             compute_dtype: str | None = None, execution: str = EAGER) -> Roofline:
    """THE loop: the kernels of each phase (`kernels.phase_kernels`: every op alone, or fused)
    timed on `chip`, summed per phase (`shards`, `compute_dtype`: see `op_time`). Each op of a
    fused kernel is given the kernel's time in proportion to its own time alone."""
    items = list(analysis.items())
    timings: list[OpTime | None] = [None] * len(items)
    phases: dict[str, PhaseTime] = {}
    view_cost = chip.time_model.overhead("view") if execution == EAGER else 0.0
    known: dict[Kernel, OpTime] = {}  # a deep model repeats a few layers' kernels: each timed once
    for phase, (kernels, views) in analysis.kernels(execution, shards, compute_dtype).items():
        for kernel in kernels:
            timing = _kernel_time(kernel, chip, shards, known)
            if len(kernel.members) == 1:
                timings[kernel.members[0]] = timing
                continue
            alone = [_kernel_time(part, chip, shards, known) for part in kernel.parts]
            total = sum(t.time_s for t in alone)
            for i, own in zip(kernel.members, alone):
                share = own.time_s / total if total else 1 / len(kernel.members)
                timings[i] = OpTime(timing.time_s * share, timing.compute_time_s * share,
                                    timing.memory_time_s * share, timing.overhead_s * share)
        totals = phases.setdefault(phase, PhaseTime(phase))
        totals.fixed_s += views * view_cost
    for (op, cost), timing in zip(items, timings):
        if timing is not None:
            phases[op.phase].add(op, cost, timing)
    return Roofline(chip, timings, {k: v for k, v in phases.items() if v.ops[COMPUTE]
                                    + v.ops[MEMORY] or v.fixed_s})
