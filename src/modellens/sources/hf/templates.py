"""Sample-input templates and the shapes a Hugging Face config implies for them: images and
clips, patch grids, time series, hidden-size embeddings. Each template says how the input
description names it, so the description follows from the tensors chosen."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from ..base import InputOptions
from .classes import sub_configs

GRID_INPUTS = ("grid_thw", "image_grid_thw")


class Template(NamedTuple):
    """A sample input for one batch item: its shape (rows x ...), dtype and fill value, or
    explicit `data` rows (a patch grid); `make(batch)` stacks `batch` of them along dim 0.
    `says` is how the input description names it ('{name}' and '{shape}' filled in), None for
    inputs it leaves unsaid (masks, paddings, flags)."""

    shape: tuple[int, ...]
    dtype: torch.dtype = torch.float32
    fill: int = 0
    data: tuple[tuple[int, ...], ...] | None = None
    says: str | None = None

    def make(self, batch: int, float_dtype: torch.dtype | None = None) -> torch.Tensor:
        """`batch` items; floating-point ones in `float_dtype` when given (the model's)."""
        dtype = float_dtype if float_dtype and self.dtype.is_floating_point else self.dtype
        if self.data is not None:
            rows = torch.tensor(self.data, dtype=dtype)
            return rows.repeat(batch, *[1] * (rows.dim() - 1))
        return torch.full((batch * self.shape[0], *self.shape[1:]), self.fill, dtype=dtype)

    @property
    def size(self) -> str:
        """The shape as the description writes it: '3x224x224' (the leading 1 of a batch item
        dropped)."""
        return "x".join(map(str, self.shape if self.shape[0] > 1 else self.shape[1:]))

    def said(self, name: str) -> str | None:
        """This input's words in the description, when it is named by `name`."""
        if self.says is None:
            return None
        return self.says.replace("{name}", name).replace("{shape}", self.size)


def first(key: str, *configs, default=None):
    """The first truthy `key` among `configs`."""
    return next((v for c in configs if (v := getattr(c, key, None))), default)


def image_size(options: InputOptions, *configs) -> tuple[int, int]:
    """(height, width): --image-size, else the first config's image size (an int or a pair),
    else that of a nested sub-config (SAM 2's vision backbone, a DETR's backbone, PE Video's timm
    tower), else 224."""
    if options.image_size:
        return options.image_size, options.image_size
    nested = (part for config in configs if config is not None for part in sub_configs(config))
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


def visual(config, options: InputOptions, frames: int | None = None) -> Template:
    """An image (1, channels, h, w) from the config or its vision sub-config, or a clip
    (1, frames, channels, h, w) where the config names frames (frames_per_clip, num_frames;
    size crop_size or image_size) or `frames` is given."""
    parts = (config, getattr(config, "vision_config", None))
    channels = first("num_channels", *parts, default=3)
    frames = first("frames_per_clip", *parts) or first("num_frames", *parts) or frames
    if not frames:
        return Template((1, channels, *image_size(options, *parts)), says="image {shape}")
    crop = None if options.image_size else first("crop_size", *parts)
    size = (crop, crop) if isinstance(crop, int) else image_size(options, *parts)
    return Template((1, frames, channels, *size), says="video {shape}")


def patch_grid(config, options: InputOptions) -> tuple[Template, Template]:
    """(flattened patches, grid) for Qwen-VL-style vision towers: one image of image_size
    (default 224) cut into patch_size patches, as (t*h*w, channels*t*patch*patch) rows with grid
    [[t, h, w]], h and w rounded down to a multiple of the spatial merge size."""
    patch, merge = config.patch_size, merge_size(config)
    side = max(merge, image_size(options)[0] // patch // merge * merge)
    frames = first("temporal_patch_size", config) or first("patch_temporal", config, default=1)
    channels = getattr(config, "in_channels", None) or getattr(config, "num_channels", 3)
    grid = (1, side, side)
    patches = Template((side * side, channels * frames * patch * patch),
                       says=f"image patches {{shape}} on grid {grid}")
    return patches, Template((1, 3), torch.long, data=(grid,))


def merge_size(config) -> int:
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
    return {"pixel_values": Template((1, side * side, width), says="image patches {shape}"),
            "pixel_attention_mask": Template((1, side * side), torch.long, 1),
            "spatial_shapes": Template((1, 2), torch.long, data=((side, side),))}


def positioned_patches(config, options: InputOptions) -> dict[str, Template]:
    """Gemma 4 vision input: the image's flattened patches with their (x, y) grid positions,
    the side rounded down to a multiple of the pooling kernel."""
    patch, pool = config.patch_size, getattr(config, "pooling_kernel_size", None) or 1
    side = max(pool, image_size(options, config)[0] // patch // pool * pool)
    positions = tuple((x, y) for y in range(side) for x in range(side))
    return {"pixel_values": Template((1, side * side, 3 * patch * patch),
                                     says="image patches {shape}"),
            "pixel_position_ids": Template((1, side * side, 2), torch.long, data=(positions,))}


def series(config) -> Template:
    """(1, context_length[, num_input_channels]) past values of a time-series model."""
    length = getattr(config, "context_length", None) or 512
    channels = getattr(config, "num_input_channels", None)
    return Template((1, length, channels) if channels else (1, length),
                    says="time series {shape}")


def hidden_input(name: str, config, seq: int) -> Template | None:
    """A float input in the model's width (config hidden_size): `*_embeds` as (seq,
    hidden_size) embeddings (a Q-Former's queries), `latents` as (hidden_size, seq) frames (an
    audio codec's decoder), a Perceiver's preprocessed `inputs` as (seq, d_model); None for
    other names or without the width."""
    if name == "inputs" and isinstance(getattr(config, "d_model", None), int):
        return Template((1, seq, config.d_model), says="{name} {shape}")  # Perceiver
    width = getattr(config, "hidden_size", None)
    if not isinstance(width, int):
        return None
    if name.endswith("_embeds"):
        return Template((1, seq, width), says="{name} {shape}")
    return Template((1, width, seq), says="{name} {shape}") if name == "latents" else None


def featured_inputs(accepted: set[str], config, seq: int) -> dict[str, Template]:
    """Float inputs the config gives a width for (`visual_feats` by `visual_feat_dim`,
    `visual_pos` by `visual_pos_dim`: LXMERT's region features), `seq` rows each."""
    found = {}
    for name in sorted(accepted):
        width = first(f"{name}_dim", config) or first(f"{name.removesuffix('s')}_dim", config)
        if isinstance(width, int):
            found[name] = Template((1, seq, width), says="{name} {shape}")
    return found
