"""Which efficiency curve of a chip's time model times an op: its op class.

Matmul-class ops split into matmul, conv and attention (they reach different fractions of the
matrix units); every other category is its own class.
"""

from __future__ import annotations

from ..capture import OpRecord
from ..costing.cost import OpCost
from ..costing.registry import MATMUL, kind


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
