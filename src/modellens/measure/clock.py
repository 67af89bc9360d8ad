"""Timing one callable on a device: warm-up, adaptive repeats, median and spread.

Calls are timed in blocks long enough for the clock (`BLOCK_S`), so a 2 µs op is timed as the
mean of a block of calls, and the median over `blocks` such blocks is reported; on CUDA the
device is synchronized around each block, so kernel time is included. This is what
`torch.utils.benchmark`'s blocked autorange does, with a fixed budget per call.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable

import torch

BLOCK_S = 2e-4  # a block of calls lasts at least this long
WARMUP_S = 0.01  # warm-up time (allocator, caches, lazy init) before measuring
BLOCKS = 7


@dataclass(frozen=True)
class Measurement:
    """Seconds per call: median over blocks, and the spread of block means."""

    median_s: float
    min_s: float
    max_s: float
    calls: int  # calls timed in all

    @property
    def spread(self) -> float:
        """(max − min) / median of the block means."""
        return (self.max_s - self.min_s) / self.median_s if self.median_s else 0.0


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(fn: Callable[[], object], device: torch.device, *, blocks: int = BLOCKS,
            max_s: float = 1.0) -> Measurement:
    """Time `fn()`; at most about `max_s` seconds are spent on one callable (slow calls get
    fewer blocks, down to 3 single calls)."""
    first = _block(fn, device, 1)
    size = max(1, int(BLOCK_S / first)) if first > 0 else 1000
    warmup_until = time.perf_counter() + min(WARMUP_S, max_s / 10)
    while time.perf_counter() < warmup_until:
        _block(fn, device, size)
    blocks = max(3, min(blocks, int(max_s / max(first * size, 1e-9))))
    means = [_block(fn, device, size) / size for _ in range(blocks)]
    return Measurement(statistics.median(means), min(means), max(means), blocks * size)


def _block(fn: Callable[[], object], device: torch.device, calls: int) -> float:
    synchronize(device)
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    synchronize(device)
    return time.perf_counter() - started
