"""Seed 001: a transformer described by a small JSON config -> FLOPs, model size, timings.

Config fields (seed defaults): embed_dim 768, num_heads 12, ff_dim 3072, seq_len 197,
memory_seq_len 0, num_encoder_blocks 12, num_decoder_blocks 0; optional activation ("relu" |
"gelu"), norm_first, bias, vocab_size (adds a token embedding and a head tied to it) and dropout
(accepted, ignored: everything runs in eval mode).

Sequence lengths: decoder blocks see `seq_len` tokens with causal self-attention. They
cross-attend to a memory of `memory_seq_len` tokens: the encoder's output when there are encoder
blocks (so the encoder reads `memory_seq_len` tokens, or `seq_len` when it is 0), else an input of
that length (none when it is 0: a decoder-only model). Encoder-only models read `seq_len` tokens.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..capture import SampleInputs
from ..errors import ConfigError
from .base import InputOptions, ModelSource

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}
ACTIVATIONS = ("relu", "gelu")
_POSITIVE = ("embed_dim", "num_heads", "ff_dim", "seq_len")
_NON_NEGATIVE = ("memory_seq_len", "num_encoder_blocks", "num_decoder_blocks", "vocab_size")
# far above any published model; beyond them building and capturing takes minutes and gigabytes
_LIMITS = {"embed_dim": 2**20, "ff_dim": 2**20, "num_heads": 2**16, "seq_len": 2**24,
           "memory_seq_len": 2**24, "num_encoder_blocks": 4096, "num_decoder_blocks": 4096,
           "vocab_size": 2**24}


@dataclass(frozen=True)
class TransformerConfig:
    embed_dim: int = 768
    num_heads: int = 12
    ff_dim: int = 3072
    seq_len: int = 197
    memory_seq_len: int = 0
    num_encoder_blocks: int = 12
    num_decoder_blocks: int = 0
    activation: str = "relu"
    norm_first: bool = False
    bias: bool = True
    vocab_size: int = 0  # 0: the model reads and returns embeddings
    dropout: float = 0.0  # accepted for compatibility; ignored

    @property
    def encoder_seq_len(self) -> int:
        return self.memory_seq_len or self.seq_len

    @property
    def cross_seq_len(self) -> int:
        """Tokens each decoder block cross-attends to (0: no cross-attention)."""
        return self.encoder_seq_len if self.num_encoder_blocks else self.memory_seq_len

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_config(data: Any, where: str = "config") -> TransformerConfig:
    """Validate a config dict; every problem is one ConfigError naming the field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a JSON object of fields, got {type(data).__name__}")
    defaults = {f.name: f.default for f in fields(TransformerConfig)}
    for key in data:
        if key not in defaults:
            close = difflib.get_close_matches(str(key), defaults, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}: unknown field {key!r}{hint}; known fields: "
                              + ", ".join(defaults))
    values = {**defaults, **data}
    for name, default in defaults.items():
        value = values[name]
        kind = type(default)
        if kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        else:
            ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
        if not ok:
            raise ConfigError(f"{where}: {name} must be {kind.__name__}, got {value!r}")
    for name in _POSITIVE:
        if values[name] <= 0:
            raise ConfigError(f"{where}: {name} must be positive, got {values[name]}")
    for name in _NON_NEGATIVE:
        if values[name] < 0:
            raise ConfigError(f"{where}: {name} must be >= 0, got {values[name]}")
    for name, limit in _LIMITS.items():
        if values[name] > limit:
            raise ConfigError(f"{where}: {name} = {values[name]} is beyond modellens' limit of "
                              f"{limit} (far above any published model)")
    if values["embed_dim"] % values["num_heads"]:
        raise ConfigError(f"{where}: embed_dim ({values['embed_dim']}) must be divisible by "
                          f"num_heads ({values['num_heads']})")
    if values["num_encoder_blocks"] == 0 and values["num_decoder_blocks"] == 0:
        raise ConfigError(f"{where}: num_encoder_blocks and num_decoder_blocks are both 0; "
                          "a model needs at least one block")
    if values["activation"] not in ACTIVATIONS:
        raise ConfigError(f"{where}: activation must be one of {', '.join(ACTIVATIONS)}, "
                          f"got {values['activation']!r}")
    if not 0 <= values["dropout"] < 1:  # also NaN
        raise ConfigError(f"{where}: dropout must be in [0, 1), got {values['dropout']}")
    return TransformerConfig(**values)


def load_config(path_or_dict: str | Path | dict, name: str | None = None
                ) -> tuple[str, TransformerConfig]:
    """(name, config) from a JSON file (name = its stem) or a dict."""
    if isinstance(path_or_dict, dict):
        return name or "transformer", parse_config(path_or_dict)
    path = Path(path_or_dict)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        detail = f"line {exc.lineno}: {exc.msg}" if isinstance(exc, json.JSONDecodeError) else exc
        raise ConfigError(f"{path}: not valid JSON ({detail})") from None
    return name or path.stem, parse_config(data, str(path))


# --- the model -------------------------------------------------------------------------------


def _layer_kwargs(cfg: TransformerConfig, dtype: torch.dtype | None) -> dict[str, Any]:
    return dict(d_model=cfg.embed_dim, nhead=cfg.num_heads, dim_feedforward=cfg.ff_dim,
                dropout=0.0, activation=cfg.activation, batch_first=True,
                norm_first=cfg.norm_first, bias=cfg.bias, dtype=dtype)


def encoder_block(cfg: TransformerConfig, dtype: torch.dtype | None = None) -> nn.Module:
    return nn.TransformerEncoderLayer(**_layer_kwargs(cfg, dtype))


class DecoderBlock(nn.Module):
    """Causal self-attention, cross-attention to `memory` when the config has one, FFN."""

    def __init__(self, cfg: TransformerConfig, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        kwargs = _layer_kwargs(cfg, dtype)
        self.cross = cfg.cross_seq_len > 0
        self.layer = (nn.TransformerDecoderLayer(**kwargs) if self.cross
                      else nn.TransformerEncoderLayer(**kwargs))

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None) -> torch.Tensor:
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1], device=x.device,
                                                              dtype=x.dtype)
        if self.cross:
            return self.layer(x, memory, tgt_mask=mask, tgt_is_causal=True)
        return self.layer(x, src_mask=mask, is_causal=True)


class ConfigTransformer(nn.Module):
    """Encoder blocks, then decoder blocks; token embedding and tied head with vocab_size."""

    def __init__(self, cfg: TransformerConfig, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.embedding = (nn.Embedding(cfg.vocab_size, cfg.embed_dim, dtype=dtype)
                          if cfg.vocab_size else None)
        self.encoder = nn.ModuleList(encoder_block(cfg, dtype)
                                     for _ in range(cfg.num_encoder_blocks))
        self.decoder = nn.ModuleList(DecoderBlock(cfg, dtype)
                                     for _ in range(cfg.num_decoder_blocks))
        self.head = None
        if self.embedding is not None:
            self.head = nn.Linear(cfg.embed_dim, cfg.vocab_size, bias=False, dtype=dtype)
            self.head.weight = self.embedding.weight

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedding(x) if self.embedding is not None else x

    def forward(self, src: torch.Tensor | None = None, tgt: torch.Tensor | None = None,
                memory: torch.Tensor | None = None) -> torch.Tensor:
        out = None
        if len(self.encoder):
            out = self._embed(src)
            for block in self.encoder:
                out = block(out)
            memory = out
        if len(self.decoder):
            out = self._embed(tgt)
            for block in self.decoder:
                out = block(out, memory)
        return self.head(out) if self.head is not None else out


def model_inputs(cfg: TransformerConfig, batch_size: int, dtype: torch.dtype | None = None
                 ) -> SampleInputs:
    """src (encoder), tgt (decoder) and memory (decoder-only with memory_seq_len): token ids with
    vocab_size, else embeddings [batch, tokens, embed_dim]; memory is always embeddings."""

    def tokens(n: int) -> torch.Tensor:
        if cfg.vocab_size:
            return torch.randint(cfg.vocab_size, (batch_size, n))
        return embeddings(n)

    def embeddings(n: int) -> torch.Tensor:
        return torch.randn(batch_size, n, cfg.embed_dim, dtype=dtype)

    kwargs: dict[str, torch.Tensor] = {}
    if cfg.num_encoder_blocks:
        kwargs["src"] = tokens(cfg.encoder_seq_len)
    if cfg.num_decoder_blocks:
        kwargs["tgt"] = tokens(cfg.seq_len)
        if not cfg.num_encoder_blocks and cfg.memory_seq_len:
            kwargs["memory"] = embeddings(cfg.memory_seq_len)
    return SampleInputs(kwargs=kwargs)


def _describe_inputs(cfg: TransformerConfig, batch_size: int) -> str:
    with torch.device("meta"):
        inputs = model_inputs(cfg, batch_size)
    kind = "token ids" if cfg.vocab_size else "embeddings"
    return ", ".join(f"{k}: {'x'.join(map(str, v.shape))}" for k, v in inputs.kwargs.items()) + (
        f" ({kind})")


def config_source(path: Path, data: Any, options: InputOptions) -> ModelSource:
    """The ModelSource of a config (what `modellens profile configs/x.json` resolves to);
    --seq-len overrides the config's seq_len."""
    cfg = parse_config(data, str(path))
    if options.seq_len is not None:
        cfg = replace(cfg, seq_len=options.seq_len)
    return _source(cfg, path.stem, options.batch_size)


def _source(cfg: TransformerConfig, name: str, batch_size: int) -> ModelSource:
    return ModelSource(
        name=name,
        kind="transformer-config",
        build=lambda: ConfigTransformer(cfg),
        make_inputs=lambda: model_inputs(cfg, batch_size),
        input_description=_describe_inputs(cfg, batch_size),
        metadata={"config": cfg.to_dict()},
    )


def source(path: Path, data: Any, options: InputOptions) -> ModelSource:
    """What `modellens profile configs/x.json` resolves to (see `config_source`)."""
    return config_source(path, data, options)
