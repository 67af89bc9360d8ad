"""Hugging Face Transformers models: offline catalog id, local directory, config.json, or hub id."""

from __future__ import annotations

import inspect
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from ..analysis.moe import moe_settings
from ..capture import SampleInputs
from ..errors import BuildError, ConfigError, SpecError
from . import InputOptions, ModelSource

CATALOG_DIR = Path(__file__).with_name("catalog")
DEFAULT_SEQ_LEN = 128
TASKS = ("auto", "base", "causal-lm", "seq2seq-lm", "masked-lm", "image-classification",
         "architecture")


@lru_cache(maxsize=1)
def _aliases() -> dict[str, str]:
    file = CATALOG_DIR / "_aliases.json"
    return json.loads(file.read_text()) if file.is_file() else {}


def catalog_names() -> list[str]:
    """Model ids shipped in the offline catalog."""
    return sorted(
        p.stem.replace("--", "/") for p in CATALOG_DIR.glob("*.json") if not p.stem.startswith("_")
    )


def _catalog_file(model_id: str) -> Path | None:
    model_id = _aliases().get(model_id, model_id)
    file = CATALOG_DIR / (model_id.replace("/", "--") + ".json")
    return file if file.is_file() else None


def in_catalog(model_id: str) -> bool:
    return _catalog_file(model_id) is not None


def catalog_config(model_id: str) -> dict[str, Any]:
    file = _catalog_file(model_id)
    if file is None:
        raise SpecError(f"{model_id!r} is not in the offline catalog")
    return json.loads(file.read_text())


def load_config(spec: str):
    """(transformers config, where it came from) for a catalog id, directory, file or hub id."""
    from transformers import AutoConfig

    path = Path(spec)
    try:
        if in_catalog(spec):
            return _config_from_dict(catalog_config(spec), spec), "catalog"
        if path.is_dir():
            if not (path / "config.json").is_file():
                raise SpecError(f"{spec}: directory has no config.json")
            return AutoConfig.from_pretrained(str(path), local_files_only=True), "local directory"
        if path.suffix == ".json":
            if not path.is_file():
                raise SpecError(f"config file not found: {spec}")
            return _config_from_dict(json.loads(path.read_text()), spec), "config file"
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{spec}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    try:
        return AutoConfig.from_pretrained(spec), "hub"
    except Exception as exc:  # offline, unknown repo, gated repo
        from . import unknown_spec_message

        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise SpecError(
            f"{unknown_spec_message(spec)} (hub lookup failed: {reason})"
        ) from None


def _config_from_dict(data: dict[str, Any], origin: str):
    from transformers import AutoConfig

    data = dict(data)
    model_type = data.pop("model_type", None)
    if not model_type:
        raise ConfigError(f"{origin}: HF config has no 'model_type'")
    try:
        return AutoConfig.for_model(model_type, **data)
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"{origin}: {exc}") from None


def _mapping_names(name: str) -> dict[str, Any]:
    from transformers.models.auto import modeling_auto

    return getattr(modeling_auto, name, {})


def model_class(config, task: str = "auto"):
    """The transformers class to build. 'auto': seq2seq LM for encoder-decoders, causal LM for
    decoder-only models, the image-classification head where the checkpoint is one, else the
    bare model (BERT-style encoders)."""
    import transformers

    auto = {
        "base": transformers.AutoModel,
        "causal-lm": transformers.AutoModelForCausalLM,
        "seq2seq-lm": transformers.AutoModelForSeq2SeqLM,
        "masked-lm": transformers.AutoModelForMaskedLM,
        "image-classification": transformers.AutoModelForImageClassification,
    }
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    architectures = getattr(config, "architectures", None) or []
    if task == "architecture":
        cls = getattr(transformers, architectures[0], None) if architectures else None
        if cls is None:
            raise ConfigError(f"config names no known architecture ({architectures})")
        return cls
    if task != "auto":
        return _concrete(auto[task], config)
    if getattr(config, "is_encoder_decoder", False) and config.model_type in _mapping_names(
        "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES"
    ):
        chosen = "seq2seq-lm"
    elif is_decoder_only(config):
        chosen = "causal-lm"
    elif any(a.endswith("ForImageClassification") for a in architectures):
        chosen = "image-classification"
    else:
        chosen = "base"
    return _concrete(auto[chosen], config)


def is_decoder_only(config) -> bool:
    """A causal LM that is not also a masked LM (GPT-2, Llama; not BERT, not T5)."""
    model_type = config.model_type
    return (
        not getattr(config, "is_encoder_decoder", False)
        and model_type in _mapping_names("MODEL_FOR_CAUSAL_LM_MAPPING_NAMES")
        and model_type not in _mapping_names("MODEL_FOR_MASKED_LM_MAPPING_NAMES")
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


def max_sequence_length(config) -> int | None:
    for key in ("n_positions", "max_position_embeddings", "n_ctx", "max_sequence_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _image_size(config, options: InputOptions) -> int:
    if options.image_size:
        return options.image_size
    size = getattr(config, "image_size", None) or 224
    return size[0] if isinstance(size, (list, tuple)) else int(size)


def make_input_builder(model_cls, config, options: InputOptions):
    """(make_inputs, description) for the model's modality."""
    main = getattr(model_cls, "main_input_name", "input_ids")
    accepted = set(inspect.signature(model_cls.forward).parameters)
    batch = options.batch_size
    limit = max_sequence_length(config)
    seq = options.seq_len or (min(DEFAULT_SEQ_LEN, limit) if limit else DEFAULT_SEQ_LEN)
    encoder_decoder = bool(getattr(config, "is_encoder_decoder", False))
    is_causal = is_decoder_only(config) or getattr(config, "is_decoder", False)

    def extras() -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if "use_cache" in accepted:
            kwargs["use_cache"] = False
        if encoder_decoder and "decoder_input_ids" in accepted:
            kwargs["decoder_input_ids"] = torch.zeros(batch, seq, dtype=torch.long)
        return kwargs

    if main == "pixel_values":
        size = _image_size(config, options)
        channels = getattr(config, "num_channels", 3)

        def make() -> SampleInputs:
            return SampleInputs(kwargs={"pixel_values": torch.zeros(batch, channels, size, size),
                                        **extras()})

        return make, f"image (batch {batch}, {channels}x{size}x{size})"
    if main == "input_features":
        mels = getattr(config, "num_mel_bins", 80)
        frames = 2 * getattr(config, "max_source_positions", 1500)

        def make() -> SampleInputs:
            return SampleInputs(kwargs={"input_features": torch.zeros(batch, mels, frames),
                                        **extras()})

        return make, f"audio features (batch {batch}, {mels} mel bins x {frames} frames)"
    if main == "input_values":
        samples = options.seq_len or 16000

        def make() -> SampleInputs:
            return SampleInputs(kwargs={"input_values": torch.zeros(batch, samples), **extras()})

        return make, f"raw audio (batch {batch}, {samples} samples)"
    with_mask = not is_causal and "attention_mask" in accepted

    def make() -> SampleInputs:
        kwargs: dict[str, Any] = {"input_ids": torch.zeros(batch, seq, dtype=torch.long)}
        if with_mask:
            kwargs["attention_mask"] = torch.ones(batch, seq, dtype=torch.long)
        return SampleInputs(kwargs={**kwargs, **extras()})

    parts = [f"batch {batch}", f"seq {seq}"]
    if with_mask:
        parts.append("with attention_mask")
    if encoder_decoder:
        parts.append(f"decoder seq {seq}")
    return make, f"tokens ({', '.join(parts)})"


def source(spec: str, options: InputOptions, task: str = "auto") -> ModelSource:
    try:
        import transformers  # noqa: F401
    except ImportError:
        raise SpecError(
            f"{spec}: Hugging Face models need transformers: pip install 'modellens[hf]'"
        ) from None
    config, origin = load_config(spec)
    cls = model_class(config, task)
    make_inputs, description = make_input_builder(cls, config, options)

    def build():
        try:
            return cls._from_config(config)
        except Exception as exc:
            raise BuildError(f"{spec}: could not build {cls.__name__}: {exc}") from exc

    return ModelSource(
        name=spec,
        kind="hf",
        build=build,
        make_inputs=make_inputs,
        input_description=description,
        metadata={
            "origin": origin,
            "model_type": config.model_type,
            "model_class": cls.__name__,
            "max_sequence_length": max_sequence_length(config),
            "moe": moe_settings(config),
        },
    )
