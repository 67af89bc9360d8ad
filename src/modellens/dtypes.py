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
_FORMAT_SIZES: dict[str, float] = {"int4": 0.5, "nf4": 0.5, "fp4": 0.5,
                                   # packed MX element formats of safetensors (F4, F6_*)
                                   "float4_e2m1": 0.5, "float6_e2m3": 0.75, "float6_e3m2": 0.75}
SCALE_BYTES = 2  # one fp16 scale per quantization group


# The storage formats weights and KV caches can be given in (--weight-dtype, --kv-dtype).
STORAGE_FORMATS = ("int8", "uint8", "int4", "nf4", "fp4", "float8_e4m3fn", "float8_e5m2",
                   "bfloat16", "float16", "float32")
_FORMAT_ALIASES = {"fp8": "float8_e4m3fn", "e4m3": "float8_e4m3fn", "e5m2": "float8_e5m2",
                   "bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32"}


def quantized_format(name: str, group_size: int | None = None) -> str:
    """A storage format name for weight quantization, e.g. 'int4/g128': 4-bit values plus one
    fp16 scale per group of 128 (0.5 + 2/128 bytes per weight). Known to `dtype_size`."""
    from .errors import ConfigError

    key = str(name).lower()
    base = _FORMAT_ALIASES.get(key, key)
    if base not in STORAGE_FORMATS:
        raise ConfigError(f"unknown storage format {name!r}; expected one of "
                          f"{', '.join(STORAGE_FORMATS + tuple(_FORMAT_ALIASES))}")
    if group_size is not None and (not isinstance(group_size, int) or group_size < 0):
        raise ConfigError(f"group size must be an integer >= 0, got {group_size!r}")
    size = _FORMAT_SIZES.get(base) or dtype_size(base)
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


def parse_dtype(name: str, *, compute: bool = True) -> torch.dtype:
    """User dtype name ('bf16', 'float32', ...) -> torch.dtype. `compute`: the dtype weights
    and float inputs are cast to and computed in, so a floating-point one (casting a float
    model to int8 cannot run; int8 is a storage format, `quantized_format`)."""
    from .errors import ConfigError

    try:
        dtype = _DTYPE_BY_NAME[str(name).lower()]
    except KeyError:
        known = ", ".join(n for n, d in _DTYPE_BY_NAME.items() if d.is_floating_point or not compute)
        raise ConfigError(f"unknown dtype {name!r}; expected one of: {known}") from None
    if compute and not dtype.is_floating_point:
        raise ConfigError(f"dtype {name!r} is not a compute dtype: a float model cast to it "
                          "cannot run; use a float dtype (float32, bf16, fp16), or int8 as a "
                          "storage format (`llm --weight-dtype int8 --kv-dtype int8`)")
    return dtype
