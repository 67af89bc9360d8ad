"""`profile()`: spec -> source -> model on meta -> one capture -> Analysis -> ProfileResult."""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Sequence

from ..analysis.attention import check_convention
from ..analysis.flops import UnsupportedOp, looks_like_matmul
from ..analysis.results import ChipBottleneck, OpRow, ProfileResult
from ..analysis.training_peak import OPTIMIZERS
from ..capture import BACKWARD, Capture, gc_paused
from ..dtypes import parse_dtype
from ..errors import ConfigError
from ..hardware import Chip
from ..sources import ModelLike, resolve
from .pipeline import Captured, Hardware, capture_source, resolve_chips


def profile(
    model: ModelLike,
    inputs: Any = None,
    *,
    batch_size: int = 1,
    seq_len: int | None = None,
    image_size: int | None = None,
    dtype: str | None = None,
    backward: bool = False,
    hardware: Hardware = None,
    task: str = "auto",
    name: str | None = None,
    replay_blocks: bool = True,
    run_hooks: bool = False,
    allow_longer: bool = False,
    time_model: str = "calibrated",
    input_grad: bool = False,
    trust_remote_code: bool = False,
    attention_flops: str = "full",
    optimizer: str | None = None,
    activation_checkpointing: bool = False,
) -> ProfileResult:
    """Profile a model: params, FLOPs/MACs, memory, roofline bottleneck on `hardware`.

    `model` is a spec string ("gpt2", "tv:resnet50", "file.py::fn", ...) or an nn.Module with
    `inputs` (a tensor, tuple, dict, or a function returning one). `inputs` may also be a
    "file.py::fn" reference for a file-based model. `hardware` is a chip name, YAML file or
    Chip, or a list of them: the first is the result's chip, every one is timed (see
    `ProfileResult.roofline`) under its calibrated time model where it has one (A100, H100, a
    `hardware --measure` YAML); `time_model="roofline"` times on the plain roofline, which
    `bottleneck.roofline_time_s` always shows as the lower bound. `replay_blocks=False` runs every repeated block instead of
    capturing one and replaying it (see `modellens.capture.replay`).
    The model's own forward/backward hooks (and global module hooks) are not called during the
    capture, which runs on fake tensors; `run_hooks=True` calls them. `allow_longer=True`
    profiles a `seq_len` beyond the model's positions (said in the input description).
    With `backward`, inputs given with `requires_grad=True` get their gradient (the first
    layer's grad-input, as torch's FlopCounterMode counts it); `input_grad=True` asks it for
    every floating input (a spec's images, embeddings).
    `trust_remote_code=True` lets a Hugging Face model that names its own code run it.
    `attention_flops="causal"` counts causal self-attention over the (query, key) pairs its
    mask keeps instead of torch's full S×S (see `modellens.analysis.attention`).
    With the backward, `memory.training_peak_bytes` is a training step's peak (breakdown in
    `memory.training`): `optimizer` (none, sgd, sgd-momentum, adam, adamw) adds its state,
    `activation_checkpointing` recomputes each repeated block; either implies `backward`. On an
    NVIDIA `hardware` the CUDA allocator's rounding and context are added as lines.
    """
    started = time.perf_counter()
    if dtype:
        parse_dtype(dtype)  # refused before any work
    check_convention(attention_flops)
    if optimizer is not None and optimizer not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {optimizer!r}; expected one of "
                          f"{', '.join(OPTIMIZERS)}")
    backward = backward or optimizer is not None or activation_checkpointing
    chips = resolve_chips(hardware, time_model)
    source = resolve(model, inputs, batch_size=batch_size, seq_len=seq_len,
                     image_size=image_size, task=task, name=name, allow_longer=allow_longer,
                     trust_remote_code=trust_remote_code)
    gpu = hardware is not None and chips[0].vendor == "NVIDIA"
    with gc_paused():  # see capture.gc_paused: a deep model's analysis allocates per op too
        captured = capture_source(source, backward=backward, dtype=dtype,
                                  replay_blocks=replay_blocks, run_hooks=run_hooks,
                                  input_grad=input_grad, attention=attention_flops)
        result = analyze(captured, chips, optimizer=optimizer or "none",
                         activation_checkpointing=activation_checkpointing, gpu=gpu)
    result.timings = {**captured.seconds, "total_s": time.perf_counter() - started}
    result.settings.update(batch_size=batch_size, seq_len=seq_len, image_size=image_size,
                           dtype=dtype, backward=backward, task=task,
                           attention_flops=attention_flops)
    if allow_longer:
        result.settings["allow_longer"] = True
    if input_grad:
        result.settings["input_grad"] = True
    if backward:
        result.settings.update(optimizer=optimizer or "none",
                               activation_checkpointing=activation_checkpointing)
    return result


def analyze(captured: Captured, chips: Sequence[Chip] | None = None, *,
            optimizer: str = "none", activation_checkpointing: bool = False,
            gpu: bool = False) -> ProfileResult:
    """Every profile view of one capture; timed on each of `chips` (default: the default
    chip), the first being the result's chip. A backward capture gets its training peak
    (`Analysis.training_peak` under these options) in `memory`."""
    chips = list(chips) if chips else resolve_chips(None)
    analysis, cap = captured.analysis, captured.capture
    per_chip = [_chip_bottleneck(captured, chip) for chip in chips]
    unsupported = analysis.unsupported_ops()
    moe_config = captured.source.metadata.get("moe")
    memory = analysis.memory()
    if cap.backward:
        peak = analysis.training_peak(optimizer, activation_checkpointing, gpu)
        memory = dataclasses.replace(memory, training_peak_bytes=peak.peak_bytes, training=peak)
    return ProfileResult(
        model=captured.source.name,
        model_class=cap.model_class,
        source=captured.source.kind,
        capture_method=cap.method,
        input_description=_ran_at(cap, captured.source.input_description,
                                  captured.source.metadata.get("ran_at")),
        inputs=[{"name": n, **s.to_dict()} for n, s in cap.inputs],
        settings={"metadata": captured.source.metadata},
        params=analysis.params(),
        flops=analysis.totals(),
        memory=memory,
        hardware=chips[0],
        bottleneck=per_chip[0].bottleneck,
        backward_bottleneck=per_chip[0].backward_bottleneck,
        modules=analysis.by_module(),
        ops=[OpRow(*timed) for timed in analysis.timed_ops(chips[0])],
        operators=analysis.by_operator(),
        unsupported=unsupported,
        moe=analysis.moe(*moe_config) if moe_config else None,
        notes=_notes(cap, unsupported) + _kept(cap, captured.source.metadata),
        attention=analysis.attention,
        analysis=analysis,
        per_chip=per_chip,
    )


def _chip_bottleneck(captured: Captured, chip: Chip) -> ChipBottleneck:
    """The capture timed on `chip`: forward (and backward) bottleneck beside the lower bound."""
    analysis = captured.analysis
    roofline, lower = analysis.roofline(chip), analysis.lower_bound(chip)
    backward = roofline.bottleneck(BACKWARD, lower) if captured.capture.backward else None
    return ChipBottleneck(chip, roofline.bottleneck(lower_bound=lower), backward)


def _notes(cap: Capture, unsupported: list[UnsupportedOp]) -> list[str]:
    """The capture's notes, and what ops without a FLOP convention leave out."""
    notes = list(cap.notes)
    if unsupported:
        names = ", ".join(u.name for u in unsupported[:5])
        notes.append(f"{len(unsupported)} op type(s) have no FLOP convention and count 0: {names}")
        matmul_like = [u.name for u in unsupported if looks_like_matmul(u.name)]
        if matmul_like:
            notes.append("WARNING: matmul-class op(s) without a FLOP formula, so FLOPs are too "
                         f"low: {', '.join(matmul_like)} (modellens.register_flop_formula)")
    return notes


def _ran_at(cap: Capture, description: str, module: str | None) -> str:
    """The input description, with the size the model resized its input to when it does so
    (the first input of module `module`, e.g. a detector's backbone after its transform)."""
    record = cap.modules.get(module) if module else None
    if record is None or not record.input_specs:
        return description
    shape = record.input_specs[0].shape_str().split("x", 1)[-1]  # without the batch
    if shape in description:
        return description
    return f"{description}; the model ran at {shape} (resized by its own transform)"


def _kept(cap: Capture, metadata: dict[str, Any]) -> list[str]:
    """A note of the counts FLOPs depend on in a data-dependent model: how many boxes each
    head named in `metadata["counts_depend_on"]` received (its first input's leading size)."""
    kept = []
    for path, what in metadata.get("counts_depend_on", {}).items():
        record = cap.modules.get(path)
        if record is not None and record.calls and record.input_specs:
            kept.append(f"{record.input_specs[0].shape[0]} {what}")
    if not kept:
        return []
    return [f"FLOPs depend on the boxes kept: {', '.join(kept)}; capture method "
            f"{cap.method}, untrained weights (trained weights keep other numbers)"]
