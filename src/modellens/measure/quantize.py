"""Quantization preview: round-trip a weight through a storage format and measure the error.

Formats (round to nearest, symmetric, no calibration data: what a weight-only RTN recipe does):
- `int8`: per output channel (row) scale absmax/127, values in [-127, 127].
- `int4`: per group of `group_size` consecutive inputs of a row, scale absmax/7, values in
  [-8, 7] (the group's absmax maps to ±7).
- `nf4`: per group, values scaled by the group absmax and rounded to the nearest of the 16
  NormalFloat4 levels of QLoRA / bitsandbytes.
- `fp8`: float8 e4m3 (torch.float8_e4m3fn) with a per-row scale absmax/448.
Scales are stored as fp16 (2 bytes each), counted in the quantized size.

Error figures: relative Frobenius error ‖W − Q(W)‖_F / ‖W‖_F and SQNR = 10·log10(‖W‖² / ‖W −
Q(W)‖²) dB (= −20·log10 of the relative error). A tensor is handled as a matrix (rows = dim 0,
conv kernels flattened into the row), streamed in row chunks: every scheme here is row-local.

Outliers: per input channel (column) absmax over all rows, against the tensor's std. Channels
above OUTLIER_SIGMAS·σ are the ones an int8 scheme must keep apart (LLM.int8-style mixed
precision), because one of them sets the scale of every row it crosses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..io import JsonRecord

FORMATS = ("int8", "int4", "nf4", "fp8")
DEFAULT_GROUP_SIZE = 128
SCALE_BYTES = 2  # fp16 scales
OUTLIER_SIGMAS = 6.0
MAX_LISTED_CHANNELS = 16
NF4_LEVELS = (-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
              -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
              0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
              0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0)
FP8_MAX = 448.0
_BITS = {"int8": 8, "int4": 4, "nf4": 4, "fp8": 8}


def parse_formats(text: str) -> list[str]:
    """'int8,int4' -> ['int8', 'int4']; ValueError naming the unknown ones."""
    names = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = [f for f in names if f not in FORMATS]
    if unknown or not names:
        raise ValueError(f"unknown quantization format(s) {', '.join(unknown) or '(none)'}; "
                         f"choose from {', '.join(FORMATS)}")
    return list(dict.fromkeys(names))


def _safe(scale: torch.Tensor) -> torch.Tensor:
    return torch.where(scale > 0, scale, torch.ones_like(scale))


def _grouped(x: torch.Tensor, group_size: int) -> tuple[torch.Tensor, int]:
    """Rows of x split into groups of group_size (the last one zero-padded)."""
    cols = x.shape[1]
    pad = (-cols) % group_size
    if pad:
        x = torch.nn.functional.pad(x, (0, pad))
    return x.reshape(x.shape[0], -1, group_size), cols


def round_trip(x: torch.Tensor, fmt: str, group_size: int = DEFAULT_GROUP_SIZE) -> torch.Tensor:
    """Q(x) for a 2-D float32 matrix x: quantize, dequantize, same shape."""
    if fmt == "int8":
        scale = _safe(x.abs().amax(dim=1, keepdim=True) / 127)
        return torch.clamp(torch.round(x / scale), -127, 127) * scale
    if fmt == "fp8":
        scale = _safe(x.abs().amax(dim=1, keepdim=True) / FP8_MAX)
        return (x / scale).to(torch.float8_e4m3fn).to(torch.float32) * scale
    groups, cols = _grouped(x, group_size)
    absmax = _safe(groups.abs().amax(dim=2, keepdim=True))
    if fmt == "int4":
        scale = absmax / 7
        q = torch.clamp(torch.round(groups / scale), -8, 7) * scale
    elif fmt == "nf4":
        levels = torch.tensor(NF4_LEVELS, dtype=x.dtype)
        normed = groups / absmax
        # nearest level: levels are sorted, so search the midpoints
        mids = (levels[1:] + levels[:-1]) / 2
        q = levels[torch.bucketize(normed.contiguous(), mids)] * absmax
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return q.reshape(x.shape[0], -1)[:, :cols]


def quantized_bytes(shape: tuple[int, ...], fmt: str, group_size: int) -> int:
    """Bytes of the quantized tensor: packed values plus fp16 scales."""
    rows = shape[0]
    cols = math.prod(shape[1:])
    values = math.ceil(rows * cols * _BITS[fmt] / 8)
    scales = rows if fmt in ("int8", "fp8") else rows * math.ceil(cols / group_size)
    return values + scales * SCALE_BYTES


@dataclass(frozen=True)
class QuantError(JsonRecord):
    """One tensor round-tripped through one format."""

    name: str
    format: str
    group_size: int | None  # None for the per-row formats (int8, fp8)
    relative_error: float  # ‖W − Q(W)‖_F / ‖W‖_F
    sqnr_db: float  # 10·log10(‖W‖² / ‖W − Q(W)‖²); inf for an exact round trip
    original_bytes: int
    quantized_bytes: int

    @property
    def bytes_saved(self) -> int:
        return self.original_bytes - self.quantized_bytes

    def to_dict(self) -> dict:
        return {**super().to_dict(), "bytes_saved": self.bytes_saved}


@dataclass(frozen=True)
class ChannelOutliers(JsonRecord):
    """Per input channel absmax against the tensor's std."""

    name: str
    channels: int
    std: float
    max_channel_absmax: float
    max_ratio: float  # largest channel absmax / std
    median_ratio: float
    outlier_channels: list[int]  # above OUTLIER_SIGMAS·σ, largest first (at most 16 listed)
    outlier_count: int


class QuantAccumulator:
    """Streams row chunks of one tensor through every format; also gathers channel outliers."""

    def __init__(self, name: str, shape: tuple[int, ...], original_bytes: int,
                 formats: list[str], group_size: int = DEFAULT_GROUP_SIZE) -> None:
        self.name, self.shape, self.original_bytes = name, shape, original_bytes
        self.formats, self.group_size = formats, group_size
        self.norm2 = 0.0
        self.err2 = {fmt: 0.0 for fmt in formats}
        self.sum = 0.0
        self.n = 0
        self.col_absmax: torch.Tensor | None = None

    def update(self, chunk: torch.Tensor) -> None:
        x = chunk.reshape(chunk.shape[0], -1).to(torch.float32)
        self.norm2 += float(torch.sum(x.double() ** 2))
        self.sum += float(x.sum(dtype=torch.float64))
        self.n += x.numel()
        for fmt in self.formats:
            d = round_trip(x, fmt, self.group_size).sub_(x)
            self.err2[fmt] += float(torch.dot(d.reshape(-1), d.reshape(-1)).double())
        col = x.abs().amax(dim=0)
        self.col_absmax = col if self.col_absmax is None else torch.maximum(self.col_absmax, col)

    def errors(self) -> list[QuantError]:
        out = []
        for fmt in self.formats:
            err2 = self.err2[fmt]
            rel = math.sqrt(err2 / self.norm2) if self.norm2 else (0.0 if not err2 else math.inf)
            sqnr = 10 * math.log10(self.norm2 / err2) if err2 else math.inf
            out.append(QuantError(self.name, fmt, None if fmt in ("int8", "fp8")
                                  else self.group_size, rel, sqnr, self.original_bytes,
                                  quantized_bytes(self.shape, fmt, self.group_size)))
        return out

    def outliers(self) -> ChannelOutliers | None:
        if self.col_absmax is None or self.n < 2:
            return None
        mean = self.sum / self.n
        var = max(self.norm2 / self.n - mean * mean, 0.0) * self.n / (self.n - 1)
        std = math.sqrt(var)
        col = self.col_absmax.double()
        if not std:
            return ChannelOutliers(self.name, col.numel(), 0.0, float(col.max()), 0.0, 0.0,
                                   [], 0)
        ratio = col / std
        above = torch.nonzero(ratio > OUTLIER_SIGMAS).reshape(-1)
        order = above[torch.argsort(ratio[above], descending=True)]
        return ChannelOutliers(self.name, col.numel(), std, float(col.max()),
                               float(ratio.max()), float(ratio.median()),
                               [int(i) for i in order[:MAX_LISTED_CHANNELS]], int(above.numel()))
