"""timm models by name (`timm:vit_base_patch16_224`), no pretrained weights."""

from __future__ import annotations

import difflib

import torch

from ..capture import SampleInputs
from ..errors import SpecError
from .base import InputOptions, ModelSource


def source(name: str, options: InputOptions) -> ModelSource:
    try:
        import timm
    except ImportError:
        raise SpecError("timm models need timm: pip install 'modellens[timm]'") from None
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=5, cutoff=0.6)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise SpecError(f"unknown timm model {name!r}.{hint}")
    config = timm.get_pretrained_cfg(name)
    channels, height, width = (config.input_size if config and config.input_size else (3, 224, 224))
    if options.image_size:
        height = width = options.image_size
    shape = (options.batch_size, channels, height, width)

    def build():
        return timm.create_model(name, pretrained=False)

    return ModelSource(
        name=f"timm:{name}",
        kind="timm",
        build=build,
        make_inputs=lambda: SampleInputs((torch.zeros(shape),)),
        input_description=f"image (batch {shape[0]}, {channels}x{height}x{width})",
        metadata={"image_size": height},
    )
