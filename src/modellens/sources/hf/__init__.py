"""Hugging Face Transformers models: offline catalog id, local directory, config.json, or hub id."""

from __future__ import annotations

import inspect
import json
import math
from pathlib import Path
from typing import Any, NamedTuple

import torch

from ...analysis.moe import moe_settings
from ...capture import SampleInputs
from ...errors import BuildError, ConfigError, SpecError
from .. import catalog_index
from ..base import InputOptions, ModelSource
from ..catalog_index import CATALOG_DIR  # noqa: F401  (re-exported)

DEFAULT_SEQ_LEN = 128
TASKS = ("auto", "base", "causal-lm", "seq2seq-lm", "masked-lm", "image-classification",
         "architecture")
TYPE_PREFIX = "type:"  # `hf:type:bert`: transformers' default config for a model_type
IMAGE_TOKEN_KEYS = ("image_token_id", "image_token_index")
_BUILD_MAPPINGS = ("MODEL_MAPPING_NAMES", "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES",
                   "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES")


def catalog_names() -> list[str]:
    """Model ids shipped in the offline catalog."""
    return catalog_index.catalog_names()


def _catalog_file(model_id: str) -> Path | None:
    return catalog_index.catalog_file(model_id)


def in_catalog(model_id: str) -> bool:
    return _catalog_file(model_id) is not None


def catalog_config(model_id: str) -> dict[str, Any]:
    file = _catalog_file(model_id)
    if file is None:
        raise SpecError(f"{model_id!r} is not in the offline catalog")
    return json.loads(file.read_text())


def load_config(spec: str):
    """(transformers config, where it came from) for a catalog id, directory, file, hub id, or
    `type:MODEL_TYPE` (the library's default config for that architecture)."""
    from transformers import AutoConfig

    if spec.startswith(TYPE_PREFIX):
        return default_config(spec.removeprefix(TYPE_PREFIX)), "default config"
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
        from .. import unknown_spec_message

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


def model_types() -> list[str]:
    """Every model_type in transformers' auto-config mapping that AutoModel, AutoModelForCausalLM
    or AutoModelForSeq2SeqLM can build, sorted."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    buildable = set().union(*(_mapping_names(name) for name in _BUILD_MAPPINGS))
    return sorted(t for t in CONFIG_MAPPING_NAMES if t in buildable)


def default_config(model_type: str):
    """transformers' default config for `model_type` (e.g. 'bert'), as `hf:type:bert` builds."""
    import difflib

    from transformers import AutoConfig
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    if model_type not in CONFIG_MAPPING_NAMES:
        close = difflib.get_close_matches(model_type, list(CONFIG_MAPPING_NAMES), n=5, cutoff=0.6)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise SpecError(f"unknown transformers model_type {model_type!r}.{hint}")
    try:
        return AutoConfig.for_model(model_type)
    except Exception as exc:
        raise ConfigError(f"type:{model_type}: no default config ({exc})") from None


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
    """The longest token sequence the model takes (its text sub-config's, for multimodal ones)."""
    limits = []
    for part in (config, getattr(config, "text_config", None)):
        for key in ("n_positions", "max_position_embeddings", "n_ctx", "max_sequence_length"):
            value = getattr(part, key, None)
            if isinstance(value, int) and value > 0:
                limits.append(value)
                break
    return min(limits, default=None)


def _image_size(options: InputOptions, *configs) -> tuple[int, int]:
    """(height, width): --image-size, else the first config's image size (an int or a pair),
    else that of a nested sub-config (SAM 2's vision backbone, a DETR's backbone, PE Video's timm
    tower), else 224."""
    if options.image_size:
        return options.image_size, options.image_size
    nested = (part for config in configs if config is not None for part in _sub_configs(config))
    size = (next(filter(None, map(_configured_image_size, configs)), None)
            or next(filter(None, map(_configured_image_size, nested)), 224))
    return (int(size[0]), int(size[1])) if isinstance(size, (list, tuple)) else (size, size)


def _configured_image_size(config) -> int | tuple[int, int] | None:
    """A config's image_size; for a timm wrapper (PE Video's vision tower), the input size of
    its timm architecture's pretrained config."""
    if config is None:
        return None
    if getattr(config, "model_type", None) == "timm_wrapper":
        try:
            import timm
        except ImportError:  # the model cannot be built either; its error says so
            return None
        pretrained = timm.get_pretrained_cfg(config.architecture)
        return tuple(pretrained.input_size[1:]) if pretrained is not None else None
    return getattr(config, "image_size", None)


def _sub_configs(config) -> list:
    """The configs nested in `config` (backbone_config, vision_config.backbone_config, ...),
    breadth first."""
    from transformers import PretrainedConfig

    found, queue = [], [config]
    while queue:
        children = [v for c in queue for v in vars(c).values() if isinstance(v, PretrainedConfig)]
        found += children
        queue = children
    return found


def _first(key: str, *configs, default=None):
    return next((v for c in configs if (v := getattr(c, key, None))), default)


def visual(config, options: InputOptions, frames: int | None = None) -> Template:
    """An image (1, channels, h, w) from the config or its vision sub-config, or a clip
    (1, frames, channels, h, w) where the config names frames (frames_per_clip, num_frames;
    size crop_size or image_size) or `frames` is given."""
    parts = (config, getattr(config, "vision_config", None))
    channels = _first("num_channels", *parts, default=3)
    frames = _first("frames_per_clip", *parts) or _first("num_frames", *parts) or frames
    if not frames:
        return Template((1, channels, *_image_size(options, *parts)))
    crop = None if options.image_size else _first("crop_size", *parts)
    size = (crop, crop) if isinstance(crop, int) else _image_size(options, *parts)
    return Template((1, frames, channels, *size))


AUDIO_INPUTS = ("input_features", "input_values", "audio_mel")
# feature-extractor outputs a model takes under another name (Gemma 3n's audio encoder, whose
# mask marks padding where the extractor's marks valid frames)
_EXTRACTOR_SYNONYMS = {"input_features": "audio_mel", "input_features_mask": "audio_mel_mask"}
_PADDING_MASKS = {"audio_mel_mask"}
AUDIO_TOKEN_KEYS = ("audio_token_id", "audio_token_index")
_SUBMODEL_SUFFIXES = ("_encoder", "_audio")  # qwen3_asr_encoder -> qwen3_asr's feature extractor


def _required(signature) -> list[str]:
    return [n for n, p in signature.items() if n != "self" and p.default is p.empty
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _has_any(config, keys: tuple[str, ...]) -> bool:
    return any(getattr(config, key, None) is not None for key in keys)


class Template(NamedTuple):
    """A sample input for one batch item: its shape (rows x ...), dtype and fill value, or
    explicit `data` rows (a patch grid); `make(batch)` stacks `batch` of them along dim 0."""

    shape: tuple[int, ...]
    dtype: torch.dtype = torch.float32
    fill: int = 0
    data: tuple[tuple[int, ...], ...] | None = None

    def make(self, batch: int, float_dtype: torch.dtype | None = None) -> torch.Tensor:
        """`batch` items; floating-point ones in `float_dtype` when given (the model's)."""
        dtype = float_dtype if float_dtype and self.dtype.is_floating_point else self.dtype
        if self.data is not None:
            rows = torch.tensor(self.data, dtype=dtype)
            return rows.repeat(batch, *[1] * (rows.dim() - 1))
        return torch.full((batch * self.shape[0], *self.shape[1:]), self.fill, dtype=dtype)


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
    templates = {k: Template(tuple(v.shape), v.dtype, 0 if v.is_floating_point() else 1)
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


def _configured_audio(main: str, config, samples: int | None) -> Template:
    """An audio input from the config alone: Whisper-style features (mel bins x 2 x
    max_source_positions frames), an AST spectrogram (max_length frames x mel bins), or raw
    samples (one second at 16 kHz)."""
    mels = mel_bins(config)
    if main == "input_features":
        return Template((1, mels or 80, 2 * getattr(config, "max_source_positions", 1500)))
    if mels:
        return Template((1, samples or getattr(config, "max_length", None) or 1024, mels))
    return Template((1, samples or 16000))


def _series(config) -> Template:
    """(1, context_length[, num_input_channels]) past values of a time-series model."""
    length = getattr(config, "context_length", None) or 512
    channels = getattr(config, "num_input_channels", None)
    return Template((1, length, channels) if channels else (1, length))


def _time_mask(features: Template, config) -> Template:
    """All-valid mask over the time axis of (batch, mels, frames) or (batch, frames, mels)."""
    mels = mel_bins(config)
    time_axis = 2 if len(features.shape) == 3 and features.shape[1] == mels else 1
    return Template((1, features.shape[time_axis]), torch.long, 1)


def hidden_input(name: str, config, seq: int) -> Template | None:
    """A float input in the model's width (config hidden_size): `*_embeds` as (seq,
    hidden_size) embeddings (a Q-Former's queries), `latents` as (hidden_size, seq) frames (an
    audio codec's decoder), a Perceiver's preprocessed `inputs` as (seq, d_model); None for
    other names or without the width."""
    if name == "inputs" and isinstance(getattr(config, "d_model", None), int):
        return Template((1, seq, config.d_model))  # Perceiver without a preprocessor
    width = getattr(config, "hidden_size", None)
    if not isinstance(width, int):
        return None
    if name.endswith("_embeds"):
        return Template((1, seq, width))
    return Template((1, width, seq)) if name == "latents" else None


def featured_inputs(accepted: set[str], config, seq: int) -> dict[str, Template]:
    """Float inputs the config gives a width for (`visual_feats` by `visual_feat_dim`,
    `visual_pos` by `visual_pos_dim`: LXMERT's region features), `seq` rows each."""
    found = {}
    for name in sorted(accepted):
        width = _first(f"{name}_dim", config) or _first(f"{name.removesuffix('s')}_dim", config)
        if isinstance(width, int):
            found[name] = Template((1, seq, width))
    return found


GRID_INPUTS = ("grid_thw", "image_grid_thw")


def patch_grid(config, options: InputOptions) -> tuple[Template, Template]:
    """(flattened patches, grid) for Qwen-VL-style vision towers: one image of image_size
    (default 224) cut into patch_size patches, as (t*h*w, channels*t*patch*patch) rows with grid
    [[t, h, w]], h and w rounded down to a multiple of the spatial merge size."""
    patch, merge = config.patch_size, _merge_size(config)
    side = max(merge, _image_size(options)[0] // patch // merge * merge)
    frames = _first("temporal_patch_size", config) or _first("patch_temporal", config, default=1)
    channels = getattr(config, "in_channels", None) or getattr(config, "num_channels", 3)
    patches = Template((side * side, channels * frames * patch * patch))
    return patches, Template((1, 3), torch.long, data=((1, side, side),))


def _merge_size(config) -> int:
    """Patches merged per side after a Qwen-VL-style tower (1 where the config names none)."""
    return getattr(config, "spatial_merge_size", None) or getattr(config, "merge_size", 1)


def naflex_patches(config) -> dict[str, Template]:
    """NaFlex (SigLIP 2) image input: num_patches flattened patches of a square grid, all valid,
    with the grid's spatial shape."""
    vision = getattr(config, "vision_config", None) or config
    side = math.isqrt(vision.num_patches)
    patch = vision.patch_size
    patch = patch[0] if isinstance(patch, (list, tuple)) else patch
    width = getattr(vision, "num_channels", 3) * patch * patch
    return {"pixel_values": Template((1, side * side, width)),
            "pixel_attention_mask": Template((1, side * side), torch.long, 1),
            "spatial_shapes": Template((1, 2), torch.long, data=((side, side),))}


def positioned_patches(config, options: InputOptions) -> dict[str, Template]:
    """Gemma 4 vision input: the image's flattened patches with their (x, y) grid positions,
    the side rounded down to a multiple of the pooling kernel."""
    patch, pool = config.patch_size, getattr(config, "pooling_kernel_size", None) or 1
    side = max(pool, _image_size(options, config)[0] // patch // pool * pool)
    positions = tuple((x, y) for y in range(side) for x in range(side))
    return {"pixel_values": Template((1, side * side, 3 * patch * patch)),
            "pixel_position_ids": Template((1, side * side, 2), torch.long, data=(positions,))}


def make_input_builder(model_cls, config, options: InputOptions,
                       dtype: torch.dtype | None = None):
    """(make_inputs, description): sample inputs by rule, from the forward signature and config.

    - the main input (`main_input_name`, or the first required argument): token ids, an image
      (config image_size; NaFlex patches where `spatial_shapes` is taken), a video clip, a time
      series (context_length), flattened patches and their grid (Qwen-VL-style vision towers,
      `patch_grid`), or audio: what the model type's feature extractor makes of silence, else a
      shape from the config (`extracted_audio`, `_configured_audio`);
    - encoder-decoders also get decoder tokens; text models without image (audio) tokens in
      their text (CLIP, SigLIP, CLAP) also get an image (audio), token-spliced multimodal models
      (LLaVA, Qwen-VL) run on text alone, audio-video encoders get a video with their audio;
    - required `*input_ids` get tokens, required `X_mask` (and an audio main input's mask) an
      all-valid mask over X, required `X_padding` zeros like X, a time series' required `freq`
      class 0; `bbox` (LayoutLM-style) gets zero boxes; `use_cache=False`;
    - floating-point inputs in `dtype` (the one the model is built in), else the config's.
    """
    signature = inspect.signature(model_cls.forward).parameters
    accepted, required = set(signature), _required(signature)
    main = getattr(model_cls, "main_input_name", "input_ids")
    if main not in accepted and required:
        main = required[0]
    batch = options.batch_size
    limit = max_sequence_length(config)
    seq = options.seq_len or (min(DEFAULT_SEQ_LEN, limit) if limit else DEFAULT_SEQ_LEN)
    is_causal = is_decoder_only(config) or getattr(config, "is_decoder", False)
    samples = options.seq_len

    tensors: dict[str, Template] = {}
    tokens = Template((1, seq), torch.long)
    image = visual(config, options)
    picture = "video" if len(image.shape) == 5 else "image"
    pixels = {"pixel_values": image}
    if "spatial_shapes" in accepted:
        pixels = naflex_patches(config)
    elif "pixel_position_ids" in required:
        pixels = positioned_patches(config, options)
    if len(pixels) > 1:
        picture, image = "image patches", pixels["pixel_values"]
    elif (any(n.startswith("prompt_") for n in required) and not options.image_size
          and len(image.shape) == 4):  # SegGPT: the configured size stacks prompt over image
        image = image._replace(shape=(1, image.shape[1], image.shape[2] // 2, image.shape[3]))
        pixels = {"pixel_values": image}
    grid = next((name for name in required if name in GRID_INPUTS), None)
    if grid and main in ("hidden_states", "pixel_values") and getattr(config, "patch_size", None):
        tensors[main], tensors[grid] = patch_grid(config, options)
        parts = [f"image patches {_shape(tensors[main])} on grid {tensors[grid].data[0]}"]
    elif main == "pixel_values":
        tensors.update(pixels)
        parts = [f"{picture} {_shape(image)}"]
        if "input_ids" in accepted:  # image-text models (Kosmos-2, SAM 3, BLIP-2)
            tensors["input_ids"] = tokens
            parts.append(f"seq {seq}")
    elif main == "pixel_values_videos":
        tensors[main] = visual(config, options, frames=16)
        parts = [f"video {_shape(tensors[main])}"]
    elif main == "past_values":
        tensors[main] = _series(config)
        parts = [f"time series {_shape(tensors[main])}"]
    elif main in AUDIO_INPUTS:
        tensors.update(extracted_audio(config, accepted, samples)
                       or {main: _configured_audio(main, config, samples)})
        parts = [f"audio {name} {_shape(t)}" for name, t in tensors.items()]
    elif (hidden := hidden_input(main, config, seq)) is not None:
        tensors[main] = hidden
        parts = [f"{main} {_shape(hidden)}"]
    else:
        tensors["input_ids"] = tokens
        parts = [f"seq {seq}"]
        if not is_causal and "attention_mask" in accepted:
            tensors["attention_mask"] = Template((1, seq), torch.long, 1)
            parts.append("with attention_mask")
    if getattr(config, "is_encoder_decoder", False) and "decoder_input_ids" in accepted:
        tensors["decoder_input_ids"] = tokens
        parts.append(f"decoder seq {seq}")
    if main != "pixel_values" and "pixel_values" in accepted and not _has_any(config,
                                                                               IMAGE_TOKEN_KEYS):
        tensors.update(pixels)
        parts.append(f"{picture} {_shape(image)}")
    if main in AUDIO_INPUTS and "pixel_values_videos" in accepted:  # an audio-video encoder
        tensors["pixel_values_videos"] = visual(config, options, frames=16)
        parts.append(f"video {_shape(tensors['pixel_values_videos'])}")
    if main not in AUDIO_INPUTS and not _has_any(config, AUDIO_TOKEN_KEYS) and any(
            name in accepted for name in AUDIO_INPUTS):
        audio = {name: t for name, t in extracted_audio(config, accepted, samples).items()
                 if name not in tensors}  # the text's attention_mask stays (CLVP)
        tensors.update(audio)
        parts += [f"audio {name} {_shape(t)}" for name, t in audio.items()]
    for name in required:
        if name in tensors:
            continue
        if name == "pixel_values_videos":
            tensors[name] = visual(config, options, frames=16)
            parts.append(f"video {_shape(tensors[name])}")
        elif name.endswith("input_ids"):
            tensors[name] = tokens
            parts.append(f"{name} seq {seq}")
        elif (hidden := hidden_input(name, config, seq)) is not None:
            tensors[name] = hidden
            parts.append(f"{name} {_shape(hidden)}")
        elif name.endswith("_mask") and name.removesuffix("_mask") in tensors:
            tensors[name] = _time_mask(tensors[name.removesuffix("_mask")], config)
        elif name.endswith("_padding") and name.removesuffix("_padding") in tensors:
            tensors[name] = tensors[name.removesuffix("_padding")]  # zeros: nothing padded
        elif name.startswith("prompt_") and "pixel_values" in tensors:  # SegGPT's prompt
            tensors[name] = tensors["pixel_values"]  # prompt image and mask, like the image
            parts.append(f"{name} {_shape(tensors[name])}")
        elif name == "freq" and main == "past_values":  # TimesFM's frequency class
            tensors[name] = Template((1, 1), torch.long)
        elif name == "merge_sizes" and grid:  # VideoLLaMA 3: a merge size per image
            tensors[name] = Template((1,), torch.long, _merge_size(config))
    for name, template in featured_inputs(accepted - set(tensors), config, seq).items():
        tensors[name] = template
        parts.append(f"{name} {_shape(template)}")
    if "lang_ids" in accepted and getattr(config, "languages", None):  # X-MOD's adapters
        tensors["lang_ids"] = Template((1,), torch.long)
        parts.append(f"language {config.languages[0]}")
    encoder_width = getattr(config, "encoder_hidden_size", None)
    if "encoder_hidden_states" in accepted and isinstance(encoder_width, int):
        tensors["encoder_hidden_states"] = Template((1, seq, encoder_width))  # a Q-Former's image
        parts.append(f"encoder_hidden_states {_shape(tensors['encoder_hidden_states'])}")
    if main in AUDIO_INPUTS and f"{main}_mask" in accepted and f"{main}_mask" not in tensors:
        tensors[f"{main}_mask"] = _time_mask(tensors[main], config)
    queries = getattr(config, "latent_query_num", None)
    if ("image_embeds_position_mask" in accepted and "pixel_values" in tensors
            and "input_ids" in tensors and isinstance(queries, int) and queries < seq):
        # Kosmos-2: the image's latent queries take the text positions after <image>
        tensors["image_embeds_position_mask"] = Template(
            (1, seq), torch.long, data=((0,) + (1,) * queries + (0,) * (seq - queries - 1),))
        parts.append(f"{queries} image positions")
    if "bbox" in accepted and "input_ids" in tensors:
        tensors["bbox"] = Template((1, seq, 4), torch.long)
        parts.append("zero bbox")
    flags = {"use_cache": False} if "use_cache" in accepted else {}
    configured = getattr(config, "dtype", None)
    float_dtype = dtype or (configured if isinstance(configured, torch.dtype) else None)

    def make() -> SampleInputs:
        return SampleInputs(kwargs={**{k: t.make(batch, float_dtype) for k, t in tensors.items()},
                                    **flags})

    kind = "tokens" if "input_ids" in tensors and main not in AUDIO_INPUTS else "inputs"
    return make, f"{kind} (batch {batch}, {', '.join(parts)})"


def _shape(tensor: Template) -> str:
    return "x".join(map(str, tensor.shape if tensor.shape[0] > 1 else tensor.shape[1:]))


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


# transformers default configs that fail in plain PyTorch (checked with one layer on CPU) and the
# value of the published checkpoint that makes them run, by (sub-)config model_type
DEFAULT_CONFIG_REPAIRS: dict[str, dict[str, Any]] = {
    # the code's M-RoPE sections [8, 12, 12] cover 64 of the 128 head dims (GLM-4.1V's config)
    "glm4v_text": {"rope_parameters.partial_rotary_factor": 0.5},
    "glm_image_text": {"rope_parameters.partial_rotary_factor": 0.5},
    # 4096 / 96 heads leaves 42 dims, too few for those sections; GLM-4.5V sets head_dim 128
    "glm4v_moe_text": {"head_dim": 128},
}


def repair_default_config(config) -> list[str]:
    """Apply DEFAULT_CONFIG_REPAIRS to `config` and its sub-configs; returns `key=value` for
    each value set (said in the input description)."""
    done = []
    for part in (config, *_sub_configs(config)):
        for key, value in DEFAULT_CONFIG_REPAIRS.get(getattr(part, "model_type", ""), {}).items():
            holder, _, name = key.rpartition(".")
            if holder:
                getattr(part, holder)[name] = value
            else:
                setattr(part, name, value)
            done.append(f"{part.model_type} {key}={value}")
    return done


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
        if key is not None and not _has_any(config, keys) and isinstance(vocab, int):
            setattr(config, key, vocab - 1)
            done.append(f"{key}={vocab - 1}")
    return done


def _concrete_or_none(config):
    try:
        return model_class(config)
    except (ConfigError, KeyError):
        return None


def source(spec: str, options: InputOptions, task: str = "auto") -> ModelSource:
    try:
        import transformers  # noqa: F401
    except ImportError:
        raise SpecError(
            f"{spec}: Hugging Face models need transformers: pip install 'modellens[hf]'"
        ) from None
    config, origin = load_config(spec)
    cls = model_class(config, task)
    if cls.forward is torch.nn.Module.forward:  # Bark, GLM-Image's VQ model: sub-models only
        raise BuildError(f"{spec}: {cls.__name__} has no forward()")
    dtype = build_dtype(cls, config)
    placeholders = set_unset_placeholders(config)
    repairs = repair_default_config(config) if origin == "default config" else []
    make_inputs, description = make_input_builder(cls, config, options, dtype)
    if placeholders:
        description += f"; {', '.join(placeholders)} (unset in the config)"
    if repairs:
        description += f"; default config repaired: {', '.join(repairs)}"
    if dtype is not None:
        description += f"; weights {str(dtype).removeprefix('torch.')} (grouped-mm experts)"

    def build():
        try:
            return cls._from_config(config, **({"dtype": dtype} if dtype is not None else {}))
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
