"""THE cost registry: per aten op packet, its category, FLOP formula, bytes formula and
per-element convention, all declared through `register_op`.

Conventions (every built-in entry follows them; `matmul`, `elementwise` and `bytes` hold them):
- 1 MAC = 2 FLOPs (`cost.FLOPS_PER_MAC`, the only place that says so).
- `flops` is matmul-class work only: ops with a FLOP formula, which are exactly the ops of
  category "matmul". Each has a kind -- "matmul", "conv" or "attention" -- returned by `kind`.
- `flops_all` adds each op's per-element convention (softmax 5 FLOPs per element, 4 backward;
  norms; pooling; the bias adds matmul formulas leave out) or, without one, its category's
  (elementwise 1 per output element, reduction 1 per input element).
- Bytes default to the op's distinct inputs plus its outputs; a bytes formula says otherwise.
- An op with no category, declared or from torch's tags, is "unsupported": listed in results,
  never counted as a silent zero.

A per-element convention is data, overridable like any formula, e.g. softmax at 6 FLOPs:

    from modellens.costing.elementwise import PerElement
    from modellens.costing.registry import entry, register_op
    saved = entry("aten._softmax").per_element
    register_op("aten._softmax", per_element=PerElement(6), replace=True)
    ...
    register_op("aten._softmax", per_element=saved, replace=True)  # restore
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from dataclasses import replace as with_fields
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import torch

from ..capture.records import TensorSpec
from ..capture.schema import resolve

if TYPE_CHECKING:
    from ..capture import OpRecord

# categories (the "category" of every op in results)
MATMUL = "matmul"
ELEMENTWISE = "elementwise"
REDUCTION = "reduction"
SOFTMAX = "softmax"
NORM = "norm"
POOL = "pool"
MEMORY = "memory"
VIEW = "view"
UNSUPPORTED = "unsupported"
# kinds of matmul-class ops (kind() of any other op is its category)
CONV = "conv"
ATTENTION = "attention"

FlopFormula = Callable[..., int]  # torch's convention: shapes and out_shape -> FLOPs
BytesFormula = Callable[[tuple[TensorSpec, ...], tuple[TensorSpec, ...]], tuple[int, int]]
PerElementFormula = Callable[["OpRecord"], int]  # FLOPs that flops_all adds to flops
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class OpEntry:
    """What the registry knows of one op packet; None where it declares nothing."""

    category: str | None = None
    kind: str | None = None  # matmul-class ops: MATMUL (the default), CONV or ATTENTION
    flops: FlopFormula | None = None
    flops_on_meta: bool = False  # formula takes meta tensors, not shapes (some of torch's)
    bytes: BytesFormula | None = None
    per_element: PerElementFormula | None = None


_EMPTY = OpEntry()
_UNSET = {f.name: getattr(_EMPTY, f.name) for f in fields(OpEntry)}
_LABELS = {"category": "category", "kind": "kind", "flops": "FLOP formula",
           "flops_on_meta": "FLOP formula", "bytes": "bytes formula",
           "per_element": "per-element convention"}
_ENTRIES: dict[str, OpEntry] = {}
_CATEGORY_CONVENTIONS: dict[str, PerElementFormula] = {}


def packet_name(op: Any) -> str:
    """Accept 'aten.mm', 'aten::mm', torch.ops.aten.mm, torch.ops.aten.mm.default, or a
    higher-order operator (recorded as 'higher_order.<name>')."""
    if isinstance(op, str):
        return op.replace("::", ".")
    if isinstance(op, torch._ops.OpOverload):
        return str(op.overloadpacket)
    if isinstance(op, torch._ops.HigherOrderOperator):
        return f"higher_order.{op.name()}"
    return str(op)


def _targets(ops: Any) -> list[str]:
    return [packet_name(op) for op in (ops if isinstance(ops, (list, tuple, set, frozenset))
                                        else [ops])]


def register_op(ops: Any, *, category: str | None = None, kind: str | None = None,
                flops: FlopFormula | None = None, flops_on_meta: bool = False,
                bytes: BytesFormula | None = None, per_element: PerElementFormula | None = None,
                replace: bool = False) -> None:
    """Declare what op(s) cost: category, kind, FLOP formula, bytes formula, per-element
    convention -- any of them; what is not given stays as it is.

    `ops` is an op or a list of ops (names like "aten.mm" / "mylib::my_op", packets or
    overloads). Declaring something an op already has is an error unless `replace=True`.
    """
    given = {"flops": flops, "bytes": bytes, "per_element": per_element, "category": category,
             "kind": kind}
    given = {slot: value for slot, value in given.items() if value is not None}
    if flops is not None:
        given["flops_on_meta"] = flops_on_meta
    names = _targets(ops)
    for name in names:
        current = _ENTRIES.get(name, _EMPTY)
        for slot in given:
            if getattr(current, slot) != _UNSET[slot] and not replace:
                raise ValueError(f"a {_LABELS[slot]} for {name} is already registered")
    _update(names, given)


def unregister_op(ops: Any, *slots: str) -> None:
    """Forget the given slots ("flops", "bytes", ...; all when none are named) of op(s)."""
    _update(_targets(ops), {slot: _UNSET[slot] for slot in (slots or _UNSET)})


def _update(names: list[str], values: dict[str, Any]) -> None:
    """Set `values` on the entries of `names`, all or none: an op has a FLOP formula exactly
    when its category is matmul (so a matmul-class op is never a silent zero)."""
    updated = {name: with_fields(_ENTRIES.get(name, _EMPTY), **values) for name in names}
    for name, new in updated.items():
        if (new.flops is not None) != (new.category == MATMUL):
            raise ValueError(f"{name}: a FLOP formula goes with category {MATMUL!r}, and only "
                             f"with it (category {new.category!r})")
    for name, new in updated.items():
        if new == _EMPTY:
            _ENTRIES.pop(name, None)
        else:
            _ENTRIES[name] = new


def register_formula(slot: str, ops: Any, *, replace: bool = False,
                     **declared: Any) -> Callable[[F], F]:
    """Decorator form of `register_op`: the decorated function becomes the `slot` ("flops",
    "bytes" or "per_element") of op(s), declared together with `declared`."""

    def decorate(formula: F) -> F:
        register_op(ops, replace=replace, **declared, **{slot: formula})
        return formula

    return decorate


def register_flop_formula(ops: Any, *, replace: bool = False
                          ) -> Callable[[FlopFormula], FlopFormula]:
    """Decorator: register `formula(*shapes, out_shape=..., **kwargs) -> FLOPs` for op(s),
    making them matmul-class (kind "matmul"; `register_op(..., kind=...)` says otherwise).

    `ops` is an op or a list of ops (name strings like "aten.mm" / "mylib::my_op", packets or
    overloads). Registering an op twice is an error unless `replace=True`.
    """
    return register_formula("flops", ops, replace=replace, category=MATMUL)


def unregister_flop_formula(op: Any) -> None:
    unregister_op(op, "flops", "flops_on_meta", "kind", "category")


def register_bytes_formula(ops: Any, *, replace: bool = False
                           ) -> Callable[[BytesFormula], BytesFormula]:
    """Decorator: `formula(inputs, outputs) -> (bytes_read, bytes_written)` for op(s), given the
    TensorSpecs of the call. Names as in `register_flop_formula`."""
    return register_formula("bytes", ops, replace=replace)


def unregister_bytes_formula(op: Any) -> None:
    unregister_op(op, "bytes")


def register_category_convention(category: str, per_element: PerElementFormula, *,
                                 replace: bool = False) -> None:
    """The per-element convention of ops of `category` that declare none of their own."""
    if category in _CATEGORY_CONVENTIONS and not replace:
        raise ValueError(f"a per-element convention for category {category} is already registered")
    _CATEGORY_CONVENTIONS[category] = per_element


def category_convention(category: str) -> PerElementFormula | None:
    return _CATEGORY_CONVENTIONS.get(category)


def entry(packet: Any) -> OpEntry:
    """What is registered for an op packet (an empty entry when nothing is)."""
    return _ENTRIES.get(packet_name(packet), _EMPTY)


def category(name: str) -> str:
    """Category of an op overload name like 'aten.add.Tensor': declared, else from torch's tags."""
    declared = _ENTRIES.get(name.rsplit(".", 1)[0])
    if declared is not None and declared.category is not None:
        return declared.category
    return _tag_category(name)


def kind(op: Any) -> str:
    """'matmul', 'conv' or 'attention' for a matmul-class op, else its category.

    `op` is an overload name ('aten.add.Tensor'), a packet name ('aten.add'), or a torch op."""
    name = _overload_name(op)
    cat = category(name)
    if cat != MATMUL:
        return cat
    return _ENTRIES[name.rsplit(".", 1)[0]].kind or MATMUL


def _overload_name(op: Any) -> str:
    if isinstance(op, torch._ops.OpOverload):
        return f"{op.overloadpacket}.{op._overloadname}"
    name = packet_name(op)
    if name.rsplit(".", 1)[0] in _ENTRIES or resolve(name) is not None:
        return name
    namespace, _, packet = name.partition(".")
    try:
        overloads = getattr(getattr(torch.ops, namespace), packet).overloads()
    except (AttributeError, RuntimeError):
        overloads = []
    return f"{name}.{overloads[0] if overloads else 'default'}"  # aten.add -> aten.add.Tensor


@lru_cache(maxsize=None)
def _tag_category(name: str) -> str:
    """The category torch's own tags give an op nothing declares (views, pointwise ops, ...)."""
    op = resolve(name)
    if op is None:
        return UNSUPPORTED
    if op.is_view:
        return VIEW
    if torch.Tag.pointwise in op.tags:
        return ELEMENTWISE
    if torch.Tag.reduction in op.tags:
        return REDUCTION
    if torch.Tag.nondeterministic_seeded in op.tags:
        return MEMORY
    return UNSUPPORTED
