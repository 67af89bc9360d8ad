"""Training memory and throughput: the ZeRO paper's accounting (Rajbhandari et al. 2020).

Per parameter, mixed precision with Adam: 2 bytes weights (bf16/fp16) + 2 bytes gradients +
12 bytes optimizer state (fp32 master weights 4, momentum 4, variance 4) = 16 bytes. Pure fp32:
4 + 4 + 8 = 16 as well. ZeRO-1 shards the optimizer state over data-parallel ranks, ZeRO-2 also
the gradients, ZeRO-3 also the weights. Tensor and pipeline parallelism split the model evenly
(an approximation: embeddings and norms are not split evenly in practice); activations are split
by tensor parallelism (with sequence parallelism) and pipeline stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..io import fields_dict

# Optimizer state bytes per parameter (without fp32 master weights).
OPTIMIZER_STATE_BYTES = {"adam": 8, "adamw": 8, "adam8bit": 2, "sgd": 4, "sgd-nomomentum": 0,
                         "adafactor": 4}
MASTER_WEIGHT_BYTES = 4
STRATEGIES = ("ddp", "zero1", "zero2", "zero3")


@dataclass(frozen=True)
class TrainingMemory:
    params: int
    optimizer: str
    mixed_precision: bool
    weights_bytes: int
    gradients_bytes: int
    optimizer_bytes: int  # optimizer states, including fp32 master weights in mixed precision
    activations_bytes: int  # saved for backward, no checkpointing
    activations_checkpointed_bytes: int  # layer inputs kept, one layer recomputed at a time
    gpus: int
    tensor_parallel: int
    pipeline_parallel: int
    per_gpu_bytes: dict[str, int] = field(default_factory=dict)  # strategy -> bytes per GPU
    per_gpu_checkpointed_bytes: dict[str, int] = field(default_factory=dict)

    @property
    def bytes_per_param(self) -> float:
        return (self.weights_bytes + self.gradients_bytes + self.optimizer_bytes) / self.params

    def to_dict(self) -> dict:
        return fields_dict(self, bytes_per_param=self.bytes_per_param)


def training_memory(params: int, *, weight_bytes_per_param: float, optimizer: str = "adamw",
                    activations_bytes: int = 0, activations_checkpointed_bytes: int = 0,
                    gpus: int = 1, tensor_parallel: int = 1,
                    pipeline_parallel: int = 1) -> TrainingMemory:
    """Bytes of a training step, whole model and per GPU under DDP and ZeRO-1/2/3."""
    from ..errors import ConfigError

    if optimizer not in OPTIMIZER_STATE_BYTES:
        raise ConfigError(f"unknown optimizer {optimizer!r}; expected one of "
                          f"{', '.join(OPTIMIZER_STATE_BYTES)}")
    model_parallel = tensor_parallel * pipeline_parallel
    if gpus < 1 or gpus % model_parallel:
        raise ConfigError(f"--gpus {gpus} is not a multiple of tp × pp = {model_parallel}")
    mixed = weight_bytes_per_param < 4
    weights = int(params * weight_bytes_per_param)
    gradients = weights
    optimizer_bytes = params * (OPTIMIZER_STATE_BYTES[optimizer]
                                + (MASTER_WEIGHT_BYTES if mixed else 0))
    data_parallel = gpus // model_parallel

    def per_gpu(activations: int) -> dict[str, int]:
        w, g, o = (x / model_parallel for x in (weights, gradients, optimizer_bytes))
        act = activations / model_parallel
        shards = {
            "ddp": w + g + o,
            "zero1": w + g + o / data_parallel,
            "zero2": w + (g + o) / data_parallel,
            "zero3": (w + g + o) / data_parallel,
        }
        return {k: int(v + act) for k, v in shards.items()}

    return TrainingMemory(
        params=params, optimizer=optimizer, mixed_precision=mixed, weights_bytes=weights,
        gradients_bytes=gradients, optimizer_bytes=optimizer_bytes,
        activations_bytes=activations_bytes,
        activations_checkpointed_bytes=activations_checkpointed_bytes, gpus=gpus,
        tensor_parallel=tensor_parallel, pipeline_parallel=pipeline_parallel,
        per_gpu_bytes=per_gpu(activations_bytes),
        per_gpu_checkpointed_bytes=per_gpu(activations_checkpointed_bytes),
    )


def tokens_per_day(flops_per_token: float, peak_flops: float, gpus: int, mfu: float) -> float:
    """Training tokens per day at a model-FLOPs utilization `mfu` (0–1)."""
    return mfu * peak_flops * gpus / flops_per_token * 86_400
