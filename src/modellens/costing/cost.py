"""Per-op cost: FLOPs under the registry's conventions and bytes moved. FLOPs = 2 × MACs, here
only."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch.utils._pytree import tree_map

from ..capture import Capture, OpRecord
from ..capture.opkey import op_keys
from ..capture.records import TensorSpec
from ..errors import FormulaError
from .bytes import default_bytes
from .registry import MATMUL, VIEW, category, category_convention, entry

FLOPS_PER_MAC = 2


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


def matmul_flops(packet: str, args: tuple, kwargs: dict, outputs: tuple[TensorSpec, ...]) -> int:
    """FLOPs of one matmul-class op call (0 when the op has no FLOP formula)."""
    registered = entry(packet)
    if registered.flops is None:
        return 0
    if registered.flops_on_meta:
        convert = lambda v: _meta(v.shape, v.dtype) if isinstance(v, TensorSpec) else v
        out = tuple(_meta(o.shape, o.dtype) for o in outputs)
    else:
        convert = lambda v: v.shape if isinstance(v, TensorSpec) else v
        out = tuple(o.shape for o in outputs)
    args, kwargs = tree_map(convert, (args, kwargs))
    out_value = out[0] if len(out) == 1 else out
    out_keyword = "out_val" if registered.flops_on_meta else "out_shape"
    formula = registered.flops
    try:
        flops = formula(*args, **{out_keyword: out_value}, **kwargs)
    except Exception as exc:
        raise FormulaError(f"FLOP formula {_formula_name(formula)} for {packet} raised "
                           f"{type(exc).__name__}: {_first_line(exc)}") from exc
    if type(flops) is not int:  # numpy or torch integers, never bools or floats
        if isinstance(flops, bool) or not isinstance(flops, numbers.Integral):
            raise FormulaError(f"FLOP formula {_formula_name(formula)} for {packet} returned "
                               f"{flops!r} ({type(flops).__name__}); it must return an int >= 0")
        flops = int(flops)
    if flops < 0:
        raise FormulaError(f"FLOP formula {_formula_name(formula)} for {packet} returned "
                           f"{flops}; it must return an int >= 0")
    return flops


def _formula_name(formula) -> str:
    """`module.qualname` of a formula (what a user registered), for error messages."""
    module = getattr(formula, "__module__", None)
    name = getattr(formula, "__qualname__", None) or type(formula).__name__
    return f"{module}.{name}" if module else name


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"


@lru_cache(maxsize=4096)
def _meta(shape: tuple[int, ...], dtype: str) -> torch.Tensor:
    return torch.empty(shape, dtype=getattr(torch, dtype, torch.float32), device="meta")


def op_cost(op: OpRecord) -> OpCost:
    cat = category(op.name)
    if cat == VIEW:
        return OpCost(cat, 0, 0, 0, 0)
    registered = entry(op.packet)
    flops = matmul_flops(op.packet, op.args, op.kwargs, op.outputs) if cat == MATMUL else 0
    convention = registered.per_element or category_convention(cat)
    flops_all = flops + (convention(op) if convention is not None else 0)
    read, written = (registered.bytes or default_bytes)(op.inputs, op.outputs)
    return OpCost(cat, flops, flops_all, read, written)


def op_costs(capture: Capture, keys: list | None = None) -> list[OpCost]:
    """Costs aligned with `capture.ops`, computed once per distinct op (`keys`: their
    `capture.opkey.op_keys`, found here when not given)."""
    keys = op_keys(capture.ops) if keys is None else keys
    known: dict = {}
    costs = []
    for op, key in zip(capture.ops, keys):
        cost = known.get(key)
        if cost is None:
            cost = known[key] = op_cost(op)
        costs.append(cost)
    return costs
