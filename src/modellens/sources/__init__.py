"""'What model?': one spec string -> a `ModelSource` that builds the model and its inputs.

Spec grammar (see the README):
  gpt2, bert-base-uncased, mistralai/Mistral-7B-v0.1   offline catalog, else the HF hub (online)
  hf:ID_OR_PATH                                        force Hugging Face
  ./path/to/hf_dir, path/to/config.json                a local HF model directory or config
  tv:resnet50 (torchvision:)   timm:vit_base_patch16_224   yolo:yolov8n
  my_model.py::load_model                              a function returning an nn.Module
  configs/vit-b-16.json                                a transformer described by a small config
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from ..errors import SpecError
from .base import InputOptions, ModelSource, build_model

PREFIXES = ("hf", "tv", "torchvision", "timm", "yolo")


ModelLike = "str | torch.nn.Module"  # torch is imported only when a model is resolved

__all__ = ["InputOptions", "ModelLike", "ModelSource", "build_model", "resolve"]


def resolve(
    target: ModelLike,
    inputs: Any = None,
    options: InputOptions | None = None,
    *,
    batch_size: int = 1,
    seq_len: int | None = None,
    image_size: int | None = None,
    task: str = "auto",
    name: str | None = None,
) -> ModelSource:
    """THE dispatcher: what model was given -> a ModelSource.

    `target` is a spec string (catalog id, hub id, directory, config path, `tv:`/`timm:`/`yolo:`/
    `hf:` name, `file.py::fn`) or an nn.Module; `inputs` is the module's sample input (a tensor,
    tuple, dict or a function returning one) or a `file.py::fn` reference for a file-based model.
    `options` (or batch_size/seq_len/image_size) set the sample inputs of a spec."""
    options = options or InputOptions(batch_size=batch_size, seq_len=seq_len,
                                      image_size=image_size)
    from torch import nn

    if isinstance(target, nn.Module):
        from .pyfile import as_sample_inputs, from_functions

        if inputs is None:
            raise SpecError("profiling an nn.Module needs inputs= (a tensor, tuple or dict)")
        make = inputs if callable(inputs) else (lambda: inputs)
        label = name or type(target).__name__
        return from_functions(label, lambda: target, lambda: as_sample_inputs(make(), label))
    if not isinstance(target, str):
        raise SpecError(f"a model is a spec string or an nn.Module, got {type(target).__name__}")
    if isinstance(inputs, str):
        from . import pyfile

        return pyfile.source(target, options, inputs_ref=inputs)
    if task != "auto":
        from . import hf

        return hf.source(target.removeprefix("hf:"), options, task=task)
    return _resolve_spec(target, options)


def _resolve_spec(spec: str, options: InputOptions) -> ModelSource:
    """A spec string -> ModelSource, or SpecError with the closest names."""
    spec = spec.strip()
    if not spec:
        raise SpecError("empty model spec")
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in PREFIXES and not rest.startswith("//"):
        return _by_prefix(prefix, rest, options)
    if "::" in spec:
        from . import pyfile

        return pyfile.source(spec, options)
    path = Path(spec)
    if path.suffix == ".py":
        raise SpecError(f"{spec}: a Python file needs a function, e.g. {spec}::load_model")
    if path.suffix == ".json":
        return _from_json_file(path, options)
    if path.is_dir():
        from . import hf

        return hf.source(spec, options)
    from . import hf

    if hf.in_catalog(spec) or "/" in spec:
        return hf.source(spec, options)
    raise SpecError(unknown_spec_message(spec))


def _by_prefix(prefix: str, name: str, options: InputOptions) -> ModelSource:
    if prefix == "hf":
        from . import hf

        return hf.source(name, options)
    if prefix in ("tv", "torchvision"):
        from . import torchvision

        return torchvision.source(name, options)
    if prefix == "timm":
        from . import timm

        return timm.source(name, options)
    from . import yolo

    return yolo.source(name, options)


def _from_json_file(path: Path, options: InputOptions) -> ModelSource:
    if not path.is_file():
        raise SpecError(f"config file not found: {path}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        from ..errors import ConfigError

        raise ConfigError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if isinstance(data, dict) and "model_type" in data:
        from . import hf

        return hf.source(str(path), options)
    from . import transformer as transformer_config

    return transformer_config.source(path, data, options)


def unknown_spec_message(spec: str) -> str:
    from . import hf

    names = hf.catalog_names()
    close = difflib.get_close_matches(spec, names, n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return (
        f"unknown model {spec!r}: not in the offline catalog, not a file or directory.{hint} "
        "Use tv:NAME, timm:NAME, yolo:NAME, file.py::fn, or `modellens models` to list the catalog."
    )
