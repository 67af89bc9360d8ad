"""The torch-level recorder: which public torch function the user called, linked to the aten ops
it lowered to.

The dispatch recorder sees aten ops only: ``torch.matmul`` arrives as ``mm``/``bmm``/``view``,
``flatten`` as ``view``, ``adaptive_avg_pool2d(x, 1)`` as ``mean``, and ``F.interpolate`` loses
``scale_factor`` and ``mode``. A `TorchFunctionMode` sits above it: for the functions in
`TORCH_LEVEL` (composites whose aten lowering loses what the user wrote) it records a
`TorchCall` with the call's own arguments, and every aten op recorded while the call runs points
to it (`OpRecord.call`). torch pops the mode while a handler runs, so only the outermost call is
seen: the aten ops inside ``F.interpolate`` belong to it, not to the functions it calls.

A custom ``torch.autograd.Function`` is not a torch function (``Function.apply`` bypasses
``__torch_function__``); the torch calls its ``forward(ctx, ...)`` makes directly are grouped
into one call named after the Function class (``mypkg.MyOp.apply``).

Only on when asked (`capture(..., torch_calls=True)`): every tensor method and attribute access
of the forward goes through Python then.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.autograd.function import FunctionCtx
from torch.overrides import TorchFunctionMode

from .recorder import _plain
from .records import TensorSpec, iter_specs, iter_tensors, map_leaves

# what a function is reached as -> the name users call it by
_F = "torch.nn.functional."
TORCH_LEVEL: dict[str, str] = {
    "torch.matmul": "torch.matmul", "torch.Tensor.matmul": "torch.matmul",
    "torch.Tensor.__matmul__": "torch.matmul", "torch.Tensor.__rmatmul__": "torch.matmul",
    "torch.einsum": "torch.einsum", "torch.functional.einsum": "torch.einsum",
    "torch.tensordot": "torch.tensordot", "torch.functional.tensordot": "torch.tensordot",
    "torch.cdist": "torch.cdist", "torch.functional.cdist": "torch.cdist",
    "torch._C._nn.linear": _F + "linear", _F + "linear": _F + "linear",
    "torch.bilinear": _F + "bilinear", _F + "bilinear": _F + "bilinear",
    "torch.flatten": "torch.flatten", "torch.Tensor.flatten": "torch.flatten",
    "torch.unflatten": "torch.unflatten", "torch.Tensor.unflatten": "torch.unflatten",
    "torch.reshape": "torch.reshape", "torch.Tensor.reshape": "torch.reshape",
    "torch.adaptive_avg_pool1d": _F + "adaptive_avg_pool1d",
    _F + "adaptive_avg_pool1d": _F + "adaptive_avg_pool1d",
    _F + "adaptive_avg_pool2d": _F + "adaptive_avg_pool2d",
    _F + "adaptive_avg_pool3d": _F + "adaptive_avg_pool3d",
    _F + "adaptive_max_pool1d": _F + "adaptive_max_pool1d",
    _F + "adaptive_max_pool2d": _F + "adaptive_max_pool2d",
    _F + "adaptive_max_pool3d": _F + "adaptive_max_pool3d",
    _F + "interpolate": _F + "interpolate", _F + "upsample": _F + "interpolate",
    _F + "pad": _F + "pad", "torch._C._nn.pad": _F + "pad",
    _F + "normalize": _F + "normalize", _F + "grid_sample": _F + "grid_sample",
    _F + "unfold": _F + "unfold", _F + "fold": _F + "fold",
    _F + "one_hot": _F + "one_hot", "torch._C._nn.one_hot": _F + "one_hot",
    _F + "cross_entropy": _F + "cross_entropy",
}
_TORCH_DIR = os.path.dirname(torch.__file__)
_UNKNOWN = object()


@dataclass(slots=True, eq=False)
class TorchCall:
    """One torch-level call: the function users call, with its arguments (tensors as specs).
    Equality is identity: the aten ops of one call all point to the same object."""

    name: str  # "torch.matmul", "torch.nn.functional.interpolate", "pkg.MyFunction.apply"
    args: tuple
    kwargs: dict
    outputs: tuple[TensorSpec, ...] = ()
    inputs: tuple[TensorSpec, ...] = field(default=(), repr=False)
    custom: bool = False  # a custom autograd.Function

    def __post_init__(self) -> None:
        self.inputs = tuple(iter_specs((self.args, self.kwargs)))


def qualified_name(func: Any) -> str:
    """How a torch function is reached: 'torch.matmul', 'torch.Tensor.flatten',
    'torch._C._nn.linear', 'torch.nn.functional.interpolate'."""
    qualname = getattr(func, "__qualname__", None) or getattr(func, "__name__", "")
    name = getattr(func, "__name__", qualname)
    if qualname.startswith("TensorBase.") or qualname.startswith("Tensor."):
        return f"torch.Tensor.{name}"
    if qualname.startswith("_VariableFunctionsClass."):
        return f"torch.{name}"
    if qualname.endswith(".__get__"):  # a property (Tensor.shape)
        return ""
    module = getattr(func, "__module__", None) or ""
    return f"{module}.{qualname}" if module else qualname


class FunctionRecorder(TorchFunctionMode):
    """Marks the aten ops each torch-level call lowers to (see the module docstring)."""

    def __init__(self, recorder: Any, ids: Any) -> None:
        super().__init__()
        self.recorder = recorder  # the dispatch Recorder: reads `.call` for each aten op
        self.ids = ids
        self.calls: list[TorchCall] = []
        self._names: dict[Any, str | None] = {}
        self._contexts: dict[int, tuple[FunctionCtx, TorchCall]] = {}

    def _spec(self, value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return self.ids.spec(value)
        return _plain(value)

    def _display(self, func: Any) -> str | None:
        try:
            name = self._names.get(func, _UNKNOWN)
        except TypeError:  # unhashable
            return None
        if name is _UNKNOWN:
            name = self._names[func] = TORCH_LEVEL.get(qualified_name(func))
        return name

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.recorder.call is not None or self.recorder.is_paused:
            return func(*args, **kwargs)
        custom = self._custom_function()
        name = self._display(func) if custom is None else None
        if custom is not None:
            self.recorder.call = custom
            try:
                out = func(*args, **kwargs)
            finally:
                self.recorder.call = None
            custom.outputs = tuple(self.ids.spec(t) for t in iter_tensors(out))
            return out
        if name is None:
            return func(*args, **kwargs)
        call = TorchCall(name, map_leaves(args, self._spec), map_leaves(kwargs, self._spec))
        self.recorder.call = call
        try:
            out = func(*args, **kwargs)
        finally:
            self.recorder.call = None
        call.outputs = tuple(self.ids.spec(t) for t in iter_tensors(out))
        self.calls.append(call)
        return out

    def _custom_function(self) -> TorchCall | None:
        """The call of the custom autograd.Function whose forward(ctx, ...) makes this torch
        call, if any (the first frame outside torch is read)."""
        frame = sys._getframe(2)
        for _ in range(4):
            if frame is None or not frame.f_code.co_filename.startswith(_TORCH_DIR):
                break
            frame = frame.f_back
        if frame is None or frame.f_code.co_name != "forward":
            return None
        code = frame.f_code
        if not code.co_argcount or code.co_varnames[0] != "ctx":
            return None
        ctx = frame.f_locals.get("ctx")
        if not isinstance(ctx, FunctionCtx):
            return None
        known = self._contexts.get(id(ctx))
        if known is not None and known[0] is ctx:
            return known[1]
        cls = getattr(type(ctx), "_forward_cls", type(ctx))
        inputs = tuple(frame.f_locals.get(n) for n in code.co_varnames[1:code.co_argcount])
        call = TorchCall(f"{cls.__module__}.{cls.__qualname__}.apply",
                         map_leaves(inputs, self._spec), {}, custom=True)
        self._contexts[id(ctx)] = (ctx, call)  # ctx kept alive: its id is never reused
        self.calls.append(call)
        return call
