"""Sample inputs of a Hugging Face model, by rule from its forward signature and config.

Rules apply in this order, and the order carries meaning:
1. `MAIN_INPUT`: the first rule that recognises the main input (`main_input_name`, else the
   first required argument) gives it: a patch grid, an image, a video, a time series, audio,
   a hidden-size float input, else token ids.
2. `BESIDE_MAIN`: each rule adds what the model takes beside it (decoder tokens, an image or
   audio beside text, the required arguments left, ...), seeing every input chosen before it.
   A rule that sets an input already chosen replaces its tensor and keeps its place.
The input description names the chosen tensors in order, each as its template says
(`Template.says`); floating-point inputs are made in the dtype the model is built in, else the
config's.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable

import torch

from ...capture import SampleInputs
from ..base import InputOptions
from .audio import AUDIO_INPUTS, configured_audio, extracted_audio, time_mask
from .classes import (
    AUDIO_TOKEN_KEYS,
    IMAGE_TOKEN_KEYS,
    has_any,
    is_decoder_only,
    max_sequence_length,
)
from .templates import (
    GRID_INPUTS,
    Template,
    featured_inputs,
    hidden_input,
    merge_size,
    naflex_patches,
    patch_grid,
    positioned_patches,
    series,
    visual,
)

DEFAULT_SEQ_LEN = 128
CLIP_FRAMES = 16  # a video input's frames where the config names none


@dataclass(frozen=True)
class Forward:
    """What the rules read: the model's forward arguments, its config and the input options."""

    config: Any
    options: InputOptions
    accepted: frozenset[str]
    required: tuple[str, ...]
    main: str  # the main input's name
    seq: int  # token sequence length

    @classmethod
    def of(cls, model_cls, config, options: InputOptions) -> Forward:
        signature = inspect.signature(model_cls.forward).parameters
        required = tuple(n for n, p in signature.items() if n != "self" and p.default is p.empty
                         and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        main = getattr(model_cls, "main_input_name", "input_ids")
        if main not in signature and required:
            main = required[0]
        limit = max_sequence_length(config)
        seq = options.seq_len or (min(DEFAULT_SEQ_LEN, limit) if limit else DEFAULT_SEQ_LEN)
        return cls(config, options, frozenset(signature), required, main, seq)

    @property
    def samples(self) -> int | None:
        """Audio samples (--seq-len); None: one second at the extractor's rate."""
        return self.options.seq_len

    @property
    def audio_main(self) -> bool:
        return self.main in AUDIO_INPUTS

    @cached_property
    def grid(self) -> str | None:
        """The required patch-grid argument (`grid_thw`), if any."""
        return next((name for name in self.required if name in GRID_INPUTS), None)

    def tokens(self, says: str = "seq {shape}") -> Template:
        return Template((1, self.seq), torch.long, says=says)

    def video(self) -> Template:
        return visual(self.config, self.options, frames=CLIP_FRAMES)

    @cached_property
    def pixels(self) -> dict[str, Template]:
        """The image input(s): NaFlex patches where `spatial_shapes` is taken, positioned
        patches where `pixel_position_ids` is required, else an image (or a clip)."""
        if "spatial_shapes" in self.accepted:
            return naflex_patches(self.config)
        if "pixel_position_ids" in self.required:
            return positioned_patches(self.config, self.options)
        return {"pixel_values": seggpt_canvas(self, visual(self.config, self.options))}


def seggpt_canvas(forward: Forward, image: Template) -> Template:
    """SegGPT: prompt images at half the stacked canvas. Its configured image size stacks the
    prompt over the image, so a model with required `prompt_*` inputs gets half the height
    (unless --image-size is given)."""
    if (any(n.startswith("prompt_") for n in forward.required) and not forward.options.image_size
            and len(image.shape) == 4):
        return image._replace(shape=(1, image.shape[1], image.shape[2] // 2, image.shape[3]))
    return image


Chosen = Mapping[str, Template]
MainRule = Callable[[Forward], "dict[str, Template] | None"]
Rule = Callable[[Forward, Chosen], "dict[str, Template]"]


# ---- 1. the main input: the first rule that returns inputs gives it


def patch_grid_main(f: Forward) -> dict[str, Template] | None:
    """Qwen-VL vision towers (Qwen3-VL, GLM-4V, VideoLLaMA 3): flattened patches + grid_thw."""
    if f.grid and f.main in ("hidden_states", "pixel_values") and getattr(f.config, "patch_size",
                                                                          None):
        patches, grid = patch_grid(f.config, f.options)
        return {f.main: patches, f.grid: grid}
    return None


def image_main(f: Forward) -> dict[str, Template] | None:
    """Vision models (ViT, DETR, SigLIP 2's NaFlex, Gemma 4's tower): the image, or a clip
    where the config names frames (VideoMAE, TimeSformer); image-text models (Kosmos-2, SAM 3,
    BLIP-2) also get tokens."""
    if f.main != "pixel_values":
        return None
    return {**f.pixels, **({"input_ids": f.tokens()} if "input_ids" in f.accepted else {})}


def video_main(f: Forward) -> dict[str, Template] | None:
    """Video models taking pixel_values_videos (V-JEPA 2, VideoPrism, PE Video): a clip of the
    config's frames (16 where it names none)."""
    return {f.main: f.video()} if f.main == "pixel_values_videos" else None


def series_main(f: Forward) -> dict[str, Template] | None:
    """Time-series models (PatchTST, Informer, TimesFM): context_length past values."""
    return {f.main: series(f.config)} if f.main == "past_values" else None


def audio_main(f: Forward) -> dict[str, Template] | None:
    """Whisper/audio: what the feature extractor makes of silence, else a shape from the
    config (Whisper-style features, an AST spectrogram, raw samples)."""
    if not f.audio_main:
        return None
    return (extracted_audio(f.config, f.accepted, f.samples)
            or {f.main: configured_audio(f.main, f.config, f.samples)})


def hidden_main(f: Forward) -> dict[str, Template] | None:
    """Sub-models fed embeddings (a Q-Former's query_embeds, an audio codec's latents, a
    Perceiver's inputs): a float input in the config's width."""
    hidden = hidden_input(f.main, f.config, f.seq)
    return {f.main: hidden} if hidden is not None else None


def text_main(f: Forward) -> dict[str, Template]:
    """Text models (BERT, GPT-2, T5): token ids; encoders (not causal) an all-valid
    attention_mask too."""
    tensors = {"input_ids": f.tokens()}
    is_causal = is_decoder_only(f.config) or getattr(f.config, "is_decoder", False)
    if not is_causal and "attention_mask" in f.accepted:
        tensors["attention_mask"] = Template((1, f.seq), torch.long, 1, says="with attention_mask")
    return tensors


MAIN_INPUT: tuple[MainRule, ...] = (patch_grid_main, image_main, video_main, series_main,
                                    audio_main, hidden_main, text_main)


# ---- 2. what the model takes beside its main input


def decoder_tokens(f: Forward, chosen: Chosen) -> dict[str, Template]:
    """Encoder-decoders (T5, BART, Whisper): decoder tokens."""
    if getattr(f.config, "is_encoder_decoder", False) and "decoder_input_ids" in f.accepted:
        return {"decoder_input_ids": f.tokens("decoder seq {shape}")}
    return {}


def image_beside_text(f: Forward, chosen: Chosen) -> dict[str, Template]:
    """Text-image models without image tokens in their text (CLIP, SigLIP, ALIGN): an image
    beside the tokens; token-spliced multimodal models (LLaVA, Qwen-VL) run on text alone."""
    if (f.main != "pixel_values" and "pixel_values" in f.accepted
            and not has_any(f.config, IMAGE_TOKEN_KEYS)):
        return f.pixels
    return {}


def video_beside_audio(f: Forward, chosen: Chosen) -> dict[str, Template]:
    """Audio-video encoders (PE Audio-Video): a clip with the audio."""
    return {"pixel_values_videos": f.video()} if (
        f.audio_main and "pixel_values_videos" in f.accepted) else {}


def audio_beside_text(f: Forward, chosen: Chosen) -> dict[str, Template]:
    """Text-audio models without audio tokens in their text (CLAP, CLVP): the extractor's
    audio beside the tokens; the text's attention_mask stays (CLVP)."""
    if (f.audio_main or has_any(f.config, AUDIO_TOKEN_KEYS)
            or not any(name in f.accepted for name in AUDIO_INPUTS)):
        return {}
    return {name: t for name, t in extracted_audio(f.config, f.accepted, f.samples).items()
            if name not in chosen}


def required_inputs(f: Forward, chosen: Chosen) -> dict[str, Template]:
    """Every required argument not chosen yet, by the first of `REQUIRED` that fills it (one
    filled may be the X of a later `X_mask`); those no rule fills stay unset."""
    added: dict[str, Template] = {}
    for name in f.required:
        if name in chosen or name in added:
            continue
        so_far = {**chosen, **added}
        template = next((t for rule in REQUIRED if (t := rule(f, name, so_far)) is not None), None)
        if template is not None:
            added[name] = template
    return added


def width_named_inputs(f: Forward, chosen: Chosen) -> dict[str, Template]:
    """Inputs whose width the config names as `X_dim` (LXMERT's region features
    `visual_feat_dim`; Decision Transformer, SpeechT5): seq rows of that width."""
    return featured_inputs(f.accepted - set(chosen), f.config, f.seq)


def language_ids(f: Forward, chosen: Chosen) -> dict[str, Template]:
    """X-MOD's language adapters: the config's first language."""
    languages = getattr(f.config, "languages", None)
    if "lang_ids" in f.accepted and languages:
        return {"lang_ids": Template((1,), torch.long, says=f"language {languages[0]}")}
    return {}


def encoder_states(f: Forward, chosen: Chosen) -> dict[str, Template]:
    """A Q-Former (BLIP-2's): the image features it cross-attends to, encoder_hidden_size wide."""
    width = getattr(f.config, "encoder_hidden_size", None)
    if "encoder_hidden_states" in f.accepted and isinstance(width, int):
        return {"encoder_hidden_states": Template((1, f.seq, width), says="{name} {shape}")}
    return {}


def audio_mask(f: Forward, chosen: Chosen) -> dict[str, Template]:
    """Audio encoders taking a mask of their main input that the extractor does not make
    (Audio Flamingo 3's, Nemotron 3.5 Transcribe's): all frames valid."""
    name = f"{f.main}_mask"
    if f.audio_main and name in f.accepted and name not in chosen:
        return {name: time_mask(chosen[f.main], f.config)}
    return {}


def image_positions(f: Forward, chosen: Chosen) -> dict[str, Template]:
    """Kosmos-2: the image's latent queries take the text positions after <image>."""
    queries = getattr(f.config, "latent_query_num", None)
    if ("image_embeds_position_mask" in f.accepted and "pixel_values" in chosen
            and "input_ids" in chosen and isinstance(queries, int) and queries < f.seq):
        row = (0,) + (1,) * queries + (0,) * (f.seq - queries - 1)
        return {"image_embeds_position_mask": Template(
            (1, f.seq), torch.long, data=(row,), says=f"{queries} image positions")}
    return {}


def zero_boxes(f: Forward, chosen: Chosen) -> dict[str, Template]:
    """LayoutLM-style document models: a zero bounding box per token."""
    if "bbox" in f.accepted and "input_ids" in chosen:
        return {"bbox": Template((1, f.seq, 4), torch.long, says="zero bbox")}
    return {}


BESIDE_MAIN: tuple[Rule, ...] = (decoder_tokens, image_beside_text, video_beside_audio,
                                 audio_beside_text, required_inputs, width_named_inputs,
                                 language_ids, encoder_states, audio_mask, image_positions,
                                 zero_boxes)


# ---- required arguments: the first rule that returns a template fills one


def required_video(f: Forward, name: str, chosen: Chosen) -> Template | None:
    """Video-text models requiring pixel_values_videos (PE Video): a clip."""
    return f.video() if name == "pixel_values_videos" else None


def required_tokens(f: Forward, name: str, chosen: Chosen) -> Template | None:
    """A required `*input_ids` (InstructBLIP's qformer_input_ids, VideoPrism's and OmDet-Turbo's
    text): tokens."""
    return f.tokens("{name} seq {shape}") if name.endswith("input_ids") else None


def required_hidden(f: Forward, name: str, chosen: Chosen) -> Template | None:
    """A required `*_embeds`, `latents` or Perceiver `inputs`: a float input in the model's
    width."""
    return hidden_input(name, f.config, f.seq)


def required_mask(f: Forward, name: str, chosen: Chosen) -> Template | None:
    """A required `X_mask` of a chosen X (Qwen3-ASR's and Fun-ASR's audio encoders): all-valid
    over X's time axis."""
    of = name.removesuffix("_mask")
    return time_mask(chosen[of], f.config) if name.endswith("_mask") and of in chosen else None


def required_padding(f: Forward, name: str, chosen: Chosen) -> Template | None:
    """A required `X_padding` of a chosen X (TimesFM's past_values_padding): zeros like X,
    nothing padded."""
    of = name.removesuffix("_padding")
    if name.endswith("_padding") and of in chosen:
        return chosen[of]._replace(says=None)
    return None


def prompt_images(f: Forward, name: str, chosen: Chosen) -> Template | None:
    """SegGPT's prompt image and mask: the image's shape."""
    if name.startswith("prompt_") and "pixel_values" in chosen:
        return chosen["pixel_values"]._replace(says="{name} {shape}")
    return None


def frequency(f: Forward, name: str, chosen: Chosen) -> Template | None:
    """TimesFM's frequency class: 0 (high frequency)."""
    return Template((1, 1), torch.long) if name == "freq" and f.main == "past_values" else None


def merge_sizes(f: Forward, name: str, chosen: Chosen) -> Template | None:
    """VideoLLaMA 3's tower: a merge size per image beside grid_thw."""
    if name == "merge_sizes" and f.grid:
        return Template((1,), torch.long, merge_size(f.config))
    return None


REQUIRED = (required_video, required_tokens, required_hidden, required_mask, required_padding,
            prompt_images, frequency, merge_sizes)


# ---- applying the rules


def choose(forward: Forward) -> dict[str, Template]:
    """The sample inputs of one batch item, by MAIN_INPUT then BESIDE_MAIN."""
    chosen = dict(next(t for rule in MAIN_INPUT if (t := rule(forward)) is not None))
    for rule in BESIDE_MAIN:
        chosen.update(rule(forward, chosen))
    return chosen


def describe(forward: Forward, chosen: Chosen) -> str:
    """'tokens (batch 1, seq 128, with attention_mask)': each chosen input as it says, in
    order; 'inputs (...)' where no text tokens drive the model."""
    parts = [said for name, t in chosen.items() if (said := t.said(name)) is not None]
    kind = "tokens" if "input_ids" in chosen and not forward.audio_main else "inputs"
    return f"{kind} (batch {forward.options.batch_size}, {', '.join(parts)})"


def make_input_builder(model_cls, config, options: InputOptions,
                       dtype: torch.dtype | None = None):
    """(make_inputs, description) of `model_cls` built from `config`; floating-point inputs in
    `dtype` (the one the model is built in), else the config's; `use_cache=False`."""
    forward = Forward.of(model_cls, config, options)
    longer = _beyond_positions(forward, config)
    chosen = choose(forward)
    flags = {"use_cache": False} if "use_cache" in forward.accepted else {}
    configured = getattr(config, "dtype", None)
    float_dtype = dtype or (configured if isinstance(configured, torch.dtype) else None)
    batch = options.batch_size

    def make() -> SampleInputs:
        return SampleInputs(kwargs={**{k: t.make(batch, float_dtype) for k, t in chosen.items()},
                                    **flags})

    return make, describe(forward, chosen) + longer


def _beyond_positions(forward: Forward, config) -> str:
    """'' for a seq_len within the model's positions; refused beyond them (ConfigError) unless
    `allow_longer`, then a note for the input description."""
    limit = max_sequence_length(config)
    seq = forward.options.seq_len
    if forward.audio_main or not limit or not seq or seq <= limit:
        return ""
    if not forward.options.allow_longer:
        from ...errors import ConfigError

        raise ConfigError(f"seq_len {seq} is beyond the model's {limit} positions; pass "
                          "--allow-longer (allow_longer=True) to profile it anyway")
    return f"; seq_len {seq} beyond the model's {limit} positions (allow_longer)"
