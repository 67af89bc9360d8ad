"""Streaming weight statistics: one tensor at a time, in bounded float64 chunks.

A tensor arrives as an iterable of chunks (row slices of a memory-mapped checkpoint, or views of
an in-memory tensor); each chunk is copied to float64 in pieces of at most `chunk_elements`
elements, into a few reused buffers, so the extra memory is a few times `8 * chunk_elements`
bytes whatever the tensor's size. Moments are merged with the pairwise formulas of Chan et al.
and Pébay (2008), which stay accurate where a naive sum of squares would cancel.

Conventions: `std` is the unbiased sample standard deviation (torch's default, correction=1);
`kurtosis` is the excess (Fisher) kurtosis, 0 for a Gaussian, -1.2 for a uniform, large for
weights with outlier values; moments, min and max cover the finite values, NaN and ±Inf are
counted separately.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Iterator

import torch

from ..io import JsonRecord

CHUNK_ELEMENTS = 1 << 20  # 8 MiB of float64 per piece
_NATIVE_MINMAX = (torch.float16, torch.bfloat16, torch.float32)


@dataclass(frozen=True)
class TensorStats(JsonRecord):
    """Statistics of one tensor's values."""

    numel: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    absmax: float | None
    l2_norm: float | None
    zero_fraction: float | None
    kurtosis: float | None
    skewness: float | None
    nan_count: int = 0
    inf_count: int = 0



class Float64Pieces:
    """Flat float64 copies of a tensor, `chunk_elements` at a time, in reused buffers: each
    piece overwrites the last, so memory stays flat and no chunk pays for fresh pages."""

    def __init__(self, chunk_elements: int = CHUNK_ELEMENTS) -> None:
        self.chunk_elements = chunk_elements
        self.buffers: dict[str, torch.Tensor] = {}

    def buffer(self, slot: str, n: int) -> torch.Tensor:
        """A float64 scratch vector of length n (n <= chunk_elements), kept per slot."""
        buf = self.buffers.get(slot)
        if buf is None or buf.numel() < n:
            buf = self.buffers[slot] = torch.empty(n, dtype=torch.float64)
        return buf[:n]

    def __call__(self, values: torch.Tensor, slot: str = "x") -> Iterator[torch.Tensor]:
        """`values` flattened, as float64 pieces of at most `chunk_elements` (valid until the
        next piece of the same slot)."""
        return (x for _, x in self.pairs(values, slot))

    def pairs(self, values: torch.Tensor,
              slot: str = "x") -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(the piece in its own dtype, its float64 copy), piece by piece."""
        flat = values.reshape(-1)
        for start in range(0, flat.numel(), self.chunk_elements):
            piece = flat[start:start + self.chunk_elements]
            yield piece, self.buffer(slot, piece.numel()).copy_(piece)


class StatsAccumulator:
    """Running count, mean and central moments M2..M4, min, max, zeros, NaN and Inf counts."""

    def __init__(self, chunk_elements: int = CHUNK_ELEMENTS) -> None:
        self.pieces = Float64Pieces(chunk_elements)
        self.numel = self.n = self.zeros = self.nans = self.infs = 0
        self.mean = self.m2 = self.m3 = self.m4 = 0.0
        self.min = math.inf
        self.max = -math.inf

    def update(self, values: torch.Tensor) -> None:
        """Add every element of `values` (any shape, any real dtype)."""
        for native, x in self.pieces.pairs(values):
            self.numel += x.numel()
            self.zeros += x.numel() - int(torch.count_nonzero(x))  # NaN and Inf are nonzero
            # min/max read the narrow original (exact, 2-3x cheaper than the float64 copy)
            lo, hi = (float(v) for v in torch.aminmax(native if native.dtype in _NATIVE_MINMAX
                                                       else x))
            if not (math.isfinite(lo) and math.isfinite(hi)):  # NaN propagates into min/max
                nan, inf = torch.isnan(x), torch.isinf(x)
                self.nans += int(nan.sum())
                self.infs += int(inf.sum())
                x = x[~(nan | inf)]
                if not x.numel():
                    continue
                lo, hi = (float(v) for v in torch.aminmax(x))
            self.min, self.max = min(self.min, lo), max(self.max, hi)
            self._merge(x)

    def _merge(self, x: torch.Tensor) -> None:
        nb = x.numel()
        mean_b = float(x.mean())
        d = torch.sub(x, mean_b, out=self.pieces.buffer("d", nb))
        d2 = torch.mul(d, d, out=self.pieces.buffer("d2", nb))
        m2_b, m3_b, m4_b = float(d2.sum()), float(torch.dot(d2, d)), float(torch.dot(d2, d2))
        na, n = self.n, self.n + nb
        delta = mean_b - self.mean
        ma2, ma3 = self.m2, self.m3
        self.m4 += (m4_b + delta**4 * na * nb * (na * na - na * nb + nb * nb) / n**3
                    + 6 * delta**2 * (na * na * m2_b + nb * nb * ma2) / n**2
                    + 4 * delta * (na * m3_b - nb * ma3) / n)
        self.m3 += (m3_b + delta**3 * na * nb * (na - nb) / n**2
                    + 3 * delta * (na * m2_b - nb * ma2) / n)
        self.m2 += m2_b + delta**2 * na * nb / n
        self.mean += delta * nb / n
        self.n = n

    def result(self) -> TensorStats:
        n = self.n
        if not n:
            return TensorStats(self.numel, None, None, None, None, None, None, None, None, None,
                               self.nans, self.infs)
        shape_defined = self.m2 > 0
        return TensorStats(
            numel=self.numel,
            mean=self.mean,
            std=math.sqrt(self.m2 / (n - 1)) if n > 1 else None,
            min=self.min,
            max=self.max,
            absmax=max(abs(self.min), abs(self.max)),
            l2_norm=math.sqrt(self.m2 + n * self.mean**2),
            zero_fraction=self.zeros / n,
            kurtosis=n * self.m4 / self.m2**2 - 3 if shape_defined else None,
            skewness=math.sqrt(n) * self.m3 / self.m2**1.5 if shape_defined else None,
            nan_count=self.nans,
            inf_count=self.infs,
        )


def tensor_stats(chunks: Iterable[torch.Tensor],
                 chunk_elements: int = CHUNK_ELEMENTS) -> TensorStats:
    """Statistics of the tensor made of `chunks` (any split; the result does not depend on it)."""
    acc = StatsAccumulator(chunk_elements)
    for chunk in chunks:
        acc.update(chunk)
    return acc.result()


@dataclass(frozen=True)
class Histogram:
    """Counts of the finite values in `bins` equal bins over [lo, hi]."""

    lo: float
    hi: float
    counts: list[int]

    @property
    def edges(self) -> list[float]:
        step = (self.hi - self.lo) / len(self.counts)
        return [self.lo + i * step for i in range(len(self.counts) + 1)]


def histogram(chunks: Iterable[torch.Tensor], lo: float, hi: float, bins: int = 60,
              chunk_elements: int = CHUNK_ELEMENTS) -> Histogram:
    """Histogram of the finite values (range from a previous `tensor_stats` pass)."""
    if hi <= lo:  # a constant tensor: one bin around its value
        lo, hi = lo - 0.5, hi + 0.5
    counts = torch.zeros(bins, dtype=torch.float64)
    pieces = Float64Pieces(chunk_elements)
    for chunk in chunks:
        for x in pieces(chunk):
            counts += torch.histc(x[torch.isfinite(x)], bins=bins, min=lo, max=hi)
    return Histogram(lo, hi, [int(c) for c in counts.tolist()])


@dataclass(frozen=True)
class DiffStats(JsonRecord):
    """How tensor B differs from tensor A (same shape)."""

    relative_change: float  # ||B - A|| / ||A||; inf if A is all zeros and B is not
    cosine: float | None  # <A, B> / (||A|| ||B||); None if either is all zeros
    max_abs_diff: float
    l2_a: float
    l2_b: float
    l2_diff: float



def diff_stats(pairs: Iterable[tuple[torch.Tensor, torch.Tensor]],
               chunk_elements: int = CHUNK_ELEMENTS) -> DiffStats:
    """Relative L2 change, cosine similarity and max |B - A| over aligned chunk pairs.
    NaN anywhere makes every figure NaN: such tensors are flagged, not silently compared."""
    dot = aa = bb = dd = max_abs = 0.0
    pieces = Float64Pieces(chunk_elements)
    for chunk_a, chunk_b in pairs:
        for a, b in zip(pieces(chunk_a, "a"), pieces(chunk_b, "b")):
            d = torch.sub(b, a, out=pieces.buffer("d", a.numel()))
            dot += float(torch.dot(a, b))
            aa += float(torch.dot(a, a))
            bb += float(torch.dot(b, b))
            dd += float(torch.dot(d, d))
            max_abs = max(max_abs, float(torch.linalg.vector_norm(d, math.inf)))
    l2_a, l2_b, l2_d = math.sqrt(aa), math.sqrt(bb), math.sqrt(dd)
    if math.isnan(dd):
        relative = max_abs = math.nan
    elif l2_a:
        relative = l2_d / l2_a
    else:
        relative = math.inf if l2_d else 0.0
    cosine = dot / (l2_a * l2_b) if l2_a and l2_b else None
    return DiffStats(relative, cosine, max_abs, l2_a, l2_b, l2_d)
