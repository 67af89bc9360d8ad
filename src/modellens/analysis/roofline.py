"""Time on a chip. `op_time` is THE function that times one op: the chip's time model (see
`hardware.timemodel`: calibrated efficiency curves, or the plain roofline max(FLOPs / peak,
bytes / bandwidth)) applied to the op's class, FLOPs, bytes and dtype. `time_ops` is THE loop
over a capture's ops that the per-capture time figures (profile's bottleneck and per-op times,
LLM step costs, the report's per-chip times and plots) read, under the chip's time model
(`Analysis.roofline`; `Analysis.lower_bound` is the plain roofline beside it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..capture import FORWARD, OpRecord
from ..costing.cost import OpCost
from ..costing.registry import MATMUL
from ..hardware import Chip
from ..hardware.timemodel import MATRIX_CLASSES_NAMES, OpTime
from ..io import JsonRecord
from .fusion import EAGER, EXECUTIONS, FUSED, FusionGroup, fusion_groups
from .timeclass import gemm_dims, time_class

if TYPE_CHECKING:
    from .core import Analysis

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


def op_peak(op: OpRecord, cost: OpCost, chip: Chip) -> float:
    """The roof an op runs under: matrix units for matmul, conv and attention, vector units
    otherwise (as `Chip.op_time` has it)."""
    return chip.peak(op_dtype(op), matmul=time_class(op, cost) in MATRIX_CLASSES_NAMES)


def distinct_specs(specs):
    """One spec per (storage, shape): an op reading the same tensor twice reads it once."""
    seen = {}
    for spec in specs:
        seen.setdefault((spec.storage, spec.shape), spec)
    return list(seen.values())


def weight_bytes_read(op: OpRecord, cost: OpCost, params: set[int]) -> int:
    """Parameter bytes an op reads: what it reads minus its other inputs (so a gather from an
    embedding table counts the rows it returns, as its bytes formula does)."""
    inputs = distinct_specs(op.inputs)
    if not any(s.storage in params for s in inputs):
        return 0
    others = sum(s.nbytes for s in inputs if s.storage not in params)
    return max(0, cost.bytes_read - others)


def is_timed(cost: OpCost) -> bool:
    """Whether an op takes time at all: views neither compute nor move data."""
    return bool(cost.flops_all or cost.bytes)


# Under tensor parallelism these op classes are split across the GPUs (Megatron-style column /
# row parallel matmuls, attention by heads, the activations between them); norms, embeddings
# and residual adds on the full hidden state are replicated.
SHARDED_CLASSES = frozenset({"matmul", "attention", "elementwise", "softmax"})


def op_time(op: OpRecord, cost: OpCost, chip: Chip, shards: int = 1,
            compute_dtype: str | None = None, weight_bytes: int = 0) -> OpTime:
    """THE time of one op on `chip`, under the chip's time model. `shards`: the tensor-parallel
    degree (a sharded op does 1/shards of its FLOPs and bytes, its GEMM 1/shards of the
    columns); `compute_dtype`: the dtype matrix-class ops compute in when it is not the
    captured one (fp8 matmuls captured in bf16); `weight_bytes`: the parameter bytes it reads
    inside a model (`weight_bytes_read`), for chips that charge cold weights."""
    op_class = time_class(op, cost)
    dtype = op_dtype(op)
    if compute_dtype and op_class in MATRIX_CLASSES_NAMES:
        dtype = compute_dtype
    flops, nbytes, gemm = cost.flops_all, cost.bytes, gemm_dims(op, op_class)
    if shards > 1 and op_class in SHARDED_CLASSES:
        flops, nbytes, weight_bytes = flops / shards, nbytes / shards, weight_bytes / shards
        gemm = (gemm[0], max(1, gemm[1] // shards)) if gemm else None
    return chip.op_time(op_class, flops, nbytes, dtype, gemm, weight_bytes)


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


def time_ops(analysis: Analysis, chip: Chip, shards: int = 1,
             compute_dtype: str | None = None, execution: str = EAGER) -> Roofline:
    """THE loop: every op of the analysis that takes time timed on `chip` by `op_time`,
    summed per phase (`shards`, `compute_dtype`: see `op_time`). `execution` FUSED times the
    kernels `fusion.fusion_groups` forms instead of every op alone; each op of a fused kernel
    is then given the kernel's time in proportion to its own."""
    items = list(analysis.items())
    params = analysis.capture.storages("params") if chip.time_model.weight_stream_bandwidth else ()
    known: dict = {}  # one op_time per distinct op (and weight bytes it reads)

    def timed(op: OpRecord, cost: OpCost, key) -> OpTime | None:
        if not is_timed(cost):
            return None
        weights = weight_bytes_read(op, cost, params) if params else 0
        timing = known.get((key, weights))
        if timing is None:
            timing = known[key, weights] = op_time(op, cost, chip, shards, compute_dtype,
                                                   weights)
        return timing

    timings: list[OpTime | None] = [timed(op, cost, key)
                                    for (op, cost), key in zip(items, analysis.op_keys())]
    if execution == FUSED:
        _fuse(items, timings, chip, shards)
    elif execution != EAGER:
        raise ValueError(f"execution must be one of {EXECUTIONS}, got {execution!r}")
    phases: dict[str, PhaseTime] = {}
    view_cost = chip.time_model.overhead("view") if execution == EAGER else 0.0
    for (op, cost), timing in zip(items, timings):
        if timing is not None:
            phases.setdefault(op.phase, PhaseTime(op.phase)).add(op, cost, timing)
        elif view_cost:
            phases.setdefault(op.phase, PhaseTime(op.phase)).fixed_s += view_cost
    return Roofline(chip, timings, phases)


def _fuse(items: list[tuple[OpRecord, OpCost]], timings: list[OpTime | None], chip: Chip,
          shards: int) -> None:
    """Replace, in place, the eager timings of ops that fuse by their share of their kernel's."""
    for phase in dict.fromkeys(op.phase for op, _ in items):
        indexes = [i for i, (op, _) in enumerate(items) if op.phase == phase]
        classed = [(items[i][0], items[i][1],
                    time_class(*items[i]) if timings[i] is not None else "") for i in indexes]
        for group in fusion_groups(classed):
            if len(group.members) < 2:
                continue
            members = [indexes[m] for m in group.members]
            kernel = _kernel_time(items, classed, group, members, chip, shards)
            eager = sum(timings[i].time_s for i in members)
            for i in members:
                share = timings[i].time_s / eager if eager else 1 / len(members)
                timings[i] = OpTime(kernel.time_s * share, kernel.compute_time_s * share,
                                    kernel.memory_time_s * share, kernel.overhead_s * share)


def _kernel_time(items, classed, group: FusionGroup, members: list[int], chip: Chip,
                 shards: int) -> OpTime:
    """One fused kernel's time: its ops' FLOPs and the bytes it moves, timed as the class of the
    op that moves most of them (ops sharded under tensor parallelism count 1/shards)."""
    flops = nbytes = 0.0
    heaviest, most = group.members[0], -1.0
    for m, i in zip(group.members, members):
        op, cost, op_class = classed[m]
        part = 1 / shards if shards > 1 and op_class in SHARDED_CLASSES else 1.0
        flops += cost.flops_all * part
        charged = group.charged_bytes[m] * part
        nbytes += charged
        if charged > most:
            heaviest, most = m, charged
    op, _, op_class = classed[heaviest]
    return chip.op_time(op_class, flops, nbytes, op_dtype(op))
