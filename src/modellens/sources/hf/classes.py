"""What a Hugging Face config says about the model to build: its class (task head), build
dtype, default-config repairs and unset placeholder tokens, and the facts other packages read
from the config (sequence limit, mixture-of-experts routing, KV-cache layout)."""

from __future__ import annotations

from typing import Any

import torch

from ...errors import ConfigError
from .catalog import mapping_names

TASKS = ("auto", "base", "causal-lm", "seq2seq-lm", "masked-lm", "image-classification",
         "architecture")
IMAGE_TOKEN_KEYS = ("image_token_id", "image_token_index")
AUDIO_TOKEN_KEYS = ("audio_token_id", "audio_token_index")
NUM_EXPERT_KEYS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
TOP_K_KEYS = ("num_experts_per_tok", "moe_top_k", "top_k", "num_selected_experts")

# transformers default configs that fail in plain PyTorch (checked with one layer on CPU) and the
# value of the published checkpoint that makes them run, by (sub-)config model_type
DEFAULT_CONFIG_REPAIRS: dict[str, dict[str, Any]] = {
    # the code's M-RoPE sections [8, 12, 12] cover 64 of the 128 head dims (GLM-4.1V's config)
    "glm4v_text": {"rope_parameters.partial_rotary_factor": 0.5},
    "glm_image_text": {"rope_parameters.partial_rotary_factor": 0.5},
    # 4096 / 96 heads leaves 42 dims, too few for those sections; GLM-4.5V sets head_dim 128
    "glm4v_moe_text": {"head_dim": 128},
}


# the Auto classes behind each --task, in order: the first with a class for the model type wins
# (Whisper's seq2seq LM is in the speech mapping, not the text one)
_TASK_AUTO = {
    "base": ("AutoModel",),
    "causal-lm": ("AutoModelForCausalLM",),
    "seq2seq-lm": ("AutoModelForSeq2SeqLM", "AutoModelForSpeechSeq2Seq"),
    "masked-lm": ("AutoModelForMaskedLM",),
    "image-classification": ("AutoModelForImageClassification",),
}
_SEQ2SEQ_MAPPINGS = ("MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES",
                     "MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES")


# Auto classes a config's `auto_map` may name, by task, in the order 'auto' prefers them.
REMOTE_AUTO_CLASSES = {"causal-lm": "AutoModelForCausalLM", "seq2seq-lm": "AutoModelForSeq2SeqLM",
                       "masked-lm": "AutoModelForMaskedLM",
                       "image-classification": "AutoModelForImageClassification",
                       "base": "AutoModel"}


def model_class(config, task: str = "auto", *, trust_remote_code: bool = False):
    """The transformers class to build. 'auto': seq2seq LM for encoder-decoders (text or
    speech: T5, BART, Whisper), causal LM for decoder-only models, the image-classification
    head where the checkpoint is one, else the bare model (BERT-style encoders). Where the
    config's `architectures` names a head of the chosen task for this model type, that class
    (Whisper's `WhisperForConditionalGeneration`). With `trust_remote_code`, a config that
    transformers does not know and that names its own code (`auto_map`) gets the class from
    that code."""
    import transformers

    if trust_remote_code and task in REMOTE_AUTO_CLASSES.keys() | {"auto"}:
        remote = _remote_class(config, task)
        if remote is not None:
            return remote

    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    architectures = getattr(config, "architectures", None) or []
    if task == "architecture":
        cls = getattr(transformers, architectures[0], None) if architectures else None
        if cls is None:
            raise ConfigError(f"config names no known architecture ({architectures})")
        return cls
    if task != "auto":
        return _task_class(task, config)
    if getattr(config, "is_encoder_decoder", False) and any(
            config.model_type in mapping_names(m) for m in _SEQ2SEQ_MAPPINGS):
        chosen = "seq2seq-lm"
    elif is_decoder_only(config):
        chosen = "causal-lm"
    elif any(a.endswith("ForImageClassification") for a in architectures):
        chosen = "image-classification"
    else:
        chosen = "base"
    return _task_class(chosen, config)


def _task_class(task: str, config):
    """The class of `task` for `config`: from the first of the task's Auto classes that has
    one for its model type."""
    import transformers

    autos = [getattr(transformers, name) for name in _TASK_AUTO[task]]
    for auto_cls in autos:
        if type(config) in auto_cls._model_mapping:
            return _concrete(auto_cls, config)
    raise ConfigError(f"--task {task} does not apply to model type {config.model_type!r} "
                      f"(no class in {', '.join(_TASK_AUTO[task])})")


def _remote_class(config, task: str):
    """The class `auto_map` names for `task` (or the first of REMOTE_AUTO_CLASSES for 'auto'),
    loaded from the model's own code; None when the config's type is one transformers has."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    auto_map = getattr(config, "auto_map", None) or {}
    if config.model_type in CONFIG_MAPPING_NAMES or not auto_map:
        return None
    wanted = list(REMOTE_AUTO_CLASSES.values()) if task == "auto" else [REMOTE_AUTO_CLASSES[task]]
    name = next((n for n in wanted if n in auto_map), None)
    if name is None:
        raise ConfigError(f"the model's auto_map names no {' or '.join(wanted)}")
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    reference = auto_map[name]
    reference = reference[0] if isinstance(reference, (list, tuple)) else reference
    return get_class_from_dynamic_module(reference, config._name_or_path)


def is_decoder_only(config) -> bool:
    """A causal LM that is not also a masked LM (GPT-2, Llama; not BERT, not T5)."""
    model_type = config.model_type
    return (
        not getattr(config, "is_encoder_decoder", False)
        and model_type in mapping_names("MODEL_FOR_CAUSAL_LM_MAPPING_NAMES")
        and model_type not in mapping_names("MODEL_FOR_MASKED_LM_MAPPING_NAMES")
    )


def _concrete(auto_cls, config):
    """The model class an Auto class would build for `config`."""
    try:
        mapped = auto_cls._model_mapping[type(config)]
    except KeyError:
        raise ConfigError(
            f"{auto_cls.__name__} has no class for model type {config.model_type!r}"
        ) from None
    if isinstance(mapped, (list, tuple)):
        names = set(getattr(config, "architectures", None) or [])
        return next((c for c in mapped if c.__name__ in names), mapped[0])
    return mapped


def _concrete_or_none(config):
    try:
        return model_class(config)
    except (ConfigError, KeyError):
        return None


def build_dtype(model_cls, config) -> torch.dtype | None:
    """bfloat16 for a float32 MoE whose experts run torch's grouped_mm (transformers' default),
    whose CPU/meta kernel takes only 16-bit floats; None: the config's own dtype. Published MoE
    checkpoints are 16-bit, so this only fills in a dtype the default config leaves open."""
    if getattr(config, "dtype", None) not in (None, torch.float32):
        return None
    # transformers' own test: the model's module routes experts through its experts interface;
    # for multimodal models, the module of the text model inside
    classes = [model_cls]
    text_config = getattr(config, "text_config", None)
    if text_config is not None:
        classes.append(_concrete_or_none(text_config))
    uses_grouped_mm = any(getattr(c, "_can_set_experts_implementation", lambda: False)()
                          for c in classes if c is not None)
    return torch.bfloat16 if uses_grouped_mm else None


def sub_configs(config) -> list:
    """The configs nested in `config` (backbone_config, vision_config.backbone_config, ...),
    breadth first."""
    from transformers import PretrainedConfig

    found, queue = [], [config]
    while queue:
        children = [v for c in queue for v in vars(c).values() if isinstance(v, PretrainedConfig)]
        found += children
        queue = children
    return found


def repair_default_config(config) -> list[str]:
    """Apply DEFAULT_CONFIG_REPAIRS to `config` and its sub-configs; returns `key=value` for
    each value set (said in the input description)."""
    done = []
    for part in (config, *sub_configs(config)):
        for key, value in DEFAULT_CONFIG_REPAIRS.get(getattr(part, "model_type", ""), {}).items():
            holder, _, name = key.rpartition(".")
            if holder:
                getattr(part, holder)[name] = value
            else:
                setattr(part, name, value)
            done.append(f"{part.model_type} {key}={value}")
    return done


def has_any(config, keys: tuple[str, ...]) -> bool:
    """Whether the config sets any of `keys`."""
    return any(getattr(config, key, None) is not None for key in keys)


def set_unset_placeholders(config) -> list[str]:
    """Give a token-spliced multimodal config whose placeholder token id is unset (BLIP-2's and
    Voxtral's default configs) the last id of its text vocabulary, as published checkpoints add
    one token for it; without an id the model cannot run even on text alone. Returns `key=id`
    for each id set."""
    text = getattr(config, "text_config", None) or config
    vocab = getattr(text, "vocab_size", None)
    done = []
    for keys in (IMAGE_TOKEN_KEYS, AUDIO_TOKEN_KEYS):
        key = next((k for k in keys if hasattr(config, k)), None)
        if key is not None and not has_any(config, keys) and isinstance(vocab, int):
            setattr(config, key, vocab - 1)
            done.append(f"{key}={vocab - 1}")
    return done


# Sanity limits of a config's sizes, far above any published model (the deepest have under 200
# layers, the widest a hidden size of 25k, the largest vocabularies 256k tokens): a config
# beyond them is a typo or an attack, and building it would take minutes and gigabytes.
CONFIG_LIMITS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("num_hidden_layers", "n_layer", "n_layers", "num_layers", "encoder_layers",
      "decoder_layers", "num_encoder_layers", "num_decoder_layers"), 4096),
    (("hidden_size", "n_embd", "d_model", "intermediate_size", "n_inner", "d_ff", "ffn_dim",
      "encoder_ffn_dim", "decoder_ffn_dim", "moe_intermediate_size", "head_dim"), 2**20),
    (("num_attention_heads", "n_head", "num_key_value_heads", "encoder_attention_heads",
      "decoder_attention_heads"), 2**16),
    (("vocab_size",), 2**24),
    (NUM_EXPERT_KEYS, 2**16),
)


def check_config(config, origin: str) -> None:
    """Refuse, before anything is built, a config whose sizes are beyond `CONFIG_LIMITS` or
    not positive, or that holds a NaN or infinite number; the ConfigError names the field."""
    import math

    for part in (config, *sub_configs(config)):
        prefix = "" if part is config else f"{getattr(part, 'model_type', 'sub-config')}."
        for keys, limit in CONFIG_LIMITS:
            for key in keys:
                value = vars(part).get(key)
                if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue
                if not math.isfinite(value) or value != int(value):
                    raise ConfigError(f"{origin}: {prefix}{key} must be an integer, got {value}")
                if value > limit:
                    raise ConfigError(f"{origin}: {prefix}{key} = {int(value)} is beyond "
                                      f"modellens' limit of {limit} (far above any published "
                                      "model)")
                if value < 0 or (value == 0 and keys is not CONFIG_LIMITS[0][0]):
                    raise ConfigError(f"{origin}: {prefix}{key} must be positive, got {value}")
        for key, value in vars(part).items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{origin}: {prefix}{key} is {value} (expected a finite number)")


def max_sequence_length(config) -> int | None:
    """The longest token sequence the model takes (its text sub-config's, for multimodal ones)."""
    limits = []
    for part in (config, getattr(config, "text_config", None)):
        for key in ("n_positions", "max_position_embeddings", "n_ctx", "max_sequence_length"):
            value = getattr(part, key, None)
            if isinstance(value, int) and value > 0:
                limits.append(value)
                break
    return min(limits, default=None)


def moe_settings(config: object) -> tuple[int, int] | None:
    """(num_experts, experts_per_token) from a model config, or None for dense models."""
    def first(keys):
        for key in keys:
            value = getattr(config, key, None)
            if isinstance(value, int) and value > 0:
                return value
        return None

    experts, top_k = first(NUM_EXPERT_KEYS), first(TOP_K_KEYS)
    return (experts, top_k) if experts and top_k and experts > 1 else None


def kv_layout(config) -> tuple[int, int]:
    """(key/value heads, head dim) of a decoder's KV cache: num_key_value_heads (grouped-query
    attention) else num_attention_heads; head_dim else hidden_size / heads."""
    heads = getattr(config, "num_attention_heads", None)
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return kv_heads, head_dim
