"""Which efficiency curve of a chip's time model times an op: its op class.

Matmul-class ops split into matmul, conv and attention (they reach different fractions of the
matrix units); every other category is its own class.
"""

from __future__ import annotations

from ..capture import OpRecord
from ..costing.cost import OpCost
from ..costing.elementwise import MATMUL

_CONV = frozenset({"aten.convolution", "aten._convolution", "aten.convolution_backward",
                   "aten.mkldnn_convolution", "aten.cudnn_convolution"})
_ATTENTION_WORDS = ("attention", "attn")


def time_class(op: OpRecord, cost: OpCost) -> str:
    """'matmul', 'conv', 'attention', or the op's category (elementwise, norm, ...)."""
    if cost.category != MATMUL:
        return cost.category
    packet = op.packet
    if packet in _CONV:
        return "conv"
    if any(word in packet for word in _ATTENTION_WORDS):
        return "attention"
    return "matmul"


def gemm_dims(op: OpRecord, op_class: str) -> tuple[int, int] | None:
    """(m, n) of a matmul's output for wave quantization: rows of every batch stacked, columns."""
    if op_class != "matmul" or not op.outputs or len(op.outputs[0].shape) < 2:
        return None
    shape = op.outputs[0].shape
    rows = 1
    for dim in shape[:-1]:
        rows *= dim
    return rows, shape[-1]
