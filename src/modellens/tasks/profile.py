"""`profile()`: spec -> source -> model on meta -> one capture -> analyses -> ProfileResult."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from torch import nn

from ..analysis.flops import by_operator, looks_like_matmul, totals, unsupported_ops
from ..analysis.memory import estimate_memory
from ..analysis.modules import module_stats
from ..analysis.moe import moe_report
from ..analysis.params import count_params
from ..analysis.results import OpRow, ProfileResult
from ..analysis.roofline import bottleneck, op_dtype
from ..capture import BACKWARD, Capture, capture
from ..costing.cost import OpCost, op_costs
from ..dtypes import parse_dtype
from ..hardware import get_chip
from ..sources import ModelLike, resolve
from ..sources.base import ModelSource, build_model


@dataclass
class Captured:
    """A capture with the source it came from and the per-op costs every view shares."""

    source: ModelSource
    capture: Capture
    costs: list[OpCost]
    model: nn.Module
    seconds: dict[str, float]


def capture_source(
    source: ModelSource, *, backward: bool = False, dtype: str | None = None,
    replay_blocks: bool = True, run_hooks: bool = False,
    torch_calls: bool = False,
) -> Captured:
    """Build the source's model (on meta where possible) and capture it once (`torch_calls`:
    with the torch-level call of each aten op, see `capture(torch_calls=...)`)."""
    started = time.perf_counter()
    torch_dtype = parse_dtype(dtype) if dtype else None
    model, built_on = build_model(source)
    built = time.perf_counter()
    rebuild = None
    if built_on == "meta":
        rebuild = source.build
    result = capture(
        model,
        source.make_inputs,
        name=source.name,
        backward=backward,
        dtype=torch_dtype,
        rebuild_real=rebuild,
        replay_blocks=replay_blocks,
        run_hooks=run_hooks,
        torch_calls=torch_calls,
    )
    captured = time.perf_counter()
    if source.builds_on_meta and built_on != "meta":
        result.notes.append(f"model built on {built_on} (its constructor needs real tensors)")
    costs = op_costs(result)
    seconds = {
        "build_s": built - started,
        "capture_s": captured - built,
        "costs_s": time.perf_counter() - captured,
    }
    return Captured(source, result, costs, model, seconds)


def profile(
    model: ModelLike,
    inputs: Any = None,
    *,
    batch_size: int = 1,
    seq_len: int | None = None,
    image_size: int | None = None,
    dtype: str | None = None,
    backward: bool = False,
    hardware: str | None = None,
    task: str = "auto",
    name: str | None = None,
    replay_blocks: bool = True,
    run_hooks: bool = False,
    allow_longer: bool = False,
) -> ProfileResult:
    """Profile a model: params, FLOPs/MACs, memory, roofline bottleneck on `hardware`.

    `model` is a spec string ("gpt2", "tv:resnet50", "file.py::fn", ...) or an nn.Module with
    `inputs` (a tensor, tuple, dict, or a function returning one). `inputs` may also be a
    "file.py::fn" reference for a file-based model. `replay_blocks=False` runs every repeated
    block instead of capturing one and replaying it (see `modellens.capture.replay`).
    The model's own forward/backward hooks (and global module hooks) are not called during the
    capture, which runs on fake tensors; `run_hooks=True` calls them. `allow_longer=True`
    profiles a `seq_len` beyond the model's positions (said in the input description).
    """
    started = time.perf_counter()
    if dtype:
        parse_dtype(dtype)  # refused before any work
    chip = get_chip(hardware)
    source = resolve(model, inputs, batch_size=batch_size, seq_len=seq_len,
                     image_size=image_size, task=task, name=name, allow_longer=allow_longer)
    captured = capture_source(source, backward=backward, dtype=dtype, replay_blocks=replay_blocks,
                              run_hooks=run_hooks)
    result = analyze(captured, chip_name=chip.id if hardware is None else hardware)
    result.timings = {**captured.seconds, "total_s": time.perf_counter() - started}
    result.settings.update(batch_size=batch_size, seq_len=seq_len, image_size=image_size,
                           dtype=dtype, backward=backward, task=task)
    if allow_longer:
        result.settings["allow_longer"] = True
    return result


def analyze(captured: Captured, chip_name: str | None = None) -> ProfileResult:
    """Every profile view of one capture."""
    cap, costs = captured.capture, captured.costs
    chip = get_chip(chip_name)
    params = count_params(cap.params)
    flop_totals = totals(cap, costs)
    forward_summary, timings = bottleneck(cap, costs, chip)
    backward_summary = None
    if cap.backward:
        backward_summary, backward_timings = bottleneck(cap, costs, chip, phase=BACKWARD)
        timings = [f if f is not None else b for f, b in zip(timings, backward_timings)]
    rows = [
        OpRow(
            index=i,
            name=op.name,
            module=op.module,
            phase=op.phase,
            category=cost.category,
            dtype=op_dtype(op),  # what the roofline times it in
            flops=cost.flops,
            flops_all=cost.flops_all,
            bytes_read=cost.bytes_read,
            bytes_written=cost.bytes_written,
            intensity=cost.intensity,
            bound=timing.bound,
            time_s=timing.time_s,
            input_shapes=[list(s.shape) for s in op.inputs],
            output_shapes=[list(s.shape) for s in op.outputs],
        )
        for i, (op, cost, timing) in enumerate(zip(cap.ops, costs, timings))
        if timing is not None
    ]
    unsupported = unsupported_ops(cap, costs)
    notes = list(cap.notes)
    if unsupported:
        names = ", ".join(u.name for u in unsupported[:5])
        notes.append(f"{len(unsupported)} op type(s) have no FLOP convention and count 0: {names}")
        matmul_like = [u.name for u in unsupported if looks_like_matmul(u.name)]
        if matmul_like:
            notes.append("WARNING: matmul-class op(s) without a FLOP formula, so FLOPs are too "
                         f"low: {', '.join(matmul_like)} (modellens.register_flop_formula)")
    moe_config = captured.source.metadata.get("moe")
    moe = moe_report(cap, costs, *moe_config) if moe_config else None
    return ProfileResult(
        model=captured.source.name,
        model_class=cap.model_class,
        source=captured.source.kind,
        capture_method=cap.method,
        input_description=captured.source.input_description,
        inputs=[{"name": n, **s.to_dict()} for n, s in cap.inputs],
        settings={"metadata": captured.source.metadata},
        params=params,
        flops=flop_totals,
        memory=estimate_memory(cap, costs, params),
        hardware=chip,
        bottleneck=forward_summary,
        backward_bottleneck=backward_summary,
        modules=module_stats(cap, costs),
        ops=rows,
        operators=by_operator(cap, costs),
        unsupported=unsupported,
        moe=moe,
        notes=notes,
    )

