"""Op-by-op replay: each unique op configuration of a capture, materialized with random tensors
on a device and timed alone.

A configuration is the aten overload, the shapes and dtypes of its tensor arguments and its
non-tensor arguments; calls of the same configuration anywhere in the model are timed once.
Tensors are made by `measure.kit` (whose source every generated porting test carries): floating
ones uniform in [0.5, 1.5) (no NaN from log/sqrt/rsqrt), integer ones zeros and booleans true,
so index arguments are always in range. Tensors are fresh and
contiguous: an op whose recorded call relied on another layout (`as_strided` over a larger
storage) may fail, and is then listed with its error rather than dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from ..capture.records import OpRecord, TensorSpec, map_leaves
from ..capture.schema import argument_names
from . import kit
from .clock import Measurement, measure


@dataclass
class OpConfig:
    """One unique op configuration and the records that call it."""

    name: str
    args: tuple
    kwargs: dict
    phase: str
    records: list[OpRecord] = field(default_factory=list)

    @property
    def calls(self) -> int:
        return len(self.records)

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return self.records[0].inputs

    @property
    def nbytes(self) -> int:
        """Bytes of every tensor argument (what materializing it allocates, before outputs)."""
        return sum(spec.nbytes for spec in self.inputs)

    def shapes(self) -> list[list[int]]:
        return [list(spec.shape) for spec in self.inputs]

    def dtype(self) -> str:
        return next((s.dtype for s in self.inputs if s.is_floating),
                    self.inputs[0].dtype if self.inputs else "")


def config_key(op: OpRecord) -> tuple:
    """What makes two calls the same configuration: overload, tensor shapes/dtypes, plain args."""
    strip = lambda leaf: (leaf.shape, leaf.dtype) if isinstance(leaf, TensorSpec) else leaf
    return (op.name, op.phase, repr(map_leaves(op.args, strip)),
            repr(map_leaves(op.kwargs, strip)))


def unique_configs(ops: list[OpRecord]) -> list[OpConfig]:
    """The unique configurations of `ops`, most-called first (then in first-call order)."""
    configs: dict[tuple, OpConfig] = {}
    for op in ops:
        key = config_key(op)
        config = configs.get(key)
        if config is None:
            config = configs[key] = OpConfig(op.name, op.args, op.kwargs, op.phase)
        config.records.append(op)
    return sorted(configs.values(), key=lambda c: -c.calls)


@dataclass(frozen=True)
class OpMeasurement:
    """A measured configuration, or why it could not be measured."""

    seconds: Measurement | None
    error: str = ""


def argument_tree(config: OpConfig) -> tuple[Any, tuple, dict, list[tuple[tuple, str]]]:
    """(op, args, kwargs, specs) in `measure.kit`'s form: each tensor argument a `kit.T(i)` over
    `specs` (shape, dtype), the device argument `kit.DEVICE`, dtypes/layouts/memory formats as
    torch objects. Raises when this torch has no such op."""
    op = kit.resolve_op(config.name)
    if op is None:
        raise RuntimeError(f"{config.name} is not an op this torch knows")
    names = argument_names(config.name)
    specs: list[tuple[tuple, str]] = []

    def value(leaf: Any, name: str) -> Any:
        if isinstance(leaf, TensorSpec):
            specs.append((tuple(leaf.shape), leaf.dtype))
            return kit.T(len(specs) - 1)
        return _plain_argument(leaf, name)

    args = tuple(map_leaves(arg, lambda leaf, n=(names[i] if i < len(names) else ""):
                            value(leaf, n)) for i, arg in enumerate(config.args))
    kwargs = {key: map_leaves(arg, lambda leaf, n=key: value(leaf, n))
              for key, arg in config.kwargs.items()}
    return op, args, kwargs, specs


def materialize(config: OpConfig, device: torch.device) -> Callable[[], Any]:
    """A zero-argument callable running the configuration once on `device` with fresh tensors
    (made once, reused by every call). Raises what the op raises."""
    op, args, kwargs, specs = argument_tree(config)
    tensors = [kit.make_tensor(shape, dtype, device) for shape, dtype in specs]
    fn = kit.as_function(op, args, kwargs, device)
    return lambda: fn(*tensors)


def time_config(config: OpConfig, device: torch.device, max_s: float = 0.5) -> OpMeasurement:
    """Time one configuration under inference mode; an op that fails gives its first error line."""
    try:
        with torch.inference_mode():
            run = materialize(config, device)
            return OpMeasurement(measure(run, device, max_s=max_s))
    except Exception as exc:  # any op error is a result (listed), not a crash
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return OpMeasurement(None, f"{type(exc).__name__}: {message}"[:300])


def _plain_argument(value: Any, name: str) -> Any:
    """A recorded non-tensor argument back as what the op takes (dtypes, layouts and memory
    formats were recorded by name; a device argument becomes the target device)."""
    if not isinstance(value, str):
        return value
    if name == "device":
        return kit.DEVICE
    attribute = getattr(torch, value.removeprefix("torch."), None)
    if isinstance(attribute, (torch.dtype, torch.layout, torch.memory_format)):
        return attribute
    return value


def op_sum(configs: list[OpConfig], measured: dict[int, OpMeasurement]) -> float:
    """Σ calls × measured seconds over the measured configurations (`measured` by list index)."""
    return math.fsum(configs[i].calls * m.seconds.median_s
                     for i, m in measured.items() if m.seconds is not None)
