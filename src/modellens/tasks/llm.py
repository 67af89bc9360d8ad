"""LLM inference and training cost: prefill, decode with a real KV cache, memory fit, training.

Every figure comes from captures of the model on fake tensors: a prefill of the prompt, decode
steps at a few context lengths with a KV cache of that length (HF `StaticCache`, so a step reads
the whole cache and writes one token, as serving engines do), and a forward+backward pass for
training. Quantized weights and an fp8 KV cache change the stored element size of those tensors
after capture (`analysis.inference.with_storage_formats`); FLOPs are unchanged (weight-only
quantization computes in the activation dtype).

Tensor parallelism divides the sharded ops' FLOPs and bytes over `tp` GPUs and adds two ring
all-reduces per layer on the chip's interconnect; memory capacity is the sum over `gpus`.
Decode at other batch sizes (tokens/s by batch, the batch where decode turns compute-bound)
times the captured step's kernels at each batch (`analysis.inference.BatchScaling`).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import torch
from torch import nn

from ..analysis import Analysis
from ..analysis.attention import FULL, AttentionCount, check_convention
from ..analysis.inference import (
    BatchScaling,
    Communication,
    StepCost,
    matmul_weight_storages,
    step_cost,
    with_storage_formats,
)
from ..analysis.fusion import EXECUTIONS, FUSED
from ..analysis.memory_fit import MEMORY_HEADROOM
from ..analysis.training import TrainingMemory, tokens_per_day, training_memory
from ..capture import BACKWARD, FORWARD, Capture, SampleInputs, capture, gc_paused
from ..capture.records import TensorSpec
from ..dtypes import dtype_name, dtype_size, parse_dtype, quantized_format
from ..errors import ConfigError, SpecError
from ..hardware import Chip
from ..io import document, fields_dict, to_jsonable
from .pipeline import resolve_chips

DEFAULT_PROMPT_LEN = 2048
FP8_NAMES = ("fp8", "float8", "float8_e4m3fn")


@dataclass(frozen=True)
class DecodePoint:
    context: int  # tokens already in the cache
    step: StepCost  # one decode step for the whole batch
    tokens_per_second: float  # batch / step time

    def to_dict(self) -> dict:
        return {"context": self.context, **to_jsonable(self.step),
                "tokens_per_second": self.tokens_per_second}


@dataclass(frozen=True)
class ChipEstimate:
    """What one of several chips (`--hardware a,b,c`) makes of the same captures: the
    chip-dependent figures of an LLMReport."""

    chip: Chip
    time_to_first_token_s: float
    decode_time_s: float
    decode_tokens_per_second: float
    end_to_end_s: float
    compute_bound_from_batch: int | None
    fits: bool
    memory_available_bytes: int
    max_batch: int
    max_context: int
    training_tokens_per_day: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return fields_dict(self, chip=None) | {"chip": self.chip.id, "name": self.chip.name}


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
    chips: list[ChipEstimate] = field(default_factory=list)  # several chips asked, in order
    attention: AttentionCount = field(default_factory=AttentionCount)  # prefill's convention

    @property
    def fits(self) -> bool:
        return self.memory_needed_bytes <= self.memory_available_bytes

    def tokens_per_second_by_batch(self, batches: list[int], chip: Chip | None = None):
        """Decode tokens/s of the whole batch (the tp GPUs serve it together) at each batch."""
        chip = chip or self.hardware
        return [self.decode_scaling.tokens_per_second(b, chip) for b in batches]

    def to_dict(self) -> dict[str, Any]:
        return document({
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
            "prefill": {**to_jsonable(self.prefill),
                        "time_to_first_token_s": self.time_to_first_token_s},
            "decode": {
                "points": self.decode,
                "time_s": self.decode_time_s,
                "tokens_per_second": self.decode_tokens_per_second,
                "compute_bound_from_batch": self.compute_bound_from_batch,
                "scaling": self.decode_scaling,
            },
            "end_to_end_s": self.end_to_end_s,
            "attention_flops": self.attention,
            "training": None if self.training is None else {
                **to_jsonable(self.training),
                "flops_per_token": self.training_flops_per_token,
                "tokens_per_day": self.training_tokens_per_day,
            },
            "notes": list(self.notes),
            **({"chips": self.chips} if len(self.chips) > 1 else {}),
        })


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
            # transformers >= 5.25 renames `past_key_values` to `cache` (the old name warns)
            ("cache" if "cache" in accepted else "past_key_values"): cache,
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


@dataclass(frozen=True)
class _Model:
    """The causal LM under study, on meta, and how its steps are captured."""

    name: str
    module: nn.Module
    dtype: torch.dtype
    batch: int
    weight_format: str | None  # weight-only quantization of matmul weights
    kv_format: str | None
    tp: int = 1  # tensor-parallel degree: each step is timed per GPU, with its all-reduces
    compute_dtype: str | None = None  # matmuls' dtype when not the captured one (fp8)
    execution: str = FUSED  # kernels as a serving engine runs them (analysis.fusion)
    attention: str = FULL  # the attention FLOP convention (analysis.attention)

    @property
    def config(self):
        return self.module.config

    @property
    def communication(self) -> Communication:
        """What the step's all-reduces depend on (activations in the compute dtype)."""
        element = torch.finfo(self.dtype).bits // 8 if self.compute_dtype is None else 1
        return Communication(getattr(self.config, "num_hidden_layers", 1),
                             self.config.hidden_size, element, self.tp)

    def step(self, analysis: Analysis, chip: Chip, tokens: int) -> StepCost:
        """The step's time per GPU: its ops sharded over `tp`, plus the all-reduces of the
        `tokens` (all sequences) it processes."""
        comm = self.communication.seconds(chip, tokens)
        return step_cost(analysis, chip, self.tp, self.compute_dtype, comm, self.execution)

    def scaling(self, analysis: Analysis) -> BatchScaling:
        """How the captured decode step `analysis` scales with batch size."""
        return BatchScaling.from_analysis(analysis, self.batch, self.communication,
                                          self.compute_dtype, self.execution)

    def measure(self, past: int, new: int) -> tuple[Analysis, set[int]]:
        """A forward of `new` tokens after `past` cached ones, with the storage formats applied,
        and the parameter storages quantized."""
        accepted = set(inspect.signature(type(self.module).forward).parameters)
        cap = capture(self.module, _step_inputs(self.config, accepted, self.batch, past, new,
                                                self.dtype),
                      name=self.name, dtype=self.dtype)
        quantized = matmul_weight_storages(cap) if self.weight_format else set()
        formats = {frozenset(quantized): self.weight_format} if self.weight_format else {}
        if self.kv_format:
            formats[frozenset(cap.storages("kv_cache"))] = self.kv_format
        return Analysis(with_storage_formats(cap, formats), attention=self.attention), quantized


@dataclass(frozen=True)
class _Prefill:
    """The prompt's forward pass, and what memory it implies."""

    analysis: Analysis
    step: StepCost
    kv_per_token: int  # one sequence, all layers
    weights_bytes: int  # as stored
    peak_activations: int


class _Fit(NamedTuple):
    """What fits in the GPUs' memory."""

    kv_cache_bytes: int
    needed: int
    available: int
    max_batch: int
    max_context: int


def _check(prompt_len: int, gen_len: int, batch_size: int, gpus: int, tp: int, pp: int,
           mfu: float) -> None:
    """Usage errors, before any work."""
    for name, value in (("prompt_len", prompt_len), ("gen_len", gen_len),
                        ("batch_size", batch_size), ("gpus", gpus), ("tp", tp), ("pp", pp)):
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if gpus % (tp * pp):
        raise ConfigError(f"gpus ({gpus}) must be a multiple of tp × pp ({tp * pp})")
    if not 0 < mfu <= 1:
        raise ConfigError(f"mfu must be in (0, 1], got {mfu}")


def _prompt_length(source, prompt_len: int | None, gen_len: int, train_seq_len: int | None,
                   training: bool, allow_longer: bool) -> tuple[int, list[str]]:
    """(prompt length, notes): the default 2048 cut to the model's positions less `gen_len`; a
    prompt plus generation (or a training sequence) beyond them refused unless allow_longer."""
    limit = source.metadata.get("max_sequence_length")
    notes = []
    if prompt_len is None:
        prompt_len = DEFAULT_PROMPT_LEN
        if limit and prompt_len + gen_len > limit and limit - gen_len >= 1:
            prompt_len = limit - gen_len
            notes.append(f"prompt_len {prompt_len}: the default {DEFAULT_PROMPT_LEN} cut to "
                         f"the model's {limit} positions less gen_len {gen_len}")
    if limit and prompt_len + gen_len > limit:
        if not allow_longer:
            raise ConfigError(f"prompt_len + gen_len = {prompt_len + gen_len} is beyond the "
                              f"model's {limit} positions; pass --allow-longer "
                              "(allow_longer=True) to estimate it anyway")
        notes.append(f"prompt + generation ({prompt_len + gen_len} tokens) beyond the model's "
                     f"{limit} positions (allow_longer)")
    if training and train_seq_len and limit and train_seq_len > limit and not allow_longer:
        raise ConfigError(f"train_seq_len {train_seq_len} is beyond the model's {limit} "
                          "positions; pass --allow-longer (allow_longer=True) to estimate it")
    return prompt_len, notes


def _load(model: str, batch_size: int, trust_remote_code: bool = False):
    """(source, module on meta) of a decoder-only causal LM. The captures make their own
    inputs: the source only builds the model."""
    from ..sources import resolve
    from ..sources.base import build_model

    source = resolve(model, batch_size=batch_size, trust_remote_code=trust_remote_code)
    needs = (f"{model}: `llm` needs a Hugging Face decoder-only causal LM (catalog id, hub id, "
             "directory or config.json)")
    if source.kind != "hf":
        raise SpecError(needs)
    module, _ = build_model(source)
    if getattr(module.config, "is_encoder_decoder", False) or not module.can_generate():
        raise SpecError(needs)
    return source, module


def _prefill(lm: _Model, prompt_len: int, chip: Chip) -> _Prefill:
    """The prompt's forward pass, captured and costed once, and the memory it implies."""
    analysis, quantized = lm.measure(0, prompt_len)
    cap = analysis.capture
    kv_specs = _specs_by_storage(cap, cap.storages("kv_cache"))
    kv_per_token = sum(s.nbytes for s in kv_specs.values()) // (lm.batch * prompt_len)
    weights_bytes = analysis.params().params_bytes
    if lm.weight_format:
        element = dtype_size(lm.weight_format) - lm.dtype.itemsize
        weights_bytes += int(sum(s.numel * element for s in
                                 _specs_by_storage(cap, quantized).values()))
    _, peak = analysis.activations((FORWARD,))
    step = lm.step(analysis, chip, lm.batch * prompt_len)
    return _Prefill(analysis, step, kv_per_token, weights_bytes, peak)


def _decode_captures(lm: _Model, prompt_len: int, gen_len: int,
                     points: int) -> list[tuple[int, Analysis]]:
    """One decode step captured at each of `points` contexts over the generation."""
    return [(context, lm.measure(context, 1)[0])
            for context in _contexts(prompt_len, gen_len, points)]


def _decode(lm: _Model, steps: list[tuple[int, Analysis]], chip: Chip) -> list[DecodePoint]:
    """The decode steps timed on `chip`."""
    decode = []
    for context, analysis in steps:
        step = lm.step(analysis, chip, lm.batch)
        decode.append(DecodePoint(context, step, lm.batch / step.time_s))
    return decode


def _estimate(lm: _Model, prefill: _Prefill, steps: list[tuple[int, Analysis]], chip: Chip,
              prompt_len: int, gen_len: int, gpus: int) -> tuple[list[DecodePoint], ChipEstimate]:
    """The captures timed and fitted on `chip`: its decode points and chip-dependent figures."""
    decode = _decode(lm, steps, chip)
    decode_time = _decode_time(decode, prompt_len, gen_len)
    ttft = lm.step(prefill.analysis, chip, lm.batch * prompt_len).time_s
    fit = _fit(prefill, lm.batch, prompt_len, gen_len, chip, gpus)
    scaling = lm.scaling(steps[len(steps) // 2][1])
    return decode, ChipEstimate(
        chip, ttft, decode_time, lm.batch * gen_len / decode_time if decode_time else 0.0,
        ttft + decode_time, scaling.compute_bound_from(chip),
        fit.needed <= fit.available, fit.available, fit.max_batch, fit.max_context)


def _fit(prefill: _Prefill, batch: int, prompt_len: int, gen_len: int, chip: Chip,
         gpus: int) -> _Fit:
    """Weights + KV cache + peak prefill activations against the GPUs' memory."""
    kv, peak, weights = prefill.kv_per_token, prefill.peak_activations, prefill.weights_bytes
    context = prompt_len + gen_len
    kv_cache_bytes = kv * batch * context
    available = int(chip.memory_bytes * gpus * MEMORY_HEADROOM)
    per_sequence = kv * context + peak // batch
    max_batch = max(0, (available - weights) // per_sequence) if per_sequence else 0
    per_token = kv * batch + peak // prompt_len
    max_context = max(0, (available - weights) // per_token) if per_token else 0
    return _Fit(kv_cache_bytes, weights + kv_cache_bytes + peak, available, int(max_batch),
                int(max_context))


@gc_paused()  # builds and captures four times, analyses each: see capture.gc_paused
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
    hardware: str | Chip | list[str | Chip] | None = None,
    gpus: int = 1,
    tp: int = 1,
    pp: int = 1,
    optimizer: str = "adamw",
    mfu: float = 0.4,
    train_seq_len: int | None = None,
    training: bool = True,
    decode_points: int = 3,
    allow_longer: bool = False,
    trust_remote_code: bool = False,
    execution: str = FUSED,
    attention_flops: str = FULL,
) -> LLMReport:
    """Prefill, decode and training cost of a Hugging Face causal LM on a chip.

    `prompt_len` defaults to 2048 tokens, fewer where the model's positions hold less (with
    `gen_len`). A prompt plus generation longer than the model's positions is refused unless
    `allow_longer` (then the report's notes say so). `execution`: "fused" (default) times the
    kernels a serving engine runs (`analysis.fusion`), "eager" every aten op alone.
    `hardware` may be a list of chips: the first is the report's chip, and `report.chips`
    holds every chip's estimate from the same captures.
    `attention_flops="causal"` counts self-attention over the query-key pairs its causal mask
    keeps (prefill S(S+1)/2, a decode step all its keys) instead of torch's full count."""
    check_convention(attention_flops)
    _check(prompt_len or DEFAULT_PROMPT_LEN, gen_len, batch_size, gpus, tp, pp, mfu)
    chips = resolve_chips(hardware)
    chip = chips[0]
    fp8 = dtype.lower() in FP8_NAMES  # fp8 matmuls: captured in bf16, timed at the fp8 peak
    torch_dtype = torch.bfloat16 if fp8 else parse_dtype(dtype)
    weight_format = (quantized_format(weight_dtype, group_size) if weight_dtype
                     else quantized_format("fp8") if fp8 else None)
    kv_format = quantized_format(kv_dtype) if kv_dtype else None
    source, module = _load(model, batch_size, trust_remote_code)
    prompt_len, longer = _prompt_length(source, prompt_len, gen_len, train_seq_len, training,
                                        allow_longer)
    if execution not in EXECUTIONS:
        raise ConfigError(f"execution must be one of {', '.join(EXECUTIONS)}, got {execution!r}")
    lm = _Model(model, module, torch_dtype, batch_size, weight_format, kv_format, tp,
                "float8_e4m3fn" if fp8 else None, execution, attention_flops)
    prefill = _prefill(lm, prompt_len, chip)
    steps = _decode_captures(lm, prompt_len, gen_len, decode_points)
    decode, first = _estimate(lm, prefill, steps, chip, prompt_len, gen_len, gpus)
    params = prefill.analysis.params().total
    moe = source.metadata.get("moe")
    fit = _fit(prefill, batch_size, prompt_len, gen_len, chip, gpus)
    name = dtype_name(torch_dtype)
    report = LLMReport(
        model=model,
        hardware=chip,
        settings={"batch_size": batch_size, "prompt_len": prompt_len, "gen_len": gen_len,
                  "dtype": name, "kv_dtype": lm.kv_format or name,
                  "weight_dtype": lm.weight_format or name,
                  "group_size": group_size if weight_dtype else None, "gpus": gpus, "tp": tp,
                  "pp": pp, "optimizer": optimizer, "mfu": mfu, "execution": execution,
                  "memory_headroom": MEMORY_HEADROOM, "attention_flops": attention_flops},
        params=params,
        active_params=prefill.analysis.moe(*moe).active_params if moe else params,
        weights_bytes=prefill.weights_bytes,
        kv_bytes_per_token=prefill.kv_per_token,
        kv_cache_bytes=fit.kv_cache_bytes,
        prefill=prefill.step,
        time_to_first_token_s=first.time_to_first_token_s,
        decode=decode,
        decode_time_s=first.decode_time_s,
        decode_tokens_per_second=first.decode_tokens_per_second,
        end_to_end_s=first.end_to_end_s,
        decode_scaling=lm.scaling(steps[len(steps) // 2][1]),
        compute_bound_from_batch=first.compute_bound_from_batch,
        memory_needed_bytes=fit.needed,
        memory_available_bytes=first.memory_available_bytes,
        max_batch=first.max_batch,
        max_context=first.max_context,
        notes=longer + [n for n in prefill.analysis.capture.notes
                        if n.startswith("capture method")],
        attention=prefill.analysis.attention,
    )
    if training:
        _add_training(report, lm, chip, optimizer, mfu, train_seq_len or prompt_len, gpus, tp, pp,
                      allow_longer, trust_remote_code)
    if len(chips) > 1:
        others = [_estimate(lm, prefill, steps, other, prompt_len, gen_len, gpus)[1]
                  for other in chips[1:]]
        report.chips = [_with_training(e, report, lm, gpus, mfu) for e in [first, *others]]
    return report


def _with_training(estimate: ChipEstimate, report: LLMReport, lm: _Model, gpus: int,
                   mfu: float) -> ChipEstimate:
    """The estimate with the training tokens/day on its chip (when training was estimated)."""
    if report.training_flops_per_token is None:
        return estimate
    return replace(estimate, training_tokens_per_day=tokens_per_day(
        report.training_flops_per_token, estimate.chip.peak(dtype_name(lm.dtype)), gpus, mfu))


def _specs_by_storage(cap: Capture, storages: set[int]) -> dict[int, TensorSpec]:
    """The largest spec seen for each storage (a cache tensor, not a slice of it)."""
    found: dict[int, TensorSpec] = {}
    for op in cap.ops:
        for spec in list(op.inputs) + list(op.outputs):
            if spec.storage in storages and spec.numel >= found.get(spec.storage, spec).numel:
                found[spec.storage] = spec
    return found


def _add_training(report: LLMReport, lm: _Model, chip: Chip, optimizer: str, mfu: float,
                  seq_len: int, gpus: int, tp: int, pp: int, allow_longer: bool = False,
                  trust_remote_code: bool = False) -> None:
    """Training FLOPs per token and memory from a forward+backward capture of one sequence."""
    from ..sources import resolve

    source = resolve(lm.name, seq_len=seq_len, batch_size=1, allow_longer=allow_longer,
                     trust_remote_code=trust_remote_code)
    analysis = Analysis(capture(lm.module, source.make_inputs, name=lm.name, dtype=lm.dtype,
                                backward=True), attention=lm.attention)
    totals = analysis.totals()
    flops_per_token = (totals.forward + totals.backward) / seq_len
    _, activations = analysis.activations((FORWARD, BACKWARD))
    layers = getattr(lm.config, "num_hidden_layers", 1) or 1
    hidden_state = seq_len * lm.config.hidden_size * lm.dtype.itemsize
    checkpointed = layers * hidden_state + activations // layers
    report.training = training_memory(
        report.params, weight_bytes_per_param=lm.dtype.itemsize, optimizer=optimizer,
        activations_bytes=activations, activations_checkpointed_bytes=checkpointed,
        gpus=gpus, tensor_parallel=tp, pipeline_parallel=pp)
    report.training_flops_per_token = flops_per_token
    report.training_tokens_per_day = tokens_per_day(flops_per_token,
                                                    chip.peak(dtype_name(lm.dtype)), gpus, mfu)
    report.settings["train_seq_len"] = seq_len
