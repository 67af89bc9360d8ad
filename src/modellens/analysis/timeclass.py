"""Which efficiency curve of a chip's time model times an op: its op class.

Matmul-class ops split into matmul, conv and attention (they reach different fractions of the
matrix units); every other category is its own class.
"""

from __future__ import annotations

from ..capture import OpRecord
from ..costing.cost import OpCost
from ..costing.registry import MATMUL, kind


CONVOLUTIONS = frozenset({"aten.convolution.default", "aten._convolution.default"})
GROUPS_ARGUMENT = 8  # of aten.convolution / aten._convolution


def time_class(op: OpRecord, cost: OpCost) -> str:
    """'matmul', 'conv', 'conv_depthwise' (one filter per input channel: memory-bound work
    that reaches a different fraction of the chip than a dense convolution), 'attention' (the
    registry's kind), or the op's category (elementwise, norm, ...)."""
    if cost.category != MATMUL:
        return cost.category
    op_kind = kind(op.name)
    if op_kind == "conv" and _is_depthwise(op):
        return "conv_depthwise"
    return op_kind


def _is_depthwise(op: OpRecord) -> bool:
    if op.name in CONVOLUTIONS and len(op.args) > GROUPS_ARGUMENT:
        groups = op.args[GROUPS_ARGUMENT]
    else:
        groups = op.attributes().get("groups", 1)
    channels = op.inputs[0].shape[1] if op.inputs and len(op.inputs[0].shape) > 1 else 0
    return isinstance(groups, int) and groups > 1 and groups == channels


def gemm_dims(op: OpRecord, op_class: str) -> tuple[int, int] | None:
    """(m, n) of the op's output as a GEMM: a matmul's rows of every batch stacked × columns,
    a convolution's output positions (batch × spatial) × channels (its implicit GEMM)."""
    if not op.outputs or len(op.outputs[0].shape) < 2:
        return None
    shape = op.outputs[0].shape
    if op_class in ("conv", "conv_depthwise"):
        channels = shape[1]
        positions = 1
        for dim in shape[:1] + shape[2:]:
            positions *= dim
        return (positions, channels) if channels else None
    if op_class != "matmul":
        return None
    rows = 1
    for dim in shape[:-1]:
        rows *= dim
    return rows, shape[-1]
