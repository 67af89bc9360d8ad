"""The kernels a captured phase runs, described apart from any chip: each with its op class,
compute dtype, FLOPs, bytes, the parameter bytes among them and a GEMM's output shape.

Eagerly every timed op is a kernel; fused (`fusion`), the ops between two matrix ops are one.
Timing a kernel on a chip is `Kernel.time`, so the per-op loop (`roofline.time_ops`) and the
decode step at any batch size (`inference.BatchScaling`) time the same descriptions: weights are
read once per step whatever the batch, everything else grows with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..capture import OpRecord
from ..costing.cost import OpCost
from ..hardware import Chip
from ..hardware.timemodel import MATRIX_CLASSES_NAMES, OpTime
from .fusion import EAGER, EXECUTIONS, FUSED, fusion_groups
from .timeclass import gemm_dims, time_class

# Under tensor parallelism these op classes are split across the GPUs (Megatron-style column /
# row parallel matmuls, attention by heads, the activations between them); norms, embeddings
# and residual adds on the full hidden state are replicated.
SHARDED_CLASSES = frozenset({"matmul", "attention", "elementwise", "softmax"})


def op_dtype(op: OpRecord) -> str:
    """The dtype an op computes in: its first floating input, else its first output."""
    for spec in op.inputs:
        if spec.is_floating:
            return spec.dtype
    return op.outputs[0].dtype if op.outputs else "float32"


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


@dataclass(frozen=True)
class Kernel:
    """One kernel: `members` index the phase's ops (into `Analysis.items()`); FLOPs and bytes
    are the captured step's, `weight_bytes` of them parameter reads. `sharded`: tensor
    parallelism splits it (a fused kernel has its ops' shares applied already, `shards`).
    `parts`: a fused kernel's ops as kernels alone (how its time is shared among them); not
    part of what the kernel is (`signature`)."""

    members: tuple[int, ...]
    op_class: str
    dtype: str
    flops: float
    bytes: float
    weight_bytes: float
    gemm: tuple[int, int] | None
    sharded: bool
    parts: tuple[Kernel, ...] = field(default=(), compare=False)

    @property
    def signature(self) -> Kernel:
        """The kernel apart from which ops it runs: equal for kernels that time the same."""
        return replace(self, members=(), parts=())

    def time(self, chip: Chip, shards: int = 1, scale: float = 1.0) -> OpTime:
        """On `chip`, per GPU of `shards`, with the batch `scale` times the captured one (FLOPs,
        activation bytes and GEMM rows grow with it; weight reads do not)."""
        flops = self.flops * scale
        nbytes = self.weight_bytes + (self.bytes - self.weight_bytes) * scale
        weights, gemm = self.weight_bytes, self.gemm
        if gemm is not None and scale != 1.0:
            gemm = (max(1, round(gemm[0] * scale)), gemm[1])
        if shards > 1 and self.sharded:
            flops, nbytes, weights = flops / shards, nbytes / shards, weights / shards
            gemm = (gemm[0], max(1, gemm[1] // shards)) if gemm else None
        return chip.op_time(self.op_class, flops, nbytes, self.dtype, gemm, weights)


def op_kernel(index: int, op: OpRecord, cost: OpCost, params: set[int],
              compute_dtype: str | None = None) -> Kernel:
    """The kernel of one op run alone (`compute_dtype`: matrix-class ops' dtype when it is not
    the captured one, e.g. fp8 matmuls captured in bf16)."""
    op_class = time_class(op, cost)
    dtype = op_dtype(op)
    if compute_dtype and op_class in MATRIX_CLASSES_NAMES:
        dtype = compute_dtype
    return Kernel((index,), op_class, dtype, cost.flops_all, cost.bytes,
                  weight_bytes_read(op, cost, params) if params else 0,
                  gemm_dims(op, op_class), op_class in SHARDED_CLASSES)


def phase_kernels(items: list[tuple[int, OpRecord, OpCost]], params: set[int],
                  execution: str = EAGER, shards: int = 1,
                  compute_dtype: str | None = None) -> tuple[list[Kernel], int]:
    """(kernels, views) of one phase's ops ((index, op, cost) in order): every timed op its own
    kernel (EAGER), or the groups `fusion.fusion_groups` forms (FUSED, each group's ops
    counting 1/shards where tensor parallelism splits them); views counts the ops that take no
    time."""
    if execution not in EXECUTIONS:
        raise ValueError(f"execution must be one of {EXECUTIONS}, got {execution!r}")
    alone = {i: op_kernel(i, op, cost, params, compute_dtype)
             for i, op, cost in items if is_timed(cost)}
    views = len(items) - len(alone)
    if execution == EAGER:
        return list(alone.values()), views
    classed = [(op, cost, alone[i].op_class if i in alone else "") for i, op, cost in items]
    kernels = []
    for group in fusion_groups(classed):
        members = [items[m][0] for m in group.members]
        if len(members) == 1:
            kernels.append(alone[members[0]])
            continue
        flops = nbytes = 0.0
        heaviest, most = members[0], -1.0
        for m, index in zip(group.members, members):
            kernel = alone[index]
            part = 1 / shards if shards > 1 and kernel.sharded else 1.0
            flops += kernel.flops * part
            charged = group.charged_bytes[m] * part
            nbytes += charged
            if charged > most:
                heaviest, most = index, charged
        lead = alone[heaviest]
        kernels.append(Kernel(tuple(members), lead.op_class, lead.dtype, flops, nbytes, 0.0,
                              None, False, tuple(alone[index] for index in members)))
    return kernels, views


__all__ = ["EAGER", "FUSED", "SHARDED_CLASSES", "Kernel", "distinct_specs", "is_timed",
           "op_dtype", "op_kernel", "phase_kernels", "weight_bytes_read"]
