"""Which attention kernels of a capture a causal mask covers, and their costs under the
`--attention-flops` convention ("full", torch's, or "causal"; see `costing.attention`).

An attention op is causal when its own `is_causal` argument says so (torch's top-left mask), or
when the innermost module around it that has an `is_causal` attribute has it True (Hugging Face
attention modules: a decoder's self-attention; its mask keeps positions <= each query's own,
KV cache included; cross-attention modules say False). Everything else stays full: encoder and
cross-attention, attention written as plain matmuls (eager bmm, counted as matmuls), and the
fused multi-head attention kernels whose count includes their projections.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..capture.records import TensorSpec
from ..capture.schema import argument_names
from ..costing.attention import CAUSAL, CONVENTIONS, END, FULL, START, causal_cost
from ..costing.cost import OpCost
from ..costing.registry import ATTENTION, kind
from ..errors import ConfigError
from ..io import JsonRecord
from .modules import ancestors

if TYPE_CHECKING:
    from ..capture import Capture, OpRecord

# fused kernels whose FLOPs include in/out projections (and an FFN): never rescaled
_WITH_PROJECTIONS = ("aten._native_multi_head_attention", "aten._transformer_encoder_layer_fwd")
# kernels laid out [batch, seq, heads, dim] (the rest, SDPA and flex: [batch, heads, seq, dim])
_SEQ_SECOND = ("aten._flash_attention_forward", "aten._flash_attention_backward",
               "aten._efficient_attention_forward", "aten._efficient_attention_backward")


@dataclass
class AttentionCount(JsonRecord):
    """The convention attention FLOPs are counted under, and how many kernels it changed."""

    convention: str = FULL
    causal_ops: int = 0  # attention kernels counted over the causal pairs only
    full_ops: int = 0  # attention kernels counted full (not causal, or cross-attention)

    def describe(self) -> str:
        if self.convention == FULL:
            return "full (every query × every key, torch's convention)"
        return (f"causal ({self.causal_ops} kernel(s) over the query-key pairs the mask "
                f"keeps, {self.full_ops} full)")


def check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise ConfigError(f"attention FLOPs must be one of {', '.join(CONVENTIONS)}, "
                          f"got {convention!r}")
    return convention


def _tensor(op: OpRecord, name: str, position: int) -> TensorSpec | None:
    names = argument_names(op.name)
    index = names.index(name) if name in names else position
    value = op.args[index] if index < len(op.args) else op.kwargs.get(name)
    return value if isinstance(value, TensorSpec) else None


def lengths(op: OpRecord) -> tuple[int, int] | None:
    """(query length, key length) of an attention kernel, from its query and key tensors."""
    backward = "backward" in op.packet
    query = _tensor(op, "query", 1 if backward else 0)
    key = _tensor(op, "key", 2 if backward else 1)
    if query is None or key is None or len(query.shape) < 3 or len(key.shape) < 3:
        return None
    dim = -3 if op.packet in _SEQ_SECOND else -2
    return query.shape[dim], key.shape[dim]


def alignment(op: OpRecord, capture: Capture) -> str | None:
    """START or END when a causal mask covers `op`, None when it attends fully."""
    if op.attributes().get("is_causal"):
        return START
    for path in reversed(ancestors(op.module)):
        record = capture.modules.get(path)
        if record is not None and "is_causal" in record.attributes:
            return END if record.attributes["is_causal"] is True else None
    return None


def attention_costs(capture: Capture, costs: list[OpCost], convention: str
                    ) -> tuple[list[OpCost], AttentionCount]:
    """`costs` (aligned with capture.ops) under `convention`, and what it changed."""
    count = AttentionCount(check_convention(convention))
    if convention == FULL:
        return costs, count
    adjusted = list(costs)
    for index, op in enumerate(capture.ops):
        if kind(op.name) != ATTENTION:
            continue
        aligned, sizes = alignment(op, capture), lengths(op)
        if op.packet in _WITH_PROJECTIONS or aligned is None or sizes is None:
            count.full_ops += 1
            continue
        adjusted[index] = causal_cost(costs[index], *sizes, aligned)
        count.causal_ops += 1
    return adjusted, count


__all__ = ["CAUSAL", "FULL", "AttentionCount", "attention_costs", "check_convention", "lengths"]
