"""LLM inference and training cost: prefill, decode with a real KV cache, memory fit, training.

Every figure comes from captures of the model on fake tensors: a prefill of the prompt, decode
steps at a few context lengths with a KV cache of that length (HF `StaticCache`, so a step reads
the whole cache and writes one token, as serving engines do), and a forward+backward pass for
training. Quantized weights and an fp8 KV cache change the stored element size of those tensors
after capture (`analysis.inference.with_storage_formats`); FLOPs are unchanged (weight-only
quantization computes in the activation dtype).

Multi-GPU figures assume ideal scaling: tensor parallelism divides each step's FLOPs and bytes
over `tp` GPUs with no communication cost; memory capacity is the sum over `gpus`.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import torch

from ..analysis.inference import (
    BatchScaling,
    StepCost,
    matmul_weight_storages,
    step_cost,
    with_storage_formats,
)
from ..analysis.memory import peak_live_bytes
from ..analysis.results import SCHEMA_VERSION
from ..analysis.training import TrainingMemory, tokens_per_day, training_memory
from ..capture import BACKWARD, FORWARD, Capture, SampleInputs, capture
from ..capture.records import TensorSpec
from ..costing.cost import op_costs
from ..dtypes import dtype_name, dtype_size, parse_dtype, quantized_format
from ..errors import ConfigError, SpecError
from ..hardware import Chip, get_chip

DEFAULT_PROMPT_LEN = 2048
MEMORY_HEADROOM = 0.9  # usable fraction of device memory (allocator, CUDA context, fragmentation)


@dataclass(frozen=True)
class DecodePoint:
    context: int  # tokens already in the cache
    step: StepCost  # one decode step for the whole batch
    tokens_per_second: float  # batch / step time

    def to_dict(self) -> dict:
        return {"context": self.context, **self.step.to_dict(),
                "tokens_per_second": self.tokens_per_second}


@dataclass
class LLMReport:
    model: str
    hardware: Chip
    settings: dict[str, Any]
    params: int
    active_params: int
    weights_bytes: int  # as stored (after quantization)
    kv_bytes_per_token: int  # one sequence, all layers
    kv_cache_bytes: int  # batch × (prompt + generated) tokens
    prefill: StepCost
    time_to_first_token_s: float
    decode: list[DecodePoint]
    decode_time_s: float  # all generated tokens
    decode_tokens_per_second: float  # average over the generation, whole batch
    end_to_end_s: float
    decode_scaling: BatchScaling
    compute_bound_from_batch: int | None
    memory_needed_bytes: int  # weights + KV cache + peak prefill activations
    memory_available_bytes: int
    max_batch: int  # at prompt + generated context
    max_context: int  # at the given batch
    training: TrainingMemory | None = None
    training_flops_per_token: float | None = None
    training_tokens_per_day: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return self.memory_needed_bytes <= self.memory_available_bytes

    def tokens_per_second_by_batch(self, batches: list[int], chip: Chip | None = None):
        chip = chip or self.hardware
        dtype = self.settings["dtype"]
        tp = self.settings["tp"]
        return [tp * self.decode_scaling.tokens_per_second(b, chip, dtype) for b in batches]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "model": self.model,
            "hardware": self.hardware.to_dict(),
            "settings": self.settings,
            "params": {"total": self.params, "active": self.active_params},
            "memory": {
                "weights_bytes": self.weights_bytes,
                "kv_bytes_per_token": self.kv_bytes_per_token,
                "kv_cache_bytes": self.kv_cache_bytes,
                "needed_bytes": self.memory_needed_bytes,
                "available_bytes": self.memory_available_bytes,
                "fits": self.fits,
                "max_batch": self.max_batch,
                "max_context": self.max_context,
            },
            "prefill": {**self.prefill.to_dict(),
                        "time_to_first_token_s": self.time_to_first_token_s},
            "decode": {
                "points": [p.to_dict() for p in self.decode],
                "time_s": self.decode_time_s,
                "tokens_per_second": self.decode_tokens_per_second,
                "compute_bound_from_batch": self.compute_bound_from_batch,
                "scaling": dict(vars(self.decode_scaling)),
            },
            "end_to_end_s": self.end_to_end_s,
            "training": None if self.training is None else {
                **self.training.to_dict(),
                "flops_per_token": self.training_flops_per_token,
                "tokens_per_day": self.training_tokens_per_day,
            },
            "notes": list(self.notes),
        }


def _step_inputs(config, accepted: set[str], batch: int, past: int, new: int,
                 dtype: torch.dtype):
    """Inputs for a forward of `new` tokens after `past` cached ones, with a StaticCache."""
    from transformers import StaticCache

    from ..sources.hf.classes import kv_layout

    kv_heads, head_dim = kv_layout(config)

    def make() -> SampleInputs:
        cache = StaticCache(config=config, max_cache_len=past + new)
        cache.early_initialization(batch, kv_heads, head_dim, dtype, torch.device("cpu"))
        for layer in cache.layers:
            if hasattr(layer, "cumulative_length"):
                layer.cumulative_length = torch.tensor(past)
        kwargs: dict[str, Any] = {
            "input_ids": torch.zeros(batch, new, dtype=torch.long),
            "position_ids": torch.arange(past, past + new).expand(batch, new),
            "past_key_values": cache,
            "use_cache": True,
        }
        if "logits_to_keep" in accepted:
            kwargs["logits_to_keep"] = 1
        tensors = [t for layer in cache.layers for t in (layer.keys, layer.values)]
        return SampleInputs(kwargs=kwargs, state={"kv_cache": tensors})

    return make


def _contexts(prompt_len: int, gen_len: int, points: int) -> list[int]:
    if gen_len <= 1 or points <= 1:
        return [prompt_len]
    last = prompt_len + gen_len - 1
    step = (last - prompt_len) / (points - 1)
    return sorted({round(prompt_len + i * step) for i in range(points)})


def _decode_time(points: list[DecodePoint], prompt_len: int, gen_len: int) -> float:
    """Sum of step times over the generation, linear between measured contexts."""
    if len(points) == 1:
        return points[0].step.time_s * gen_len
    total = 0.0
    for a, b in zip(points, points[1:]):
        span = b.context - a.context
        total += span * (a.step.time_s + b.step.time_s) / 2
    return total + points[-1].step.time_s  # the last step itself


def llm_cost(
    model: str,
    *,
    prompt_len: int | None = None,
    gen_len: int = 256,
    batch_size: int = 1,
    dtype: str = "bf16",
    kv_dtype: str | None = None,
    weight_dtype: str | None = None,
    group_size: int = 128,
    hardware: str | None = None,
    gpus: int = 1,
    tp: int = 1,
    pp: int = 1,
    optimizer: str = "adamw",
    mfu: float = 0.4,
    train_seq_len: int | None = None,
    training: bool = True,
    decode_points: int = 3,
    allow_longer: bool = False,
) -> LLMReport:
    """Prefill, decode and training cost of a Hugging Face causal LM on a chip.

    `prompt_len` defaults to 2048 tokens, fewer where the model's positions hold less (with
    `gen_len`). A prompt plus generation longer than the model's positions is refused unless
    `allow_longer` (then the report's notes say so)."""
    from ..sources import resolve
    from ..sources.base import build_model

    default_prompt = prompt_len is None
    for name, value in (("prompt_len", prompt_len or DEFAULT_PROMPT_LEN), ("gen_len", gen_len),
                        ("batch_size", batch_size), ("gpus", gpus), ("tp", tp), ("pp", pp)):
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if gpus % (tp * pp):
        raise ConfigError(f"gpus ({gpus}) must be a multiple of tp × pp ({tp * pp})")
    if not 0 < mfu <= 1:
        raise ConfigError(f"mfu must be in (0, 1], got {mfu}")
    chip = get_chip(hardware)
    torch_dtype = parse_dtype(dtype)
    weight_format = quantized_format(weight_dtype, group_size) if weight_dtype else None
    kv_format = quantized_format(kv_dtype) if kv_dtype else None
    # the captures make their own inputs: the source only builds the model
    source = resolve(model, batch_size=batch_size)
    limit = source.metadata.get("max_sequence_length")
    longer = []
    if default_prompt:
        prompt_len = DEFAULT_PROMPT_LEN
        if limit and prompt_len + gen_len > limit and limit - gen_len >= 1:
            prompt_len = limit - gen_len
            longer.append(f"prompt_len {prompt_len}: the default {DEFAULT_PROMPT_LEN} cut to "
                          f"the model's {limit} positions less gen_len {gen_len}")
    if limit and prompt_len + gen_len > limit:
        if not allow_longer:
            raise ConfigError(f"prompt_len + gen_len = {prompt_len + gen_len} is beyond the "
                              f"model's {limit} positions; pass --allow-longer "
                              "(allow_longer=True) to estimate it anyway")
        longer.append(f"prompt + generation ({prompt_len + gen_len} tokens) beyond the model's "
                      f"{limit} positions (allow_longer)")
    if training and train_seq_len and limit and train_seq_len > limit and not allow_longer:
        raise ConfigError(f"train_seq_len {train_seq_len} is beyond the model's {limit} "
                          "positions; pass --allow-longer (allow_longer=True) to estimate it")
    needs = (f"{model}: `llm` needs a Hugging Face decoder-only causal LM (catalog id, hub id, "
             "directory or config.json)")
    if source.kind != "hf":
        raise SpecError(needs)
    module, _ = build_model(source)
    config = module.config
    if getattr(config, "is_encoder_decoder", False) or not module.can_generate():
        raise SpecError(needs)
    accepted = set(inspect.signature(type(module).forward).parameters)

    def measure(past: int, new: int) -> tuple[Capture, StepCost, set[int]]:
        cap = capture(module, _step_inputs(config, accepted, batch_size, past, new, torch_dtype),
                      name=model, dtype=torch_dtype)
        quantized = matmul_weight_storages(cap) if weight_format else set()
        formats = {frozenset(quantized): weight_format} if weight_format else {}
        if kv_format:
            formats[frozenset(cap.storages("kv_cache"))] = kv_format
        cap = with_storage_formats(cap, formats)
        return cap, step_cost(cap, chip, op_costs(cap)), quantized

    prefill_capture, prefill, quantized = measure(0, prompt_len)
    kv_specs = _specs_by_storage(prefill_capture, prefill_capture.storages("kv_cache"))
    kv_per_token = sum(s.nbytes for s in kv_specs.values()) // (batch_size * prompt_len)
    decode = []
    for context in _contexts(prompt_len, gen_len, decode_points):
        _, step, _ = measure(context, 1)
        decode.append(DecodePoint(context, step, batch_size * tp / step.time_s))
    decode_time = _decode_time(decode, prompt_len, gen_len) / tp
    ttft = prefill.time_s / tp
    scaling = BatchScaling.from_step(decode[len(decode) // 2].step, batch_size)
    params = sum(p.numel for p in prefill_capture.params if not p.is_buffer)
    active = params
    moe = source.metadata.get("moe")
    if moe:
        from ..analysis.moe import moe_report

        active = moe_report(prefill_capture, op_costs(prefill_capture), *moe).active_params
    weights_bytes = sum(p.nbytes for p in prefill_capture.params if not p.is_buffer)
    if weight_format:
        element = dtype_size(weight_format) - torch_dtype.itemsize
        weights_bytes += int(sum(s.numel * element for s in
                                 _specs_by_storage(prefill_capture, quantized).values()))
    costs = op_costs(prefill_capture)
    _, prefill_peak = peak_live_bytes(prefill_capture, costs, (FORWARD,))
    context = prompt_len + gen_len
    kv_cache_bytes = kv_per_token * batch_size * context
    needed = weights_bytes + kv_cache_bytes + prefill_peak
    available = int(chip.memory_bytes * gpus * MEMORY_HEADROOM)
    per_sequence = kv_per_token * context + prefill_peak // batch_size
    max_batch = max(0, (available - weights_bytes) // per_sequence) if per_sequence else 0
    per_token = kv_per_token * batch_size + prefill_peak // prompt_len
    max_context = max(0, (available - weights_bytes) // per_token) if per_token else 0
    report = LLMReport(
        model=model,
        hardware=chip,
        settings={"batch_size": batch_size, "prompt_len": prompt_len, "gen_len": gen_len,
                  "dtype": dtype_name(torch_dtype), "kv_dtype": kv_format or dtype_name(torch_dtype),
                  "weight_dtype": weight_format or dtype_name(torch_dtype),
                  "group_size": group_size if weight_dtype else None, "gpus": gpus, "tp": tp,
                  "pp": pp, "optimizer": optimizer, "mfu": mfu,
                  "memory_headroom": MEMORY_HEADROOM},
        params=params,
        active_params=active,
        weights_bytes=weights_bytes,
        kv_bytes_per_token=kv_per_token,
        kv_cache_bytes=kv_cache_bytes,
        prefill=prefill,
        time_to_first_token_s=ttft,
        decode=decode,
        decode_time_s=decode_time,
        decode_tokens_per_second=batch_size * gen_len / decode_time if decode_time else 0.0,
        end_to_end_s=ttft + decode_time,
        decode_scaling=scaling,
        compute_bound_from_batch=scaling.compute_bound_from(chip, dtype_name(torch_dtype)),
        memory_needed_bytes=needed,
        memory_available_bytes=available,
        max_batch=int(max_batch),
        max_context=int(max_context),
        notes=longer + [n for n in prefill_capture.notes if n.startswith("capture method")],
    )
    if training:
        _add_training(report, module, model, config, chip, torch_dtype, optimizer, mfu,
                      train_seq_len or prompt_len, gpus, tp, pp, allow_longer)
    return report


def _specs_by_storage(cap: Capture, storages: set[int]) -> dict[int, TensorSpec]:
    """The largest spec seen for each storage (a cache tensor, not a slice of it)."""
    found: dict[int, TensorSpec] = {}
    for op in cap.ops:
        for spec in list(op.inputs) + list(op.outputs):
            if spec.storage in storages and spec.numel >= found.get(spec.storage, spec).numel:
                found[spec.storage] = spec
    return found


def _add_training(report: LLMReport, module, model: str, config, chip: Chip,
                  dtype: torch.dtype, optimizer: str, mfu: float, seq_len: int, gpus: int,
                  tp: int, pp: int, allow_longer: bool = False) -> None:
    """Training FLOPs per token and memory from a forward+backward capture of one sequence."""
    from ..sources import resolve

    source = resolve(model, seq_len=seq_len, batch_size=1, allow_longer=allow_longer)
    cap = capture(module, source.make_inputs, name=model, dtype=dtype, backward=True)
    costs = op_costs(cap)
    step_flops = sum(c.flops for c in costs)
    flops_per_token = step_flops / seq_len
    _, activations = peak_live_bytes(cap, costs, (FORWARD, BACKWARD))
    layers = getattr(config, "num_hidden_layers", 1) or 1
    hidden_state = seq_len * config.hidden_size * dtype.itemsize
    checkpointed = layers * hidden_state + activations // layers
    params = report.params
    report.training = training_memory(
        params, weight_bytes_per_param=dtype.itemsize, optimizer=optimizer,
        activations_bytes=activations, activations_checkpointed_bytes=checkpointed,
        gpus=gpus, tensor_parallel=tp, pipeline_parallel=pp)
    report.training_flops_per_token = flops_per_token
    report.training_tokens_per_day = tokens_per_day(flops_per_token, chip.peak(dtype_name(dtype)),
                                                    gpus, mfu)
    report.settings["train_seq_len"] = seq_len
