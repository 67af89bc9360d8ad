"""Plain descriptions of tensors (shape, dtype, identity) that records keep instead of tensors."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

_DTYPE_BY_NAME: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float64": torch.float64,
    "fp64": torch.float64,
    "int8": torch.int8,
    "float8_e4m3fn": torch.float8_e4m3fn,
    "fp8": torch.float8_e4m3fn,
}


def dtype_name(dtype: torch.dtype) -> str:
    """'torch.float32' -> 'float32'."""
    return str(dtype).removeprefix("torch.")


def dtype_size(name: str) -> int:
    """Bytes per element of a dtype given by name ('float32' -> 4, 'bool' -> 1)."""
    dtype = getattr(torch, name, None)
    if isinstance(dtype, torch.dtype):
        return dtype.itemsize
    return 4


def parse_dtype(name: str) -> torch.dtype:
    """User dtype name ('bf16', 'float32', ...) -> torch.dtype."""
    try:
        return _DTYPE_BY_NAME[name.lower()]
    except KeyError:
        from .errors import ConfigError

        known = ", ".join(sorted(_DTYPE_BY_NAME))
        raise ConfigError(f"unknown dtype {name!r}; expected one of: {known}") from None


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
        return self.numel * dtype_size(self.dtype)

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


def map_specs(tree: Any, fn) -> Any:
    """`tree` with every TensorSpec replaced by fn(spec) (tuples, lists and dicts rebuilt)."""
    if isinstance(tree, TensorSpec):
        return fn(tree)
    if isinstance(tree, tuple):
        return tuple(map_specs(item, fn) for item in tree)
    if isinstance(tree, list):
        return [map_specs(item, fn) for item in tree]
    if isinstance(tree, dict):
        return {key: map_specs(item, fn) for key, item in tree.items()}
    return tree


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
