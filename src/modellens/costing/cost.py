"""Per-op cost: FLOPs under the stated conventions and bytes moved. FLOPs = 2 × MACs, here only.

Bytes moved by an op default to its distinct input tensors plus its outputs; ops that touch only
part of an input (gathers) or nothing at all (allocations) have a bytes formula, and users can
register their own with `register_bytes_formula`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..capture import Capture, OpRecord
from ..capture.records import TensorSpec
from . import registry as formulas
from .elementwise import MATMUL, VIEW, bias_add_flops, category, elementwise_flops

FLOPS_PER_MAC = 2

BytesFormula = Callable[[tuple[TensorSpec, ...], tuple[TensorSpec, ...]], tuple[int, int]]
_BYTES_FORMULAS: dict[str, BytesFormula] = {}


def register_bytes_formula(ops: Any, *, replace: bool = False) -> Callable[[BytesFormula], BytesFormula]:
    """Decorator: `formula(inputs, outputs) -> (bytes_read, bytes_written)` for op(s), given the
    TensorSpecs of the call. Names as in `register_flop_formula`."""
    targets = ops if isinstance(ops, (list, tuple)) else [ops]

    def decorate(formula: BytesFormula) -> BytesFormula:
        for op in targets:
            name = formulas._packet_name(op)
            if name in _BYTES_FORMULAS and not replace:
                raise ValueError(f"a bytes formula for {name} is already registered")
            _BYTES_FORMULAS[name] = formula
        return formula

    return decorate


def unregister_bytes_formula(op: Any) -> None:
    _BYTES_FORMULAS.pop(formulas._packet_name(op), None)


def _distinct_bytes(specs: tuple[TensorSpec, ...]) -> int:
    seen: set[tuple] = set()
    total = 0
    for spec in specs:
        key = (spec.storage, spec.shape)
        if key not in seen:
            seen.add(key)
            total += spec.nbytes
    return total


@register_bytes_formula(["aten.embedding", "aten.index_select", "aten.index", "aten.gather",
                         "aten._unsafe_index"])
def _gather_bytes(inputs, outputs):
    """A gather reads the rows it returns and its indices, not the whole table."""
    written = sum(o.nbytes for o in outputs)
    return written + _distinct_bytes(inputs[1:]), written


@register_bytes_formula(["aten.empty", "aten.empty_like", "aten.empty_strided", "aten.new_empty",
                         "aten.new_empty_strided", "aten.resize_", "aten.set_"])
def _allocation_bytes(inputs, outputs):
    """Allocating memory moves none."""
    return 0, 0


@register_bytes_formula(["aten.index_copy_", "aten.index_copy", "aten.index_put_",
                         "aten.index_put", "aten.index_add_", "aten.scatter_", "aten.scatter",
                         "aten.scatter_add_", "aten.scatter_add", "aten.slice_scatter",
                         "aten.select_scatter"])
def _partial_write_bytes(inputs, outputs):
    """Writing some rows of a tensor (a KV-cache append) moves those rows and their indices,
    not the whole destination."""
    source = inputs[-1].nbytes if len(inputs) > 1 else 0
    return _distinct_bytes(inputs[1:]), source


@register_bytes_formula("aten._grouped_mm")
def _grouped_mm_bytes(inputs, outputs):
    """MoE expert GEMM: rows routed to G experts read at most min(G, rows) experts' weights."""
    a, b = inputs[0], inputs[1]
    written = sum(o.nbytes for o in outputs)
    if len(a.shape) != 2 or len(b.shape) != 3 or not b.shape[0]:
        return _distinct_bytes(inputs), written
    experts_read = min(b.shape[0], a.shape[0])
    return a.nbytes + b.nbytes * experts_read // b.shape[0] + _distinct_bytes(inputs[2:]), written


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
    bytes_formula = _BYTES_FORMULAS.get(op.packet)
    if bytes_formula is not None:
        read, written = bytes_formula(op.inputs, op.outputs)
    else:
        read, written = _distinct_bytes(op.inputs), sum(o.nbytes for o in op.outputs)
    return OpCost(cat, flops, flops_all, read, written)


def op_costs(capture: Capture) -> list[OpCost]:
    """Costs aligned with `capture.ops`."""
    return [op_cost(op) for op in capture.ops]
