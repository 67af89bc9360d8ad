"""The steps every task shares: a model source built and captured once, with its Analysis; and
chips resolved once, at the API edge."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

from torch import nn

from ..analysis import Analysis
from ..capture import Capture, capture, gc_paused
from ..dtypes import parse_dtype
from ..errors import ConfigError
from ..hardware import Chip, get_chip
from ..hardware.timemodel import TimeModel
from ..sources.base import ModelSource, build_model

Hardware = str | Chip | Sequence[str | Chip] | None


@dataclass
class Captured:
    """A capture with the source and model it came from and its Analysis (per-op costs and
    every view, computed once)."""

    source: ModelSource
    analysis: Analysis
    model: nn.Module
    seconds: dict[str, float]

    @property
    def capture(self) -> Capture:
        return self.analysis.capture


def capture_source(
    source: ModelSource, *, backward: bool = False, dtype: str | None = None,
    replay_blocks: bool = True, run_hooks: bool = False, torch_calls: bool = False,
    input_grad: bool = False, attention: str = "full",
) -> Captured:
    """Build the source's model (on meta where possible) and capture it once (`run_hooks`,
    `torch_calls`: see `capture`); `attention`: the attention FLOP convention, "full" or
    "causal" (see `analysis.attention`)."""
    with gc_paused():
        return _capture_source(source, backward=backward, dtype=dtype,
                               replay_blocks=replay_blocks, run_hooks=run_hooks,
                               torch_calls=torch_calls, input_grad=input_grad,
                               attention=attention)


def _capture_source(source: ModelSource, *, backward: bool, dtype: str | None,
                    replay_blocks: bool, run_hooks: bool, torch_calls: bool,
                    input_grad: bool, attention: str) -> Captured:
    started = time.perf_counter()
    model, built_on = build_model(source)
    built = time.perf_counter()
    result = capture(
        model,
        source.make_inputs,
        name=source.name,
        backward=backward,
        dtype=parse_dtype(dtype) if dtype else None,
        rebuild_real=source.build if built_on == "meta" else None,
        replay_blocks=replay_blocks,
        run_hooks=run_hooks,
        torch_calls=torch_calls,
        input_grad=input_grad,
    )
    captured = time.perf_counter()
    if source.builds_on_meta and built_on != "meta":
        result.notes.append(f"model built on {built_on} (its constructor needs real tensors)")
    analysis = Analysis(result, attention=attention)
    seconds = {
        "build_s": built - started,
        "capture_s": captured - built,
        "costs_s": time.perf_counter() - captured,
    }
    return Captured(source, analysis, model, seconds)


TIME_MODELS = ("calibrated", "roofline")


def resolve_chips(hardware: Hardware, time_model: str = "calibrated") -> list[Chip]:
    """Chips from names, YAML paths or Chip objects (one or a list; None: the default chip),
    in order, aliases of one chip dropped. `time_model="roofline"` times them on the plain
    roofline (the lower bound) instead of their calibrated curves."""
    if time_model not in TIME_MODELS:
        raise ConfigError(f"time model must be calibrated or roofline, got {time_model!r}")
    given = [hardware] if hardware is None or isinstance(hardware, (str, Chip)) else hardware
    chips: dict[str, Chip] = {}
    for item in given or [None]:
        chip = item if isinstance(item, Chip) else get_chip(item)
        if time_model == "roofline":
            chip = chip.with_time_model(TimeModel.ROOFLINE)
        chips.setdefault(chip.id, chip)
    return list(chips.values())
