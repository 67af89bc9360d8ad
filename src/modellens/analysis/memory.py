"""Memory: weights, inputs, outputs, all activations, and peak live activations; with a
backward, the training step's peak (`training_peak`, filled in by the profile task)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from ..capture import FORWARD
from ..costing.registry import VIEW
from ..io import JsonRecord
from .training_peak import TrainingPeak

if TYPE_CHECKING:
    from .core import Analysis


@dataclass(frozen=True)
class MemoryEstimate(JsonRecord):
    weights_bytes: int  # parameters + buffers, each tensor once
    inputs_bytes: int
    outputs_bytes: int
    activations_bytes: int  # every tensor the forward pass materializes
    peak_activations_bytes: int  # most forward intermediates alive at once (see `peak_live_bytes`)
    gradients_bytes: int | None = None  # one gradient per trainable parameter, with --backward
    training_peak_bytes: int | None = None  # a training step's peak, with --backward
    training: Optional[TrainingPeak] = None  # its breakdown (see `training_peak`)


def peak_live_bytes(analysis: Analysis, phases: tuple[str, ...]) -> tuple[int, int]:
    """(total, peak) bytes of tensors created by the ops of `phases`.

    A tensor is alive from the op that creates it to the last op that reads it (model outputs
    stay alive to the end). With backward included, tensors saved for backward stay alive
    until backward reads them, as in training.
    """
    capture = analysis.capture
    created: dict[int, tuple[int, int]] = {}  # storage -> (op index, bytes)
    last_use: dict[int, int] = {}
    for i, (op, cost) in enumerate(analysis.items()):
        if op.phase not in phases:
            continue
        for spec in op.inputs:
            last_use[spec.storage] = i
        is_view = cost.category == VIEW
        for spec in op.outputs:
            # a storage first seen as an output was allocated here; one seen first as an input
            # (weights, model inputs, caches) or made by a view was not
            if not is_view and spec.storage not in last_use:
                created[spec.storage] = (i, spec.nbytes)
            last_use[spec.storage] = i
    end = len(capture.ops)
    for spec in capture.outputs:
        last_use[spec.storage] = end
    delta: dict[int, int] = {}
    for storage, (start, size) in created.items():
        delta[start] = delta.get(start, 0) + size
        stop = last_use.get(storage, start) + 1
        delta[stop] = delta.get(stop, 0) - size
    live = peak = 0
    for index in sorted(delta):
        live += delta[index]
        peak = max(peak, live)
    return sum(size for _, size in created.values()), peak


def estimate_memory(analysis: Analysis) -> MemoryEstimate:
    capture, params = analysis.capture, analysis.params()
    activations, peak = analysis.activations((FORWARD,))
    gradients = None
    if capture.backward:
        gradients = sum(p.nbytes for p in capture.params if p.requires_grad)
    return MemoryEstimate(
        weights_bytes=params.params_bytes + params.buffers_bytes,
        inputs_bytes=sum(spec.nbytes for _, spec in capture.inputs),
        outputs_bytes=sum(spec.nbytes for spec in _unique(capture.outputs)),
        activations_bytes=activations,
        peak_activations_bytes=peak,
        gradients_bytes=gradients,
    )


def _unique(specs):
    seen = {}
    for spec in specs:
        seen.setdefault(spec.storage, spec)
    return list(seen.values())
