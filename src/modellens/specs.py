"""Plain descriptions of tensors (shape, dtype, identity) that records keep instead of tensors."""

from __future__ import annotations

import functools
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


@functools.cache
def dtype_name(dtype: torch.dtype) -> str:
    """'torch.float32' -> 'float32'."""
    return str(dtype).removeprefix("torch.")


# Storage formats that are not torch dtypes (weight-only quantization): bytes per element.
_FORMAT_SIZES: dict[str, float] = {"int4": 0.5, "nf4": 0.5, "fp4": 0.5}
SCALE_BYTES = 2  # one fp16 scale per quantization group


def quantized_format(name: str, group_size: int | None = None) -> str:
    """A storage format name for weight quantization, e.g. 'int4/g128': 4-bit values plus one
    fp16 scale per group of 128 (0.5 + 2/128 bytes per weight). Known to `dtype_size`."""
    base = {"fp8": "float8_e4m3fn", "bf16": "bfloat16", "fp16": "float16"}.get(name, name)
    size = _FORMAT_SIZES.get(base) or (dtype_size(base) if hasattr(torch, base) else None)
    if size is None:
        from .errors import ConfigError

        raise ConfigError(f"unknown quantization format {name!r}; expected int8, int4, nf4, fp8")
    if not group_size:
        return base
    label = f"{base}/g{group_size}"
    _FORMAT_SIZES[label] = size + SCALE_BYTES / group_size
    return label


def dtype_size(name: str) -> float:
    """Bytes per element of a dtype or storage format ('float32' -> 4, 'int4/g128' -> 0.515625)."""
    if name in _FORMAT_SIZES:
        return _FORMAT_SIZES[name]
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
