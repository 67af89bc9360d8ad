"""`compare`: several models side by side -- params, FLOPs forward and backward, inference and
training memory, predicted forward time on each chip, arithmetic intensity. One profile (with
backward) per model; every figure is read from its Analysis."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from ..analysis.memory_fit import OPTIMIZER, memory_needs
from ..analysis.results import ProfileResult
from ..capture import FORWARD
from ..hardware import Chip
from ..io import JsonRecord, document
from .pipeline import Hardware, resolve_chips
from .profile import profile

DEFAULT_CHIPS = ("a100", "h100")


@dataclass
class ComparedModel(JsonRecord):
    model: str
    model_class: str
    input_description: str
    params: int
    forward_flops: int  # matmul-class
    forward_flops_all: int
    backward_flops: int | None
    inference_memory_bytes: int  # weights + peak live forward activations
    training_memory_bytes: int  # weights, gradients, AdamW states, activations saved for backward
    arithmetic_intensity: float  # forward FLOPs (all) / bytes on the first chip
    forward_time_s: dict[str, float] = field(default_factory=dict)  # chip id -> predicted time


@dataclass
class CompareResult:
    chips: list[str]  # chip ids, in the order asked
    chip_names: dict[str, str]
    models: list[ComparedModel]
    optimizer: str = OPTIMIZER
    profiles: list[ProfileResult] = field(default_factory=list, repr=False, compare=False)
    hardware: list[Chip] = field(default_factory=list, repr=False, compare=False)  # of `chips`

    def to_dict(self) -> dict[str, Any]:
        return document({"kind": "compare", "chips": self.chips, "chip_names": self.chip_names,
                         "optimizer": self.optimizer, "models": self.models})


def compare(specs: Sequence[str], *, hardware: Hardware = None, batch_size: int = 1,
            seq_len: int | None = None, image_size: int | None = None,
            dtype: str | None = None, task: str = "auto",
            allow_longer: bool = False) -> CompareResult:
    """Profile each of `specs` (forward and backward) and line their costs up."""
    chips = resolve_chips(list(DEFAULT_CHIPS) if hardware is None else hardware)
    models, profiles = [], []
    for spec in specs:
        result = profile(spec, batch_size=batch_size, seq_len=seq_len, image_size=image_size,
                         dtype=dtype, backward=True, hardware=chips, task=task,
                         allow_longer=allow_longer)
        analysis = result.analysis
        assert analysis is not None
        needs = memory_needs(analysis, OPTIMIZER)
        profiles.append(result)
        times = {}
        for chip in chips:
            phase = result.roofline(chip).phase(FORWARD)
            times[chip.id] = phase.time_s if phase else 0.0
        models.append(ComparedModel(
            model=result.model, model_class=result.model_class,
            input_description=result.input_description, params=result.params.total,
            forward_flops=result.flops.forward, forward_flops_all=result.flops.forward_all,
            backward_flops=result.flops.backward,
            inference_memory_bytes=needs.inference_bytes,
            training_memory_bytes=needs.training_bytes,
            arithmetic_intensity=result.bottleneck.arithmetic_intensity,
            forward_time_s=times,
        ))
    return CompareResult(chips=[c.id for c in chips], chip_names={c.id: c.name for c in chips},
                         models=models, profiles=profiles, hardware=chips)
