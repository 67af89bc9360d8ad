"""Peak memory of one training step, from the liveness of the captured forward + backward.

A step is: forward, backward (seeded with ones, as the capture does), optimizer step, gradients
set to None. In steady state (after the first step) the weights, the inputs and the optimizer
state are alive throughout. A tensor an op creates is alive from that op to the last op that
reads it (forward tensors saved for backward stay until backward reads them); the gradients the
backward leaves in `.grad`, the backward seeds and the model outputs stay to the end of the
step. The peak is the larger of the forward/backward peak and the optimizer step (every
gradient, plus the step's temporaries).

Optimizer state (fp32, per trainable parameter): none/sgd 0 B, sgd-momentum 4 B, adam/adamw
8 B (Adam's per-tensor `step` counters, 4 B each, are left out). With a 16-bit capture
(`--dtype bf16/fp16`) training is taken as mixed precision: 16-bit weights and gradients, plus
fp32 master weights (4 B per parameter) in the optimizer state. Step temporaries: torch's
for-loop Adam on CPU holds two temporaries the size of the largest parameter
(`exp_avg_sq.sqrt() / bias_correction`); its foreach implementation (the default on CUDA) holds
one the size of all parameters; SGD updates in place.

Activation checkpointing (`torch.utils.checkpoint` per block): a block's forward keeps nothing
for backward but its input; when the backward reaches the block (its first backward op that
reads a tensor saved inside it) the block's forward is recomputed, keeping its saved tensors
until its backward has read them. Blocks: the outermost repeated children of a container
(`nn.Sequential` / `nn.ModuleList`): ResNet's BasicBlock/Bottleneck, a transformer's layers.

On a CUDA GPU two lines are added: the caching allocator's rounding (every allocation in
512-byte blocks; allocations in 2 MiB segments, an estimate since reuse of cached segments is
not modelled) and the CUDA context, which the allocator does not count.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..capture import BACKWARD, FORWARD
from ..costing.registry import VIEW
from ..errors import ConfigError
from ..io import JsonRecord

if TYPE_CHECKING:
    from ..capture import Capture
    from .core import Analysis

OPTIMIZERS = ("none", "sgd", "sgd-momentum", "adam", "adamw")
STATE_BYTES_PER_PARAM = {"none": 0, "sgd": 0, "sgd-momentum": 4, "adam": 8, "adamw": 8}
MASTER_BYTES_PER_PARAM = 4  # fp32 master weights in mixed precision
FP32_BYTES = 4
# The CUDA caching allocator (c10/cuda/CUDACachingAllocator.cpp: kMinBlockSize, kSmallSize,
# kSmallBuffer, kMinLargeAlloc, kLargeBuffer, kRoundLarge): every allocation is rounded up to
# 512 B; up to 1 MiB they share 2 MiB segments, under 10 MiB 20 MiB ones, larger ones get a
# segment of their size rounded up to 2 MiB.
BLOCK_BYTES = 512
SMALL_ALLOCATION_BYTES = 2**20
SEGMENT_BYTES = 2 * 2**20
MIN_LARGE_ALLOCATION_BYTES = 10 * 2**20
LARGE_SEGMENT_BYTES = 20 * 2**20
# The CUDA context (driver state, kernels of torch's libraries) is outside the caching
# allocator: 300-500 MiB on recent GPUs with lazy module loading (CUDA >= 11.7), read as
# `torch.cuda.mem_get_info` used minus `torch.cuda.memory_reserved` after initialisation.
# Taken as the middle of that range; it is not measured here.
CUDA_CONTEXT_BYTES = 400 * 2**20

ACTIVATIONS, BACKWARD_TEMPS, GRADIENTS, SEEDS, OUTPUTS = (
    "activations", "backward", "gradients", "seeds", "outputs")


@dataclass(frozen=True)
class MemoryLine(JsonRecord):
    name: str
    bytes: int
    note: str = ""


@dataclass(frozen=True)
class TrainingPeak(JsonRecord):
    peak_bytes: int  # the sum of `lines`
    at: str  # "backward" or "optimizer step": where the peak falls
    optimizer: str
    mixed_precision: bool
    activation_checkpointing: bool
    lines: list[MemoryLine] = field(default_factory=list)
    checkpointed_blocks: list[str] = field(default_factory=list)

    def line(self, name: str) -> int:
        """Bytes of the line called `name` (0 when there is none)."""
        return sum(line.bytes for line in self.lines if line.name == name)


def training_peak(analysis: Analysis, optimizer: str = "none",
                  activation_checkpointing: bool = False, gpu: bool = False) -> TrainingPeak:
    """The peak bytes of a steady-state training step of a forward+backward capture, as a
    breakdown (see the module docstring)."""
    if optimizer not in STATE_BYTES_PER_PARAM:
        raise ConfigError(f"unknown optimizer {optimizer!r}; expected one of "
                          f"{', '.join(OPTIMIZERS)}")
    capture = analysis.capture
    if not capture.backward:
        raise ConfigError("training memory needs a capture with the backward pass (--backward)")
    blocks = checkpoint_blocks(capture) if activation_checkpointing else []
    intervals = _intervals(analysis, blocks)
    trainable = [p for p in capture.params if p.requires_grad]
    weights = [p.nbytes for p in capture.params]
    inputs = [spec.nbytes for spec in _unique_specs(spec for _, spec in capture.inputs)]
    mixed = any(_itemsize(p.nbytes, p.numel) < FP32_BYTES for p in trainable)
    per_param = STATE_BYTES_PER_PARAM[optimizer] + (MASTER_BYTES_PER_PARAM if mixed else 0)
    states = [p.numel * per_param for p in trainable] if per_param else []
    temps = _step_temporaries(optimizer, [p.numel for p in trainable], foreach=gpu)

    end = max((iv.stop for iv in intervals), default=0)

    def sizes(round_up) -> tuple[dict[str, int], dict[str, int], str, list[int]]:
        """Fixed bytes, bytes by kind at the peak, where it is, and the sizes alive there."""
        fixed = {"weights": sum(map(round_up, weights)), "inputs": sum(map(round_up, inputs)),
                 "optimizer": sum(map(round_up, states))}
        t = _peak_time(intervals, round_up)
        alive = [iv for iv in intervals if iv.start <= t < iv.stop]
        kept = [iv for iv in intervals if iv.stop >= end]  # gradients, seeds, outputs
        live = _by_kind(alive, round_up)
        step = {GRADIENTS: _by_kind(kept, round_up).get(GRADIENTS, 0),
                OUTPUTS: _by_kind(kept, round_up).get(OUTPUTS, 0),
                "step": sum(map(round_up, temps))}
        tensors = weights + inputs + states
        if sum(step.values()) > sum(live.values()):
            tensors += [iv.nbytes for iv in kept if iv.kind in (GRADIENTS, OUTPUTS)] + temps
            return fixed, step, "optimizer step", tensors
        return fixed, live, "backward", tensors + [iv.nbytes for iv in alive]

    fixed, live, at, alive_sizes = sizes(lambda n: n)
    lines = [
        MemoryLine("weights", fixed["weights"], "parameters + buffers"),
        MemoryLine("inputs", fixed["inputs"]),
        MemoryLine("optimizer state", fixed["optimizer"],
                   f"{optimizer}: {per_param} B/param fp32" + (" incl. master weights"
                                                              if mixed else "")),
        MemoryLine("gradients", live.get(GRADIENTS, 0), "alive at the peak"),
        MemoryLine("activations saved for backward", live.get(ACTIVATIONS, 0),
                   "forward tensors alive at the peak" + (", recomputed per block"
                                                          if blocks else "")),
        MemoryLine("backward temporaries", live.get(BACKWARD_TEMPS, 0) + live.get(SEEDS, 0),
                   "incl. the backward seeds"),
        MemoryLine("model outputs", live.get(OUTPUTS, 0)),
        MemoryLine("optimizer step temporaries", live.get("step", 0),
                   "foreach" if gpu else "for-loop (CPU)"),
    ]
    if gpu:
        raw = sum(line.bytes for line in lines)
        fixed_b, live_b, _, _ = sizes(_round_block)
        blocks_total = sum(fixed_b.values()) + sum(live_b.values())
        segments = _segment_overhead(alive_sizes)
        lines += [
            MemoryLine("CUDA allocator block rounding", blocks_total - raw,
                       f"every allocation rounded up to {BLOCK_BYTES} B"),
            MemoryLine("CUDA allocator segment rounding", segments,
                       "2/20 MiB segments packed tightly: a lower estimate"),
            MemoryLine("CUDA context", CUDA_CONTEXT_BYTES, "estimate, 300-500 MiB"),
        ]
    return TrainingPeak(
        peak_bytes=sum(line.bytes for line in lines), at=at, optimizer=optimizer,
        mixed_precision=mixed, activation_checkpointing=activation_checkpointing,
        lines=lines, checkpointed_blocks=_describe_blocks(capture, blocks),
    )


def checkpoint_blocks(capture: Capture) -> list[str]:
    """Paths of the modules activation checkpointing wraps: in each container (`Sequential`,
    `ModuleList`) not inside a block already, the children of its most repeated class (two or
    more; a class with children of its own first), called in the forward."""
    modules = capture.modules
    children: dict[str, list[str]] = {}
    for path, record in modules.items():
        if record.parent is not None:
            children.setdefault(record.parent, []).append(path)
    picked: list[str] = []
    for path, record in modules.items():  # tree order: outer containers first
        if record.class_name not in ("Sequential", "ModuleList") or _block(path, picked):
            continue
        kids = [k for k in children.get(path, []) if modules[k].calls]
        counts = Counter(modules[k].class_name for k in kids)
        composite = {modules[k].class_name for k in kids if children.get(k)}
        best = max(counts, key=lambda c: (c in composite, counts[c]), default=None)
        if best is not None and counts[best] >= 2:
            picked += [k for k in kids if modules[k].class_name == best]
    return picked


def _describe_blocks(capture: Capture, blocks: list[str]) -> list[str]:
    counts = Counter(capture.modules[path].class_name for path in blocks)
    return [f"{n} × {name}" for name, n in counts.items()]


@dataclass(frozen=True)
class _Interval:
    start: int
    stop: int  # exclusive
    nbytes: int
    kind: str


def _intervals(analysis: Analysis, blocks: list[str]) -> list[_Interval]:
    """Lifetimes of every tensor a training step creates, on a timeline of the forward ops
    then the backward ops, each checkpointed block's forward recomputed before its backward."""
    capture = analysis.capture
    pairs = list(analysis.items())
    block_of = [_block(op.module, blocks) if op.phase == FORWARD else None for op, _ in pairs]
    internal = _block_internal(pairs, block_of)
    # the timeline: (op index, recomputed?)
    timeline = [(i, False) for i, (op, _) in enumerate(pairs) if op.phase == FORWARD]
    last_needed = _last_needed_op(pairs, block_of, blocks)
    made_in_backward = {spec.storage for op, _ in pairs if op.phase == BACKWARD
                        for spec in op.outputs}
    recomputed: set[str] = set()
    for i, (op, _) in enumerate(pairs):
        if op.phase != BACKWARD:
            continue
        # a block is recomputed when its backward first reads a tensor saved in the forward
        # (torch's checkpoint unpacks one), or at the latest a tensor made inside it
        own = _block(op.module, blocks)
        triggers = [own] if own and any(spec.storage not in made_in_backward
                                        for spec in op.inputs) else []
        triggers += [internal[spec.storage] for spec in op.inputs if spec.storage in internal]
        for block in triggers:
            if block not in recomputed:
                recomputed.add(block)
                timeline += [(j, True) for j, b in enumerate(block_of)
                             if b == block and j <= last_needed.get(block, j)]
        timeline.append((i, False))
    groups = capture.storage_groups
    stolen = _stolen_gradients(pairs, groups)
    sources = set(stolen.values())
    created: dict[tuple, tuple[int, int, str]] = {}  # key -> (start, bytes, kind)
    last_use: dict[tuple, int] = {}
    for t, (i, again) in enumerate(timeline):
        op, cost = pairs[i]
        block = block_of[i]

        def key(storage: int, output: bool) -> tuple:
            storage = stolen.get(storage, storage)
            owner = internal.get(storage)
            if owner is not None and (again or op.phase == BACKWARD):
                return (storage, "recomputed")
            if again and output and block is not None:
                return (storage, "discarded", t)  # a boundary tensor made again, unused
            return (storage,)

        for spec in op.inputs:
            last_use[key(spec.storage, False)] = t
        for spec in op.outputs:
            k = key(spec.storage, True)
            if cost.category != VIEW and k not in last_use:
                kind = "grads" if spec.storage in sources else groups.get(spec.storage, "")
                kind = {"grads": GRADIENTS, "backward_seeds": SEEDS}.get(
                    kind, ACTIVATIONS if op.phase == FORWARD else BACKWARD_TEMPS)
                created[k] = (t, spec.nbytes, kind)
            last_use[k] = t
    end = len(timeline)
    outputs = {spec.storage for spec in capture.outputs}
    result = []
    for k, (start, size, kind) in created.items():
        stop = last_use.get(k, start) + 1
        if kind in (GRADIENTS, SEEDS):
            stop = end
        elif k[0] in outputs and len(k) == 1:
            stop, kind = end, OUTPUTS
        result.append(_Interval(start, stop, size, kind))
    return result


def _stolen_gradients(pairs, groups: dict[int, str]) -> dict[int, int]:
    """gradient storage -> the backward tensor it was copied from, where autograd's
    AccumulateGrad would take that tensor itself: on fake tensors (which the capture keeps
    referenced) it copies every gradient it cannot prove unshared, while a real run steals
    a gradient that nothing else reads (torch.autograd's `accumulateGrad`)."""
    made_in_backward: set[int] = set()
    last_read: dict[int, int] = {}
    for i, (op, _) in enumerate(pairs):
        for spec in op.inputs:
            last_read[spec.storage] = i
    stolen: dict[int, int] = {}
    for i, (op, _) in enumerate(pairs):
        if op.phase != BACKWARD:
            continue
        if op.name == "aten.copy_.default" and len(op.inputs) == 2:
            dst, src = op.inputs
            if (groups.get(dst.storage) == "grads" and src.storage in made_in_backward
                    and groups.get(src.storage) is None and dst.nbytes == src.nbytes
                    and last_read.get(src.storage) == i and dst.storage not in stolen):
                stolen[dst.storage] = src.storage
        made_in_backward.update(spec.storage for spec in op.outputs)
    return stolen


def _block(module: str, blocks: list[str]) -> str | None:
    for block in blocks:
        if module == block or module.startswith(block + "."):
            return block
    return None


def _block_internal(pairs, block_of: list[str | None]) -> dict[int, str]:
    """storage -> block, for tensors made inside a checkpointed block and read by no forward
    op outside it (not its output): these are dropped by the forward and recomputed."""
    made: dict[int, str] = {}
    seen: set[int] = set()
    for (op, cost), block in zip(pairs, block_of):
        if op.phase != FORWARD:
            continue
        for spec in op.inputs:
            owner = made.get(spec.storage)
            if owner is not None and owner != block:
                made[spec.storage] = ""  # crosses the block boundary: kept
            seen.add(spec.storage)
        for spec in op.outputs:
            if block is not None and spec.storage not in seen and cost.category != VIEW:
                made.setdefault(spec.storage, block)
            seen.add(spec.storage)
    return {s: b for s, b in made.items() if b}


def _last_needed_op(pairs, block_of: list[str | None], blocks: list[str]) -> dict[str, int]:
    """block -> index of the last forward op its recomputation runs: the last whose output
    the block's own backward ops read (it or a later op of the block saved it). torch's
    checkpoint stops there (early stopping): a later op saves only its inputs, which it does
    before computing its output."""
    read: set[tuple[int, str]] = set()
    for op, _ in pairs:
        block = _block(op.module, blocks) if op.phase == BACKWARD else None
        if block is not None:
            read.update((spec.storage, block) for spec in op.inputs)
    last: dict[str, int] = {}
    for i, ((op, _), block) in enumerate(zip(pairs, block_of)):
        if block is not None and any((spec.storage, block) in read for spec in op.outputs):
            last[block] = i
    return last


def _peak_time(intervals: list[_Interval], round_up) -> int:
    """The first point of the timeline where the live bytes are highest."""
    delta: Counter[int] = Counter()
    for iv in intervals:
        size = round_up(iv.nbytes)
        delta[iv.start] += size
        delta[iv.stop] -= size
    live, best, when = 0, -1, 0
    for t in sorted(delta):
        live += delta[t]
        if live > best:
            best, when = live, t
    return when


def _by_kind(intervals: list[_Interval], round_up) -> dict[str, int]:
    total: Counter[str] = Counter()
    for iv in intervals:
        total[iv.kind] += round_up(iv.nbytes)
    return dict(total)


def _step_temporaries(optimizer: str, numels: list[int], foreach: bool) -> list[int]:
    """Sizes of the temporaries alive at once in the optimizer step (fp32)."""
    if optimizer not in ("adam", "adamw") or not numels:
        return []
    if foreach:
        return [n * FP32_BYTES for n in numels]
    return [max(numels) * FP32_BYTES] * 2


def _segment_overhead(sizes: list[int]) -> int:
    """Segment rounding of the allocations alive at the peak, packed as tightly as the CUDA
    caching allocator's segments allow: small ones (<= 1 MiB) into 2 MiB segments, those
    under 10 MiB into 20 MiB segments, larger ones each in its own 2 MiB multiple."""
    rounded = [_round_block(n) for n in sizes]
    small = sum(n for n in rounded if n <= SMALL_ALLOCATION_BYTES)
    medium = sum(n for n in rounded if SMALL_ALLOCATION_BYTES < n < MIN_LARGE_ALLOCATION_BYTES)
    large = [n for n in rounded if n >= MIN_LARGE_ALLOCATION_BYTES]
    return (_round_to(small, SEGMENT_BYTES) - small
            + _round_to(medium, LARGE_SEGMENT_BYTES) - medium
            + sum(_round_to(n, SEGMENT_BYTES) - n for n in large))


def _round_block(nbytes: int) -> int:
    return _round_to(max(nbytes, 1), BLOCK_BYTES) if nbytes else 0


def _round_to(n: int, multiple: int) -> int:
    return math.ceil(n / multiple) * multiple


def _itemsize(nbytes: int, numel: int) -> float:
    return nbytes / numel if numel else FP32_BYTES


def _unique_specs(specs):
    seen = {}
    for spec in specs:
        seen.setdefault(spec.storage, spec)
    return list(seen.values())
