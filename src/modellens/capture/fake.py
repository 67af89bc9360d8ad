"""Fake-tensor handling: converting weights and inputs to FakeTensors, and the small constants a
forward must be able to read (kept concrete)."""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import torch
from torch import nn

# Fake tensors made by torch.tensor(data) keep their values up to this many elements (torch's
# default: 1), and ops on such constants run for real: a vision tower's grid_thw can be read
# (`.tolist()`) and sizes derived from it (`repeat_interleave`) stay concrete.
CONSTANT_NUMEL_LIMIT = 64
# A fake capture that meets a data-dependent op is retried once with small tensors the forward
# creates itself (arange, zeros, full) made for real and kept, with everything derived from
# them alone, up to this many elements (a vision tower's padded window index).
CREATED_CONSTANT_NUMEL_LIMIT = 4096


def cast(tensor: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    if dtype is not None and tensor.is_floating_point() and tensor.dtype != dtype:
        return tensor.to(dtype)
    return tensor


def fake_converter(fake_mode, dtype,
                    requires_grad: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    from torch._subclasses.fake_tensor import FakeTensor

    cpu = torch.device("cpu")

    def convert(tensor: torch.Tensor) -> torch.Tensor:
        if isinstance(tensor, FakeTensor):
            fake = tensor
        elif tensor.is_meta:  # a fake CPU tensor, so CPU kernels (e.g. fused SDPA) are chosen
            fake = FakeTensor(fake_mode, tensor.data, cpu)  # .data: no dispatch, no autograd
        else:  # real weights: their values are never read, so wrap a meta twin (no copy, fast)
            twin = torch.empty_strided(tensor.size(), tensor.stride(), dtype=tensor.dtype,
                                       device="meta")
            fake = FakeTensor(fake_mode, twin, tensor.device)
        fake = cast(fake, dtype)
        if requires_grad and isinstance(tensor, nn.Parameter) and tensor.requires_grad:
            # a leaf of our own: made grad-requiring in place (a fake detach costs ~0.3 ms)
            fake = fake.detach() if fake is tensor or fake.grad_fn is not None else fake
            fake = fake.requires_grad_(True)
        return fake

    return convert


def constant_keeping_mode(limit: int):
    """A FakeTensorMode whose constant tensors keep their values up to `limit` elements.

    torch reads its module-global `CONSTANT_NUMEL_LIMIT` only in `FakeTensorMode.may_turn_const`;
    overriding that method per mode sets the limit without a process-global write, so captures
    running in threads do not see each other's limit."""
    return _constant_keeping_class()(limit)


@functools.cache
def _constant_keeping_class() -> type:
    from torch._subclasses.fake_tensor import FakeTensorMode, is_sparse_any

    class ConstantKeepingFakeMode(FakeTensorMode):
        def __init__(self, limit: int) -> None:
            super().__init__(allow_non_fake_inputs=True)
            self.constant_limit = limit

        def may_turn_const(self, t: torch.Tensor) -> bool:
            return (t.numel() <= self.constant_limit and not is_sparse_any(t)
                    and not self.is_our_fake(t) and t.device.type != "meta")

    return ConstantKeepingFakeMode


class FakeConstants:
    """Small tensors whose values a forward reads stay concrete under fake tensors.

    Always: the model's small plain tensor attributes (YOLO's `stride`, read with `.item()`)
    become constant fakes before the forward (`lift_attributes`; restored with every other
    attribute after it). On the retry after a data-dependent op (`thorough`), also every small
    real CPU tensor an op meets (`lift`: constants held outside the model), and small CPU tensors
    the forward creates from nothing (`create`: `torch.arange`, `zeros`, `full`) are made for real
    and kept, so what is derived from them alone (a Qwen-VL vision tower's window index: arange,
    pad, boolean-mask select) can be read. Not on the first attempt: those two run on every op,
    and kept constants make ops on them run for real.
    """

    FACTORIES = frozenset({torch.ops.aten.arange.default, torch.ops.aten.arange.start,
                           torch.ops.aten.arange.start_step, torch.ops.aten.zeros.default,
                           torch.ops.aten.ones.default, torch.ops.aten.full.default,
                           torch.ops.aten.scalar_tensor.default})

    def __init__(self, fake_mode, limit: int, thorough: bool) -> None:
        from torch._subclasses.fake_tensor import FakeTensor

        self.fake_mode = fake_mode
        self.converter = fake_mode.fake_tensor_converter
        self.limit = limit
        self.thorough = thorough
        self._fake_type = FakeTensor  # imported once: `lift` runs on every argument of every op

    def lift(self, value: Any) -> Any:
        if (type(value) is not self._fake_type and isinstance(value, torch.Tensor)
                and value.device.type == "cpu" and value.numel() <= self.limit):
            return self.converter.from_real_tensor(self.fake_mode, value, make_constant=True)
        return value

    def lift_attributes(self, model: nn.Module) -> None:
        for module in model.modules():
            for name, value in list(vars(module).items()):
                if type(value) is torch.Tensor:  # not parameters or buffers (kept elsewhere)
                    setattr(module, name, self.lift(value))

    def create(self, func, args: tuple, kwargs: dict) -> torch.Tensor | None:
        """The constant `func(*args, **kwargs)` makes, or None (not a small CPU factory call)."""
        from torch._subclasses.fake_tensor import unset_fake_temporarily

        device = kwargs.get("device")
        if func not in self.FACTORIES or (device is not None
                                          and torch.device(device).type != "cpu"):
            return None
        with unset_fake_temporarily():
            shape = func(*args, **{**kwargs, "device": "meta"}).shape
            if math.prod(shape) > self.limit:
                return None
            real = func(*args, **{**kwargs, "device": "cpu"})
        return self.converter.from_real_tensor(self.fake_mode, real, make_constant=True)
