"""Random weight initialisation skipped on the meta device.

A meta tensor has no values, so `normal_`/`uniform_` on one change nothing; but torch runs
`normal_` on meta through its Python reference decomposition (~2 ms a call, and the first call
imports torch._dynamo, ~0.5-1 s): a 96-layer GPT-2 spent 0.7 s of its build there. Under
`skipped()`, those in-place random fills (and torch.nn.init's random initialisers) return the
meta tensor untouched; on any other device they run as usual.
"""

from __future__ import annotations

import functools

import torch
from torch.overrides import TorchFunctionMode

_RANDOM_FILLS = ("normal_", "uniform_", "random_", "bernoulli_", "exponential_", "log_normal_",
                 "cauchy_", "geometric_")
# torch.nn.init's functions dispatch as themselves (a mode sees `init.normal_`, and the Tensor
# method it calls runs with the mode off), so they are matched too; each returns its tensor
_INIT_FUNCTIONS = ("normal_", "uniform_", "trunc_normal_", "kaiming_normal_", "kaiming_uniform_",
                   "xavier_normal_", "xavier_uniform_", "orthogonal_", "sparse_")


@functools.cache
def _tensor_fills() -> frozenset:
    return frozenset(getattr(torch.Tensor, name) for name in _RANDOM_FILLS)


def _is_fill(func) -> bool:
    """A random fill; init functions matched by module and name, since a library may swap
    `torch.nn.init.normal_` for a wrapper while it builds (transformers does) that then calls
    the original."""
    return func in _tensor_fills() or (getattr(func, "__module__", None) == "torch.nn.init"
                                       and getattr(func, "__name__", None) in _INIT_FUNCTIONS)


class _MetaFillsSkipped(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        target = args[0] if args else kwargs.get("tensor")  # init functions pass `tensor=`
        if isinstance(target, torch.Tensor) and target.is_meta and _is_fill(func):
            return target
        return func(*args, **kwargs)


def skipped() -> TorchFunctionMode:
    """A mode under which random in-place fills of meta tensors do nothing."""
    return _MetaFillsSkipped()


class _PlainDataOnCpu(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if (func in (torch.tensor, torch.as_tensor) and "device" not in kwargs and args
                and not any(isinstance(leaf, torch.Tensor) for leaf in _leaves(args[0]))):
            kwargs = {**kwargs, "device": "cpu"}
        return func(*args, **kwargs)


def _leaves(data):
    if isinstance(data, (list, tuple)):
        for item in data:
            yield from _leaves(item)
    else:
        yield data


def plain_data_on_cpu() -> TorchFunctionMode:
    """A mode under which `torch.tensor(data)` of plain Python numbers is made on the CPU even
    when the default device is meta: a constructor that computes a small constant from shapes
    and reads it back (ultralytics' strides, from a forward pass over zeros, then `math.log` of
    them) builds on meta, its weights without memory."""
    return _PlainDataOnCpu()
