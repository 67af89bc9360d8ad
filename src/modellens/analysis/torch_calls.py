"""A recorded torch-level call (capture.functions.TorchCall) as one op call of the torch level.

Its arguments are named by the function's signature: tensors become the call's inputs, the rest
its attributes (``F.interpolate``'s ``scale_factor`` and ``mode``, ``flatten``'s ``start_dim``),
with the defaults of Python-level functions filled in so equal calls written differently are one
configuration. The aten ops it lowered to are kept (`OpCall.aten`), so a support list in aten
names still covers it.
"""

from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Any

from ..capture.records import TensorSpec
from .op_names import _overrides

_VARIADIC_SHAPES = {"torch.reshape": "shape", "torch.Tensor.view": "size"}
_POSITIONAL = {"torch.einsum": ("equation",)}  # einsum(*args): the equation, then operands


def _has_tensor(value: Any) -> bool:
    if isinstance(value, TensorSpec):
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_tensor(v) for v in value)
    if isinstance(value, dict):
        return any(_has_tensor(v) for v in value.values())
    return False


@lru_cache(maxsize=None)
def parameters(function: str) -> tuple[tuple[str, ...], tuple[tuple[str, Any], ...]]:
    """(positional names in order, defaults of a Python-level function) of a dotted torch name;
    ((), ()) when unknown."""
    import torch

    obj: Any = torch
    for part in function.split(".")[1:]:
        obj = getattr(obj, part, None)
        if obj is None:
            return (), ()
    python_level = inspect.isfunction(obj)
    target = obj if python_level else _overrides().get(obj, obj)
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return (), ()
    names = tuple(p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    defaults = tuple((p.name, p.default) for p in params
                     if python_level and p.default is not p.empty
                     and (p.default is None or isinstance(p.default, (bool, int, float, str))))
    return names, defaults


def call_arguments(name: str, args: tuple, kwargs: dict) -> dict[str, Any]:
    """Every argument by name (positional ones by the signature, extras as arg{i})."""
    names, defaults = parameters(name)
    names = _POSITIONAL.get(name, names)
    if name in _VARIADIC_SHAPES and len(args) > 2:  # x.reshape(2, 3) == x.reshape((2, 3))
        args = (args[0], list(args[1:]))
    named = dict(defaults)
    for i, value in enumerate(args):
        named[names[i] if i < len(names) else f"arg{i}"] = value
    named.update(kwargs)
    return named


def function_call(call: Any, module: str, ops: list) -> Any:
    """The OpCall of one TorchCall over the aten ops `ops` it lowered to (innermost `module`)."""
    from .unique import OpCall

    if call.custom:
        attributes: dict[str, Any] = {}
    else:
        attributes = {k: v for k, v in call_arguments(call.name, call.args, call.kwargs).items()
                      if not _has_tensor(v)}
    outputs = call.outputs[:1] if call.outputs else (ops[-1].outputs[:1] if ops else ())
    return OpCall(call.name, module, attributes, call.inputs, outputs,
                  tuple(dict.fromkeys(op.name for op in ops)))
