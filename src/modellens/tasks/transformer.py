"""Seed 001: profile a transformer described by a small JSON config -> FLOPs, model size, timings.

The config and the model it describes are in `modellens.sources.transformer`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..analysis import Analysis
from ..analysis.attention import FULL, AttentionCount, check_convention
from ..analysis.flops import FlopTotals, OperatorStats
from ..capture import BACKWARD, FORWARD, SampleInputs
from ..dtypes import parse_dtype
from ..errors import ConfigError
from ..io import JsonRecord, Progress, document, to_json, write_text
from ..measure.timing import TimedPart, TimingReport, check_device, time_parts
from ..sources.transformer import (
    DTYPE_BYTES,
    ConfigTransformer,
    DecoderBlock,
    TransformerConfig,
    _source,
    encoder_block,
    load_config,
    model_inputs,
)
from .pipeline import capture_source

DEFAULT_SCALE_BWD_FLOPS = 2.0  # the seed's estimate: backward = 2 x forward


# --- the profile -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockStats(JsonRecord):
    """One kind of part: `path` is the block whose numbers are shown (the last of its stack, so
    its backward includes the input gradient every block but the first computes)."""

    kind: str  # "encoder_block", "decoder_block", or "embedding_and_head"
    path: str
    count: int
    params: int
    forward_flops: int
    backward_flops: int


@dataclass
class TransformerProfile:
    name: str
    config: TransformerConfig
    settings: dict[str, Any]
    capture_method: str
    params: int
    flops: FlopTotals
    scale_bwd_flops: float
    backward_source: str  # "measured" (autograd capture) or "scaled" (--scale-bwd-flops)
    blocks: list[BlockStats]
    operators: list[OperatorStats]
    timing: TimingReport | None
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    attention: AttentionCount = field(default_factory=AttentionCount)

    @property
    def backward_scaled(self) -> int:
        return round(self.scale_bwd_flops * self.flops.forward)

    @property
    def backward_flops(self) -> int:
        """The backward figure the .txt reports."""
        return self.backward_scaled if self.backward_source == "scaled" else self.flops.backward

    @property
    def model_size_bytes(self) -> int:
        return self.model_size_by_dtype[self.settings["dtype"]]

    @property
    def model_size_by_dtype(self) -> dict[str, int]:
        return {dtype: self.params * size for dtype, size in DTYPE_BYTES.items()}

    def seed_text(self) -> str:
        """The seed's five lines."""
        timing = self.timing
        forward = timing.forward_s if timing else None
        backward = timing.backward_s if timing else None
        return (f"Forward Flops:{self.flops.forward}\n"
                f"Backward Flops:{self.backward_flops}\n"
                f"Model Size (Bytes):{self.model_size_bytes}\n"
                f"Average Forward Time (s):{_seconds(forward)}\n"
                f"Average Backward Time (s):{_seconds(backward)}\n")

    def to_dict(self) -> dict[str, Any]:
        flops = self.flops
        return document({
            "name": self.name, "config": self.config, "settings": self.settings,
            "capture_method": self.capture_method, "params": self.params,
            "model_size_bytes": self.model_size_bytes,
            "model_size_bytes_by_dtype": self.model_size_by_dtype,
            "flops": {
                "forward": flops.forward,
                "forward_all": flops.forward_all,
                "backward_measured": flops.backward,
                "backward_measured_all": flops.backward_all,
                "backward_scaled": self.backward_scaled,
                "scale_bwd_flops": self.scale_bwd_flops,
                "backward_reported": self.backward_flops,
                "backward_reported_source": self.backward_source,
                "convention": "matmul-class FLOPs, 1 MAC = 2 FLOPs; *_all adds elementwise, "
                              "softmax and norm work; attention " + self.attention.describe(),
            },
            "attention_flops": self.attention,
            "blocks": self.blocks, "flops_by_op": self.operators, "timing": self.timing,
            "notes": self.notes, "files": self.files,
        })

    def write(self, out_dir: str | Path) -> list[Path]:
        """`<out_dir>/<name>.json` and the seed's `<out_dir>/<name>.txt`, each atomically."""
        out = Path(out_dir)
        paths = [out / f"{self.name}.json", out / f"{self.name}.txt"]
        self.files = [str(p) for p in paths]
        texts = [to_json(self.to_dict()), self.seed_text()]
        for path, text in zip(paths, texts):
            write_text(path, text)
        return paths


def _seconds(value: float | None) -> str:
    return "nan" if value is None else f"{value:.6g}"


def _in_block(path: str) -> bool:
    return path.startswith(("encoder.", "decoder."))


def _part_stats(kind: str, path: str, count: int, part: Analysis) -> BlockStats:
    flops = part.totals()
    return BlockStats(kind, path, count, part.params().total, flops.forward, flops.backward or 0)


def _block_stats(analysis: Analysis, cfg: TransformerConfig) -> list[BlockStats]:
    stats = []
    for kind, stack, count in (("encoder_block", "encoder", cfg.num_encoder_blocks),
                               ("decoder_block", "decoder", cfg.num_decoder_blocks)):
        if count:
            path = f"{stack}.{count - 1}"
            stats.append(_part_stats(kind, path, count, analysis.slice(path)))
    if cfg.vocab_size:
        outside = analysis.where(lambda module: not _in_block(module))
        stats.append(_part_stats("embedding_and_head", "embedding, head", 1, outside))
    return stats


def _needed_bytes(analysis: Analysis, prefix: str | None) -> int:
    """Weights + gradients + peak live activations of forward and backward (inside `prefix`)."""
    part = analysis if prefix is None else analysis.slice(prefix)
    _, peak = part.activations((FORWARD, BACKWARD))
    inputs = sum(s.nbytes for s in analysis.capture.modules[prefix or ""].input_specs)
    return 2 * sum(p.nbytes for p in part.capture.params) + peak + inputs


def _timed_parts(cfg: TransformerConfig, analysis: Analysis, batch_size: int,
                 torch_dtype: torch.dtype) -> tuple[list[TimedPart], TimedPart]:
    """The seed's parts (one encoder block, one decoder block; inputs that need gradients, as
    inside the model) and the whole model, with the memory each needs from the capture."""

    def hidden(tokens: int) -> torch.Tensor:
        return torch.randn(batch_size, tokens, cfg.embed_dim, dtype=torch_dtype,
                           requires_grad=True)

    def decoder_inputs() -> SampleInputs:
        memory = (hidden(cfg.cross_seq_len),) if cfg.cross_seq_len else ()
        return SampleInputs((hidden(cfg.seq_len), *memory))

    blocks = []
    if cfg.num_encoder_blocks:
        path = f"encoder.{cfg.num_encoder_blocks - 1}"
        blocks.append(TimedPart("encoder_block", cfg.num_encoder_blocks,
                                lambda: encoder_block(cfg, torch_dtype),
                                lambda: SampleInputs((hidden(cfg.encoder_seq_len),)),
                                _needed_bytes(analysis, path)))
    if cfg.num_decoder_blocks:
        path = f"decoder.{cfg.num_decoder_blocks - 1}"
        blocks.append(TimedPart("decoder_block", cfg.num_decoder_blocks,
                                lambda: DecoderBlock(cfg, torch_dtype), decoder_inputs,
                                _needed_bytes(analysis, path)))
    whole = TimedPart("model", 1, lambda: ConfigTransformer(cfg, torch_dtype),
                      lambda: model_inputs(cfg, batch_size, torch_dtype),
                      _needed_bytes(analysis, None))
    return blocks, whole


def profile_transformer_config(
    path_or_dict: str | Path | dict,
    batch_size: int = 1,
    dtype: str = "float32",
    device: str = "cpu",
    scale_bwd_flops: float | None = None,
    repeats: int = 10,
    timing: bool = True,
    out_dir: str | Path | None = None,
    *,
    warmup: int = 2,
    name: str | None = None,
    progress: Progress | None = None,
    attention_flops: str = FULL,
) -> TransformerProfile:
    """Seed 001: forward/backward FLOPs (one fake-tensor capture with autograd, any size),
    model size for `dtype`, and (with `timing`) measured per-block and whole-model timings.

    Backward FLOPs are measured from the autograd capture; `scale_bwd_flops` reports
    `scale × forward` instead (the seed's estimate; both are in the JSON). With `out_dir`,
    writes `<name>.txt` (the seed's five lines) and `<name>.json`, only after everything ran.
    `attention_flops="causal"` counts the decoder's causal self-attention over the query-key
    pairs its mask keeps (encoder and cross-attention stay full; see `analysis.attention`).
    """
    check_convention(attention_flops)

    name, cfg = load_config(path_or_dict, name)
    if dtype not in DTYPE_BYTES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPE_BYTES)}, got {dtype!r}")
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    if scale_bwd_flops is not None and not (isinstance(scale_bwd_flops, (int, float))
                                            and math.isfinite(scale_bwd_flops)
                                            and scale_bwd_flops > 0):
        raise ConfigError(f"scale_bwd_flops must be a positive number, got {scale_bwd_flops!r}")
    if timing:
        check_device(device, dtype == "int8")
        if repeats < 1 or warmup < 0:
            raise ConfigError(f"repeats must be >= 1 and warmup >= 0, got {repeats}, {warmup}")
    float_dtype = "float32" if dtype == "int8" else dtype
    captured = capture_source(_source(cfg, name, batch_size), backward=True, dtype=float_dtype,
                              attention=attention_flops)
    analysis, capture = captured.analysis, captured.capture
    report = None
    if timing:
        blocks, whole = _timed_parts(cfg, analysis, batch_size, parse_dtype(float_dtype))
        report = time_parts(blocks, whole, device=device, dtype=dtype, repeats=repeats,
                            warmup=warmup, progress=progress)
    result = TransformerProfile(
        name=name,
        config=cfg,
        settings={"batch_size": batch_size, "dtype": dtype, "device": device,
                  "inputs": captured.source.input_description,
                  "attention_flops": attention_flops},
        capture_method=capture.method,
        params=analysis.params().total,
        flops=analysis.totals(),
        scale_bwd_flops=DEFAULT_SCALE_BWD_FLOPS if scale_bwd_flops is None else scale_bwd_flops,
        backward_source="measured" if scale_bwd_flops is None else "scaled",
        blocks=_block_stats(analysis, cfg),
        operators=analysis.by_operator(),
        timing=report,
        notes=list(capture.notes) + [_backward_note(cfg)],
        attention=analysis.attention,
    )
    outside = [b for b in result.blocks if b.kind == "embedding_and_head"]
    if report is not None and outside:
        share = outside[0].forward_flops / result.flops.forward
        result.notes.append(f"the blocks × count times leave out the embedding and head "
                            f"({share:.1%} of forward FLOPs); the whole-model time includes them")
    if out_dir is not None:
        result.write(out_dir)
    return result


def _backward_note(cfg: TransformerConfig) -> str:
    note = ("measured backward = 2x forward matmuls (input and weight gradients) + one extra QKᵀ "
            "per attention (the fused attention backward recomputes it)")
    if not cfg.vocab_size and not cfg.norm_first:
        note += (" - the first block's QKV-projection input gradient (the model input needs no "
                 "gradient)")
    if cfg.memory_seq_len and not cfg.num_encoder_blocks:
        note += " - the memory's key/value-projection input gradients"
    return note
