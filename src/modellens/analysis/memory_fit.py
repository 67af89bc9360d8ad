"""Does a model fit on a chip: the memory inference and training need, and the headroom each
chip leaves (a pure function of the Analysis and the chip's capacity)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..capture import BACKWARD, FORWARD
from ..hardware import Chip
from .training import TrainingMemory, training_memory

if TYPE_CHECKING:
    from .core import Analysis

MEMORY_HEADROOM = 0.9  # usable fraction of device memory (allocator, CUDA context, fragmentation)
OPTIMIZER = "adamw"


@dataclass(frozen=True)
class MemoryNeeds:
    """Bytes one device needs to run the captured step."""

    inference_bytes: int  # weights + peak live forward activations
    training: TrainingMemory  # weights, gradients, optimizer states, saved activations (DDP)
    training_measured: bool  # activations from a captured backward (else: all forward kept)

    @property
    def training_bytes(self) -> int:
        return self.training.per_gpu_bytes["ddp"]

    def to_dict(self) -> dict[str, Any]:
        return {"inference_bytes": self.inference_bytes, "training_bytes": self.training_bytes,
                "training_measured": self.training_measured,
                "optimizer": self.training.optimizer,
                "training": self.training.to_dict()}


def memory_needs(analysis: Analysis, optimizer: str = OPTIMIZER) -> MemoryNeeds:
    """Inference: weights + the forward's peak live activations. Training (one GPU, DDP): the
    weights, their gradients, `optimizer` states and the activations alive at the peak of the
    forward+backward capture; without a backward, every forward activation counts as kept."""
    memory, params = analysis.memory(), analysis.params()
    measured = analysis.capture.backward
    if measured:
        _, activations = analysis.activations((FORWARD, BACKWARD))
    else:
        activations = memory.activations_bytes
    per_param = memory.weights_bytes / params.total if params.total else 4.0
    training = training_memory(params.trainable, weight_bytes_per_param=per_param,
                               optimizer=optimizer, activations_bytes=activations)
    return MemoryNeeds(memory.weights_bytes + memory.peak_activations_bytes, training, measured)


@dataclass(frozen=True)
class ChipFit:
    """One need against one chip: usable = capacity × MEMORY_HEADROOM."""

    chip: str
    capacity_bytes: int
    needed_bytes: int

    @property
    def usable_bytes(self) -> int:
        return int(self.capacity_bytes * MEMORY_HEADROOM)

    @property
    def headroom_bytes(self) -> int:
        """Usable bytes left over; negative when it does not fit."""
        return self.usable_bytes - self.needed_bytes

    @property
    def fits(self) -> bool:
        return self.headroom_bytes >= 0

    def to_dict(self) -> dict[str, Any]:
        return {"chip": self.chip, "capacity_bytes": self.capacity_bytes,
                "usable_bytes": self.usable_bytes, "needed_bytes": self.needed_bytes,
                "headroom_bytes": self.headroom_bytes, "fits": self.fits}


def chip_fits(needs: MemoryNeeds, chip: Chip) -> dict[str, ChipFit]:
    """Inference and training needs against `chip`'s memory."""
    return {"inference": ChipFit(chip.id, chip.memory_bytes, needs.inference_bytes),
            "training": ChipFit(chip.id, chip.memory_bytes, needs.training_bytes)}
