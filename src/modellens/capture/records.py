"""What a capture keeps: plain descriptions of tensors, ops, modules and parameters (no tensors).

Every analysis reads only these records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from ..dtypes import dtype_size

FORWARD = "forward"
BACKWARD = "backward"


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """Shape, dtype and storage identity of one tensor seen during capture.

    `storage` is a small integer that is equal for tensors sharing memory (views), so byte
    counts and liveness can be computed without keeping tensors.
    """

    shape: tuple[int, ...]
    dtype: str
    storage: int = -1

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return math.ceil(self.numel * dtype_size(self.dtype))

    @property
    def is_floating(self) -> bool:
        return self.dtype.startswith(("float", "bfloat", "complex"))

    def shape_str(self) -> str:
        """The seed-002 form: '1x3x224x224' ('' for a scalar)."""
        return "x".join(str(d) for d in self.shape)

    def to_dict(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "dtype": self.dtype}


def iter_specs(tree: Any):
    """Yield every TensorSpec found in nested tuples/lists/dicts."""
    if isinstance(tree, TensorSpec):
        yield tree
    elif isinstance(tree, (tuple, list)):
        for item in tree:
            yield from iter_specs(item)
    elif isinstance(tree, dict):
        for item in tree.values():
            yield from iter_specs(item)


def map_leaves(tree: Any, fn) -> Any:
    """`tree` with every leaf replaced by fn(leaf); tuples, lists and dicts are rebuilt.

    A small, fast stand-in for pytree's tree_map over aten arguments, which are only these
    containers (it runs on every op of a capture)."""
    kind = type(tree)
    if kind is tuple or kind is list:
        return kind([map_leaves(item, fn) for item in tree])
    if kind is dict:
        return {key: map_leaves(item, fn) for key, item in tree.items()}
    return fn(tree)


def map_specs(tree: Any, fn) -> Any:
    """`tree` with every TensorSpec replaced by fn(spec) (tuples, lists and dicts rebuilt)."""
    return map_leaves(tree, lambda leaf: fn(leaf) if isinstance(leaf, TensorSpec) else leaf)


def iter_tensors(tree: Any):
    """Yield every tensor in nested tuples/lists/dicts and mapping-like outputs (HF ModelOutput)."""
    if isinstance(tree, torch.Tensor):
        yield tree
    elif isinstance(tree, (tuple, list)):
        for item in tree:
            yield from iter_tensors(item)
    elif hasattr(tree, "values") and callable(tree.values):
        for item in tree.values():
            yield from iter_tensors(item)


@dataclass(frozen=True, slots=True)
class OpRecord:
    """One aten op call: what ran, where (innermost module), and on which shapes."""

    name: str  # overload name, e.g. "aten.addmm.default"
    module: str  # innermost module path, "" for the root
    phase: str  # FORWARD or BACKWARD
    args: tuple  # positional args, tensors replaced by TensorSpec
    kwargs: dict
    outputs: tuple[TensorSpec, ...]
    # every TensorSpec of args and kwargs, in order; read by every analysis, so found once
    inputs: tuple[TensorSpec, ...] = field(init=False, repr=False, compare=False)
    # the torch-level call it lowered from (capture.functions.TorchCall), when recorded
    call: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(iter_specs((self.args, self.kwargs))))

    @property
    def packet(self) -> str:
        """Overload packet name, e.g. "aten.addmm"."""
        return self.name.rsplit(".", 1)[0]

    def attributes(self) -> dict[str, Any]:
        """Non-tensor arguments by schema name (stride, padding, groups, ...)."""
        from .schema import non_tensor_arguments

        return non_tensor_arguments(self)


@dataclass(slots=True)
class ModuleRecord:
    """One module of the tree, with what flowed through it on its first call."""

    path: str
    class_name: str
    type_name: str  # fully qualified class name
    parent: str | None
    depth: int
    attributes: dict[str, Any]
    calls: int = 0
    input_specs: tuple[TensorSpec, ...] = ()
    output_specs: tuple[TensorSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class ParamRecord:
    """One parameter or buffer tensor, counted once however many names it has."""

    name: str  # canonical (first) name
    module: str  # path of the module owning `name`
    shape: tuple[int, ...]
    dtype: str
    requires_grad: bool
    is_buffer: bool
    aliases: tuple[str, ...] = ()  # other names of the same tensor (tied weights)

    @property
    def spec(self) -> TensorSpec:
        return TensorSpec(self.shape, self.dtype)

    @property
    def numel(self) -> int:
        return self.spec.numel

    @property
    def nbytes(self) -> int:
        return self.spec.nbytes


@dataclass
class Capture:
    """Everything one run of the model recorded; the input to every analysis."""

    model_name: str
    model_class: str
    method: str
    ops: list[OpRecord]
    modules: dict[str, ModuleRecord]
    params: list[ParamRecord]
    inputs: list[tuple[str, TensorSpec]]
    outputs: list[TensorSpec]
    backward: bool
    notes: list[str] = field(default_factory=list)
    # storage id -> group: "params", "buffers", a SampleInputs.state name such as "kv_cache",
    # and with a backward "grads" (what .grad holds after it) and "backward_seeds"
    storage_groups: dict[int, str] = field(default_factory=dict)

    def storages(self, group: str) -> set[int]:
        return {sid for sid, name in self.storage_groups.items() if name == group}

    def forward_ops(self) -> list[OpRecord]:
        return [op for op in self.ops if op.phase == FORWARD]

    def backward_ops(self) -> list[OpRecord]:
        return [op for op in self.ops if op.phase == BACKWARD]


@dataclass
class SampleInputs:
    """Positional and keyword arguments for one forward call."""

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    # Named groups of tensors analyses want to find again (e.g. "kv_cache"): their storages are
    # listed in Capture.storage_groups. They may live inside argument objects (a Cache).
    state: dict[str, list[torch.Tensor]] = field(default_factory=dict)

    def named(self) -> list[tuple[str, Any]]:
        named = [(f"arg{i}", a) for i, a in enumerate(self.args)]
        return named + list(self.kwargs.items())
