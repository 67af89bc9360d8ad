"""Dtype names, user dtype parsing and storage formats (int4 + scales, fp8, ...)."""

from __future__ import annotations

import functools

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
