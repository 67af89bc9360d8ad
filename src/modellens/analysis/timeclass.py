"""Which efficiency curve of a chip's time model times an op: its op class.

Matmul-class ops split into matmul, conv and attention (they reach different fractions of the
matrix units); every other category is its own class.
"""

from __future__ import annotations

from ..capture import OpRecord
from ..costing.cost import OpCost
from ..costing.registry import MATMUL, kind
from ..hardware import Chip
from ..hardware.timemodel import OpTime


def time_class(op: OpRecord, cost: OpCost) -> str:
    """'matmul', 'conv', 'attention' (the registry's kind), or the op's category (elementwise,
    norm, ...)."""
    return kind(op.name) if cost.category == MATMUL else cost.category


def gemm_dims(op: OpRecord, op_class: str) -> tuple[int, int] | None:
    """(m, n) of a matmul's output for wave quantization: rows of every batch stacked, columns."""
    if op_class != "matmul" or not op.outputs or len(op.outputs[0].shape) < 2:
        return None
    shape = op.outputs[0].shape
    rows = 1
    for dim in shape[:-1]:
        rows *= dim
    return rows, shape[-1]


def predict_op(op: OpRecord, cost: OpCost, chip: Chip) -> OpTime:
    """The op's predicted time on `chip` under the chip's time model (calibrated, or the plain
    roofline): the one place an op is timed."""
    cls = time_class(op, cost)
    return chip.op_time(cls, cost.flops_all, cost.bytes, compute_dtype(op), gemm_dims(op, cls))


def compute_dtype(op: OpRecord) -> str:
    """The dtype an op computes in: its first floating input, else its first output."""
    for spec in op.inputs:
        if spec.is_floating:
            return spec.dtype
    return op.outputs[0].dtype if op.outputs else "float32"
