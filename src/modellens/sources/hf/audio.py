"""Audio sample inputs of Hugging Face models: what the model type's own feature extractor
makes of silence, else shapes from the config; all-valid masks over the time axis."""

from __future__ import annotations

import torch

from .templates import Template

AUDIO_INPUTS = ("input_features", "input_values", "audio_mel")
SAYS = "audio {name} {shape}"
# feature-extractor outputs a model takes under another name (Gemma 3n's audio encoder, whose
# mask marks padding where the extractor's marks valid frames)
_EXTRACTOR_SYNONYMS = {"input_features": "audio_mel", "input_features_mask": "audio_mel_mask"}
_PADDING_MASKS = {"audio_mel_mask"}
_SUBMODEL_SUFFIXES = ("_encoder", "_audio")  # qwen3_asr_encoder -> qwen3_asr's feature extractor


def extracted_audio(config, accepted: set[str], samples: int | None) -> dict[str, Template]:
    """What the model type's own feature extractor makes of `samples` of silence (default one
    second), as templates of the tensors `forward` accepts (features zero, masks all-valid);
    {} when it has none that runs offline. Sub-models (`X_encoder`, `X_audio`) use X's
    extractor with the mel axis set to their config's num_mel_bins."""
    import numpy
    import transformers
    from transformers.models.auto.feature_extraction_auto import FEATURE_EXTRACTOR_MAPPING_NAMES

    model_type = config.model_type
    names = [FEATURE_EXTRACTOR_MAPPING_NAMES.get(model_type)] + [
        FEATURE_EXTRACTOR_MAPPING_NAMES.get(model_type.removesuffix(s))
        for s in _SUBMODEL_SUFFIXES if model_type.endswith(s)]
    name = next((n for n in names if n), None)
    try:
        extractor = getattr(transformers, name)()
        rate = getattr(extractor, "sampling_rate", 16000)
        out = extractor([numpy.zeros(samples or rate, dtype=numpy.float32)], sampling_rate=rate,
                        return_tensors="pt")  # a batch of one: Gemma 4's takes no bare array
    except Exception:  # no extractor, or one needing a missing library (torchaudio)
        return {}
    templates = {k: Template(tuple(v.shape), v.dtype, 0 if v.is_floating_point() else 1, says=SAYS)
                 for k, v in out.items() if isinstance(v, torch.Tensor)}
    mels, size = mel_bins(config), getattr(extractor, "feature_size", None)
    features = templates.get("input_features")
    if features is not None and mels and size and mels != size and size in features.shape[1:]:
        shape = tuple(mels if d == size else d for d in features.shape)
        templates["input_features"] = features._replace(shape=shape)
    named = {k if k in accepted else _EXTRACTOR_SYNONYMS.get(k): t for k, t in templates.items()}
    return {k: t._replace(fill=0) if k in _PADDING_MASKS else t
            for k, t in named.items() if k in accepted}


def mel_bins(config) -> int | None:
    """num_mel_bins of the config or of its audio/encoder sub-config."""
    for part in (config, *(getattr(config, k, None) for k in ("audio_config", "encoder_config"))):
        if isinstance(getattr(part, "num_mel_bins", None), int):
            return part.num_mel_bins
    return None


def configured_audio(main: str, config, samples: int | None) -> Template:
    """An audio input from the config alone: Whisper-style features (mel bins x 2 x
    max_source_positions frames), an AST spectrogram (max_length frames x mel bins), or raw
    samples (one second at 16 kHz)."""
    mels = mel_bins(config)
    if main == "input_features":
        frames = 2 * getattr(config, "max_source_positions", 1500)
        return Template((1, mels or 80, frames), says=SAYS)
    if mels:
        return Template((1, samples or getattr(config, "max_length", None) or 1024, mels),
                        says=SAYS)
    return Template((1, samples or 16000), says=SAYS)


def time_mask(features: Template, config) -> Template:
    """All-valid mask over the time axis of (batch, mels, frames) or (batch, frames, mels)."""
    mels = mel_bins(config)
    time_axis = 2 if len(features.shape) == 3 and features.shape[1] == mels else 1
    return Template((1, features.shape[time_axis]), torch.long, 1)
