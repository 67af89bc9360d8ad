"""`profile()`: spec -> source -> model on meta -> one capture -> Analysis -> ProfileResult."""

from __future__ import annotations

import time
from typing import Any, Sequence

from ..analysis.flops import UnsupportedOp, looks_like_matmul
from ..analysis.results import OpRow, ProfileResult
from ..capture import BACKWARD, Capture, gc_paused
from ..dtypes import parse_dtype
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
    """
    started = time.perf_counter()
    if dtype:
        parse_dtype(dtype)  # refused before any work
    chips = resolve_chips(hardware, time_model)
    source = resolve(model, inputs, batch_size=batch_size, seq_len=seq_len,
                     image_size=image_size, task=task, name=name, allow_longer=allow_longer,
                     trust_remote_code=trust_remote_code)
    with gc_paused():  # see capture.gc_paused: a deep model's analysis allocates per op too
        captured = capture_source(source, backward=backward, dtype=dtype,
                                  replay_blocks=replay_blocks, run_hooks=run_hooks,
                                  input_grad=input_grad)
        result = analyze(captured, chips)
    result.timings = {**captured.seconds, "total_s": time.perf_counter() - started}
    result.settings.update(batch_size=batch_size, seq_len=seq_len, image_size=image_size,
                           dtype=dtype, backward=backward, task=task)
    if allow_longer:
        result.settings["allow_longer"] = True
    if input_grad:
        result.settings["input_grad"] = True
    return result


def analyze(captured: Captured, chips: Sequence[Chip] | None = None) -> ProfileResult:
    """Every profile view of one capture; timed on each of `chips` (default: the default
    chip), the first being the result's chip."""
    chips = list(chips) if chips else resolve_chips(None)
    analysis, cap = captured.analysis, captured.capture
    for chip in chips:
        analysis.roofline(chip)
    roofline = analysis.roofline(chips[0])
    unsupported = analysis.unsupported_ops()
    moe_config = captured.source.metadata.get("moe")
    return ProfileResult(
        model=captured.source.name,
        model_class=cap.model_class,
        source=captured.source.kind,
        capture_method=cap.method,
        input_description=captured.source.input_description,
        inputs=[{"name": n, **s.to_dict()} for n, s in cap.inputs],
        settings={"metadata": captured.source.metadata},
        params=analysis.params(),
        flops=analysis.totals(),
        memory=analysis.memory(),
        hardware=chips[0],
        bottleneck=roofline.bottleneck(lower_bound=analysis.lower_bound(chips[0])),
        backward_bottleneck=(roofline.bottleneck(BACKWARD, analysis.lower_bound(chips[0]))
                             if cap.backward else None),
        modules=analysis.by_module(),
        ops=[OpRow(*timed) for timed in analysis.timed_ops(chips[0])],
        operators=analysis.by_operator(),
        unsupported=unsupported,
        moe=analysis.moe(*moe_config) if moe_config else None,
        notes=_notes(cap, unsupported),
        analysis=analysis,
    )


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
