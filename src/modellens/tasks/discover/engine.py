"""Profiling one candidate the way `modellens profile SPEC` does: resolve -> capture ->
analyze; a model's own failure becomes a result (failed at build or at capture), never an error."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Callable

from ...errors import BuildError, CaptureError, ModellensError
from .results import (
    FAILED_BUILD,
    FAILED_CAPTURE,
    OK,
    Candidate,
    InputSettings,
    ModelResult,
    StageCost,
)


def profile_candidate(candidate: Candidate, inputs: InputSettings = InputSettings(),
                      on_phase: Callable[[str], None] = lambda phase: None) -> ModelResult:
    """Build, capture and analyze one model the way `modellens profile` does; never raises for
    a model's own failure. `on_phase("capture")` is called once the model is built."""
    return _profile(candidate, inputs, on_phase)[0]


def check_model(candidate: Candidate, inputs: InputSettings = InputSettings()):
    """(ModelResult with the whole failure reason, ProfileResult or None): one model in full
    (`discover --test-model`)."""
    return _profile(candidate, inputs, lambda phase: None, reason_limit=None)


def _profile(candidate: Candidate, inputs: InputSettings, on_phase: Callable[[str], None],
             reason_limit: int | None = 300):
    from ...sources import resolve
    from ..pipeline import capture_source
    from ..profile import analyze

    started = time.perf_counter()
    result = ModelResult(candidate.library, candidate.name, candidate.spec, FAILED_BUILD, 0.0)
    profiled = None
    phase = "build"

    def built() -> None:
        nonlocal phase
        phase = "capture"
        on_phase(phase)

    try:
        source = resolve(candidate.spec, **inputs.to_dict())
        result.input_description = source.input_description
        captured = capture_source(_notify_when_built(source, built))
        profiled = analyze(captured)
    except Exception as exc:  # noqa: BLE001 - a model's failure is a result, not an error
        capture_failed = isinstance(exc, CaptureError) or (
            phase == "capture" and not isinstance(exc, BuildError))
        result.status = FAILED_CAPTURE if capture_failed else FAILED_BUILD
        result.reason = one_line(exc, reason_limit)
        result.fails_on_real = isinstance(exc, CaptureError) and _real_attempt_failed(str(exc))
    else:
        result.status = OK
        result.method = profiled.capture_method
        result.params = profiled.params.total
        result.flops = profiled.flops.forward
        result.flops_all = profiled.flops.forward_all
        result.model_class = profiled.model_class
        result.unsupported_ops = [u.name for u in profiled.unsupported]
        result.stages = stage_costs(captured)
    result.seconds = time.perf_counter() - started
    return result, profiled


def _real_attempt_failed(message: str) -> bool:
    """Whether a capture error says its real-tensor attempt ran and failed ("...; real: Error")
    rather than being skipped (for size, or with no way to build the model on CPU)."""
    _, found, real = message.partition("; real: ")
    return bool(found) and not real.startswith(("real-tensor fallback needs",
                                                "real-tensor fallback refused"))


def _notify_when_built(source, built: Callable[[], None]):
    """The same source, calling `built()` after its model is constructed."""
    build = source.build

    def build_then_notify():
        model = build()
        built()
        return model

    return replace(source, build=build_then_notify)


def one_line(exc: BaseException, limit: int | None = 300) -> str:
    """'Type: first line of the message', cut to `limit` characters (None: whole line)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    line = text if isinstance(exc, ModellensError) else f"{type(exc).__name__}: {text}"
    return line if limit is None or len(line) <= limit else line[: limit - 3] + "..."


def stage_costs(captured) -> list[StageCost]:
    """Params and forward FLOPs per stage, for sources whose metadata names layer-index stages
    ({"backbone": [0, 10], "neck": [10, 22], "head": [22, 23]} over `model.N` module paths)."""
    stages: dict[str, list[int]] = captured.source.metadata.get("stages") or {}
    if not stages:
        return []

    def stage_of(path: str) -> str:
        match = re.match(r"model\.(\d+)(\.|$)", path)
        index = int(match.group(1)) if match else -1
        return next((s for s, (lo, hi) in stages.items() if lo <= index < hi), "other")

    names = [*stages, "other"]
    params = {s: 0 for s in names}
    for record in captured.capture.params:
        if not record.is_buffer:
            params[stage_of(record.name)] += record.numel
    flops = {s: captured.analysis.where(lambda path, s=s: stage_of(path) == s).totals().forward
             for s in names}
    return [StageCost(s, params[s], flops[s]) for s in params if s != "other" or params[s] or flops[s]]
