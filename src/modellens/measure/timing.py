"""Measured timings: warm-up, N repeats, median and spread, per part (a block, or a whole model).

This is one of the two paths that materialize real weights (the other reads checkpoints), so
every part states how much memory it needs and is refused, with a clear error, when the machine
does not have it — never an out-of-memory kill.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ..capture import SampleInputs
from ..errors import ModellensError
from ..io import Progress
from ..units import size

# Headroom kept free beyond a part's own estimate (allocator slack, the Python process, the OS).
SAFETY_FACTOR = 1.25
RESERVE_BYTES = 512 * 2**20
# quantize_dynamic leaves nn.MultiheadAttention's packed in-projection in float.
INT8_METHOD = "torch.ao.quantization.quantize_dynamic: nn.Linear -> dynamic int8 (CPU)"


@dataclass(frozen=True)
class TimingStats:
    """Seconds per call over `repeats` timed calls (after warm-up)."""

    samples_s: tuple[float, ...]

    @property
    def median_s(self) -> float:
        return statistics.median(self.samples_s)

    @property
    def min_s(self) -> float:
        return min(self.samples_s)

    @property
    def max_s(self) -> float:
        return max(self.samples_s)

    @property
    def stdev_s(self) -> float:
        return statistics.stdev(self.samples_s) if len(self.samples_s) > 1 else 0.0

    def to_dict(self) -> dict:
        return {"median_s": self.median_s, "min_s": self.min_s, "max_s": self.max_s,
                "stdev_s": self.stdev_s, "repeats": len(self.samples_s),
                "samples_s": list(self.samples_s)}


@dataclass
class TimedPart:
    """Something to time: built for real on the timing device, `count` copies in the model."""

    name: str
    count: int
    build: Callable[[], nn.Module]
    make_inputs: Callable[[], SampleInputs]
    needed_bytes: int  # estimate: weights, gradients and peak live activations


@dataclass(frozen=True)
class PartTiming:
    name: str
    count: int
    forward: TimingStats
    backward: TimingStats | None  # None: no backward path (int8)

    def to_dict(self) -> dict:
        return {"name": self.name, "count": self.count, "forward": self.forward.to_dict(),
                "backward": self.backward.to_dict() if self.backward else None}


@dataclass
class TimingReport:
    """The seed's estimate (per-block median × number of blocks) and the whole model measured."""

    device: str
    dtype: str
    method: str
    warmup: int
    repeats: int
    blocks: list[PartTiming]
    whole: PartTiming | None
    notes: list[str] = field(default_factory=list)

    @property
    def forward_s(self) -> float:
        return sum(b.count * b.forward.median_s for b in self.blocks)

    @property
    def backward_s(self) -> float | None:
        if any(b.backward is None for b in self.blocks):
            return None
        return sum(b.count * b.backward.median_s for b in self.blocks)

    def to_dict(self) -> dict:
        whole = self.whole
        return {
            "device": self.device, "dtype": self.dtype, "method": self.method,
            "warmup": self.warmup, "repeats": self.repeats,
            "forward_s": self.forward_s, "backward_s": self.backward_s,
            "blocks": [b.to_dict() for b in self.blocks],
            "whole_model": whole.to_dict() if whole else None,
            "whole_over_blocks_forward": (whole.forward.median_s / self.forward_s
                                          if whole and self.forward_s else None),
            "notes": list(self.notes),
        }


def available_bytes(device: torch.device) -> int:
    """Memory a new allocation can use now: free GPU memory, or the smaller of the kernel's
    MemAvailable and this process's cgroup headroom."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    candidates = [_meminfo_available()]
    cgroup = _cgroup_headroom()
    if cgroup is not None:
        candidates.append(cgroup)
    return min(candidates)


def _meminfo_available() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _cgroup_headroom() -> int | None:
    root = Path("/sys/fs/cgroup")
    try:
        limit = (root / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return int(limit) - int((root / "memory.current").read_text())
    except (OSError, ValueError):
        return None


def with_headroom(part: TimedPart) -> int:
    return int(part.needed_bytes * SAFETY_FACTOR) + RESERVE_BYTES


def fits(part: TimedPart, device: torch.device) -> tuple[bool, int]:
    """(whether the part fits with headroom, bytes available)."""
    available = available_bytes(device)
    return with_headroom(part) <= available, available


def check_device(device: str, int8: bool) -> torch.device:
    """The timing device, or a clear error when it cannot time on it."""
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ModellensError(f"unknown device {device!r}; expected cpu or cuda") from None
    if dev.type not in ("cpu", "cuda"):
        raise ModellensError(f"unknown device {device!r}; expected cpu or cuda")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ModellensError("--device cuda: no CUDA device is available here (use --device cpu)")
    if int8 and dev.type != "cpu":
        raise ModellensError("int8 timing uses dynamically quantized nn.Linear, which runs on CPU "
                             "only: use --device cpu, another --dtype, or --no-timing")
    return dev


def time_parts(
    blocks: list[TimedPart],
    whole: TimedPart | None,
    *,
    device: str = "cpu",
    dtype: str = "float32",
    repeats: int = 10,
    warmup: int = 2,
    progress: Progress | None = None,
) -> TimingReport:
    """Time each block part (forward and backward) and, when it fits, the whole model.

    A block that does not fit in memory is an error; the whole model that does not fit is skipped
    with a note (the per-block estimate is the seed's method and needs one block at a time).
    """
    if repeats < 1 or warmup < 0:
        raise ModellensError(f"repeats must be >= 1 and warmup >= 0, got {repeats}, {warmup}")
    int8 = dtype == "int8"
    dev = check_device(device, int8)
    notes: list[str] = []
    for part in blocks:
        ok, available = fits(part, dev)
        if not ok:
            raise ModellensError(
                f"timing one {part.name} on {dev} needs about {size(with_headroom(part))} "
                f"({size(part.needed_bytes)} estimated, plus headroom); {size(available)} is "
                "available. Use --no-timing, a smaller --batch-size, or another device"
            )
    parts = list(blocks)
    if whole is not None:
        ok, available = fits(whole, dev)
        if ok:
            parts.append(whole)
        else:
            notes.append(f"whole model not timed: needs about {size(with_headroom(whole))}, "
                         f"{size(available)} available on {dev}")
    if int8:
        notes.append("int8: only nn.Linear layers are quantized (attention in-projections stay "
                     "float); dynamic int8 has no backward, so backward is not timed")
    steps = len(parts) * (warmup + repeats)
    done = 0

    def step(name: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, steps, f"timing {name}")

    timings = [_time_part(p, dev, int8, repeats, warmup, step) for p in parts]
    method = ("per-block median × number of blocks (encoder and decoder blocks timed "
              "separately), whole model timed once for comparison; forward in eval/no_grad, "
              "backward as autograd backward of a grad-enabled forward")
    return TimingReport(
        device=str(dev), dtype=dtype, method=method + (f"; {INT8_METHOD}" if int8 else ""),
        warmup=warmup, repeats=repeats,
        blocks=timings[: len(blocks)],
        whole=timings[len(blocks)] if len(timings) > len(blocks) else None,
        notes=notes,
    )


def _time_part(part: TimedPart, device: torch.device, int8: bool, repeats: int, warmup: int,
               step: Callable[[str], None]) -> PartTiming:
    with torch.device(device):
        module = part.build().eval()
        inputs = part.make_inputs()
    if int8:
        with warnings.catch_warnings():  # torch deprecates quantized tensors in favour of torchao
            warnings.filterwarnings("ignore", message=".*quantized tensor creation functions")
            module = torch.ao.quantization.quantize_dynamic(module, {nn.Linear}, dtype=torch.qint8)
    forward, backward = [], []
    with _fastpath(enabled=not int8):  # the fused encoder fast path cannot take packed weights
        for i in range(warmup + repeats):
            seconds = _forward_seconds(module, inputs, device)
            if i >= warmup:
                forward.append(seconds)
            if not int8:
                seconds = _backward_seconds(module, inputs, device)
                if i >= warmup:
                    backward.append(seconds)
            step(part.name)
    del module, inputs
    return PartTiming(part.name, part.count, TimingStats(tuple(forward)),
                      TimingStats(tuple(backward)) if backward else None)


@contextlib.contextmanager
def _fastpath(enabled: bool):
    """nn.MultiheadAttention / TransformerEncoderLayer fused inference path on or off, restored
    afterwards."""
    before = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(enabled and before)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(before)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _forward_seconds(module: nn.Module, inputs: SampleInputs, device: torch.device) -> float:
    with torch.no_grad():
        _sync(device)
        started = time.perf_counter()
        module(*inputs.args, **inputs.kwargs)
        _sync(device)
        return time.perf_counter() - started


def _backward_seconds(module: nn.Module, inputs: SampleInputs, device: torch.device) -> float:
    with torch.enable_grad():
        output = module(*inputs.args, **inputs.kwargs)
        grad = torch.ones_like(output)
        _sync(device)
        started = time.perf_counter()
        output.backward(grad)
        _sync(device)
        seconds = time.perf_counter() - started
    module.zero_grad(set_to_none=True)
    for tensor in (*inputs.args, *inputs.kwargs.values()):
        if isinstance(tensor, torch.Tensor):
            tensor.grad = None
    return seconds
