"""Looking up aten ops by the names records keep, and naming their arguments."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import torch

from .records import TensorSpec

if TYPE_CHECKING:
    from . import OpRecord


@lru_cache(maxsize=None)
def resolve(name: str) -> torch._ops.OpOverload | None:
    """'aten.addmm.default' -> torch.ops.aten.addmm.default (None if unknown)."""
    namespace, _, rest = name.partition(".")
    packet_name, _, overload = rest.rpartition(".")
    try:
        packet = getattr(getattr(torch.ops, namespace), packet_name)
        return getattr(packet, overload)
    except (AttributeError, RuntimeError):
        return None


@lru_cache(maxsize=None)
def argument_names(name: str) -> tuple[str, ...]:
    op = resolve(name)
    if op is None:
        return ()
    return tuple(arg.name for arg in op._schema.arguments)


def non_tensor_arguments(record: OpRecord) -> dict[str, Any]:
    """Arguments that are not tensors, keyed by their schema names (stride, padding, ...)."""
    names = argument_names(record.name)
    attrs: dict[str, Any] = {}
    for i, value in enumerate(record.args):
        if _has_tensor(value):
            continue
        attrs[names[i] if i < len(names) else f"arg{i}"] = value
    for key, value in record.kwargs.items():
        if not _has_tensor(value):
            attrs[key] = value
    return attrs


def _has_tensor(value: Any) -> bool:
    if isinstance(value, TensorSpec):
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_tensor(v) for v in value)
    return False
