"""Per-op cost: FLOPs under the stated conventions and bytes moved. FLOPs = 2 × MACs, here only."""

from __future__ import annotations

from dataclasses import dataclass

from ..capture import Capture, OpRecord
from . import formulas
from .op_classes import MATMUL, MEMORY, VIEW, bias_add_flops, category, elementwise_flops

FLOPS_PER_MAC = 2

# Ops that read only the rows they gather from their first (table) input, not the whole table.
_GATHER = {"aten.embedding", "aten.index_select", "aten.index", "aten.gather",
           "aten._unsafe_index"}
_NO_WRITE = {"aten.empty", "aten.empty_like", "aten.empty_strided", "aten.new_empty",
             "aten.new_empty_strided", "aten.resize_", "aten.set_"}


@dataclass(frozen=True, slots=True)
class OpCost:
    """What one op costs. `flops` is matmul-class only (the headline number, as peers report);
    `flops_all` adds elementwise, reduction, softmax, norm and pooling work and bias adds."""

    category: str
    flops: int
    flops_all: int
    bytes_read: int
    bytes_written: int

    @property
    def macs(self) -> int:
        return self.flops // FLOPS_PER_MAC

    @property
    def bytes(self) -> int:
        return self.bytes_read + self.bytes_written

    @property
    def intensity(self) -> float:
        """FLOPs (all) per byte moved; 0 for ops that move nothing."""
        return self.flops_all / self.bytes if self.bytes else 0.0


def op_cost(op: OpRecord) -> OpCost:
    cat = category(op.name)
    if cat == VIEW:
        return OpCost(cat, 0, 0, 0, 0)
    if cat == MATMUL:
        flops = formulas.matmul_flops(op.packet, op.args, op.kwargs, op.outputs)
        flops_all = flops + bias_add_flops(op)
    else:
        flops, flops_all = 0, elementwise_flops(op, cat)
    seen: set[tuple] = set()
    read = 0
    inputs = op.inputs
    if op.packet in _GATHER and inputs:
        read += sum(o.nbytes for o in op.outputs)
        inputs = inputs[1:]
    for spec in inputs:
        key = (spec.storage, spec.shape)
        if key not in seen:
            seen.add(key)
            read += spec.nbytes
    written = 0 if op.packet in _NO_WRITE else sum(o.nbytes for o in op.outputs)
    if cat == MEMORY and op.packet.startswith(("aten.empty", "aten.new_empty")):
        read = 0
    return OpCost(cat, flops, flops_all, read, written)


def op_costs(capture: Capture) -> list[OpCost]:
    """Costs aligned with `capture.ops`."""
    return [op_cost(op) for op in capture.ops]
