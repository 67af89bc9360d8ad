"""A GGUF file (llama.cpp) as a model spec: a transformers config built from its metadata.

`modellens profile model.gguf` reads only the header (`gguf_format`, validated), maps
`general.architecture` to a transformers `model_type` and the `{arch}.*` keys to config fields,
then builds the model on meta like any Hugging Face config:

    {arch}.embedding_length -> hidden_size          {arch}.block_count -> num_hidden_layers
    {arch}.feed_forward_length -> intermediate_size {arch}.context_length -> max_position_embeddings
    {arch}.attention.head_count(_kv) -> num_attention_heads, num_key_value_heads
    {arch}.attention.key_length -> head_dim (else hidden / heads, as llama.cpp)
    {arch}.attention.layer_norm_rms_epsilon -> rms_norm_eps
    {arch}.rope.freq_base -> rope_theta             {arch}.attention.sliding_window -> sliding_window
    {arch}.expert_count, expert_used_count -> num_local_experts, num_experts_per_tok (llama -> mixtral)
    vocab_size: rows of token_embd.weight, else len(tokenizer.ggml.tokens), else {arch}.vocab_size
    tie_word_embeddings: no output.weight tensor;  attention_bias / mlp_bias: blk.0.*.bias tensors

The weights are not read: the model is built from the config, so its parameters are what the
architecture defines (a test checks they equal the tensors in the file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..gguf_format import Array, Header, read_header

# general.architecture -> transformers model_type
ARCHITECTURES = {"llama": "llama", "mistral": "mistral", "qwen2": "qwen2", "qwen3": "qwen3",
                 "gemma": "gemma", "gemma2": "gemma2"}
# config field <- {arch}.<key>
_FIELDS = {
    "hidden_size": "embedding_length",
    "num_hidden_layers": "block_count",
    "intermediate_size": "feed_forward_length",
    "num_attention_heads": "attention.head_count",
    "num_key_value_heads": "attention.head_count_kv",
    "max_position_embeddings": "context_length",
    "head_dim": "attention.key_length",
    "rms_norm_eps": "attention.layer_norm_rms_epsilon",
    "rope_theta": "rope.freq_base",
    "sliding_window": "attention.sliding_window",
    "attn_logit_softcapping": "attn_logit_softcapping",
    "final_logit_softcapping": "final_logit_softcapping",
}
_REQUIRED = ("hidden_size", "num_hidden_layers", "intermediate_size", "num_attention_heads")
_TOKEN_IDS = {"bos_token_id": "tokenizer.ggml.bos_token_id",
              "eos_token_id": "tokenizer.ggml.eos_token_id",
              "pad_token_id": "tokenizer.ggml.padding_token_id"}


def is_gguf_spec(spec: str) -> bool:
    return Path(spec).suffix.lower() == ".gguf"


def config_dict(path: str | Path) -> dict[str, Any]:
    """The transformers config (a dict with `model_type`) that a GGUF file's metadata describes;
    CheckpointError for a malformed file, ConfigError for an architecture or a key it lacks."""
    return header_config(read_header(path))


def header_config(header: Header) -> dict[str, Any]:
    meta = header.metadata
    arch = meta.get("general.architecture")
    if arch not in ARCHITECTURES:
        raise ConfigError(f"{header.path}: GGUF architecture {arch!r} has no transformers "
                          f"config mapping here (mapped: {', '.join(ARCHITECTURES)})")
    config: dict[str, Any] = {"model_type": ARCHITECTURES[arch]}
    for name, key in _FIELDS.items():
        value = meta.get(f"{arch}.{key}")
        if isinstance(value, Array):  # per-layer values (e.g. head_count_kv): one if uniform
            if len(set(value.items)) != 1 or value.length > len(value.items):
                raise ConfigError(f"{header.path}: {arch}.{key} varies per layer, which a "
                                  "transformers config cannot express")
            value = value.items[0]
        if value is not None:
            config[name] = value
    missing = [f"{arch}.{_FIELDS[f]}" for f in _REQUIRED if f not in config]
    if missing:
        raise ConfigError(f"{header.path}: GGUF metadata lacks {', '.join(missing)}")
    config.setdefault("head_dim", config["hidden_size"] // config["num_attention_heads"])  # llama.cpp's default
    for name, key in _TOKEN_IDS.items():
        if isinstance(meta.get(key), int):
            config[name] = meta[key]
    tensors = {t.name: t for t in header.tensors}
    config["vocab_size"] = _vocab_size(header, arch, tensors)
    if tensors:
        config["tie_word_embeddings"] = "output.weight" not in tensors
        config["attention_bias"] = "blk.0.attn_q.bias" in tensors
        if arch == "llama":
            config["mlp_bias"] = "blk.0.ffn_up.bias" in tensors
    experts = meta.get(f"{arch}.expert_count")
    if isinstance(experts, int) and experts > 0:
        if arch != "llama":
            raise ConfigError(f"{header.path}: a mixture-of-experts {arch} GGUF has no mapping "
                              "here (llama with experts maps to mixtral)")
        config.update(model_type="mixtral", num_local_experts=experts,
                      num_experts_per_tok=meta.get(f"{arch}.expert_used_count", 2))
        config.pop("mlp_bias", None)
        config.pop("attention_bias", None)
    return config


def _vocab_size(header: Header, arch: str, tensors: dict) -> int:
    embed = tensors.get("token_embd.weight")
    if embed is not None and len(embed.dims) == 2:
        return embed.dims[1]  # ggml order: (hidden, vocab)
    tokens = header.metadata.get("tokenizer.ggml.tokens")
    if isinstance(tokens, Array):
        return tokens.length
    size = header.metadata.get(f"{arch}.vocab_size")
    if isinstance(size, int):
        return size
    raise ConfigError(f"{header.path}: GGUF file gives no vocabulary size (no token_embd.weight, "
                      f"tokenizer.ggml.tokens or {arch}.vocab_size)")
