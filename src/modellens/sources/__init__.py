"""'What model?': a spec string, an nn.Module or a function returning one -> a `ModelSource`
that builds the model and its inputs and says where it came from (`resolve`).

Spec grammar (see the README):
  gpt2, bert-base-uncased, mistralai/Mistral-7B-v0.1   offline catalog, else the HF hub (online)
  hf:ID_OR_PATH                                        force Hugging Face
  ./path/to/hf_dir, path/to/config.json                a local HF model directory or config
  tv:resnet50 (torchvision:)   timm:vit_base_patch16_224   yolo:yolov8n
  my_model.py::load_model                              a function returning an nn.Module
  configs/vit-b-16.json                                a transformer described by a small config
  model.gguf                                           a llama.cpp file: config from its metadata
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import SpecError
from . import catalog_index
from .base import InputOptions, ModelSource, build_model

PREFIXES = ("hf", "tv", "torchvision", "timm", "yolo")


# torch is imported only when a model is resolved
ModelLike = "str | os.PathLike | torch.nn.Module | Callable[[], torch.nn.Module]"

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
    allow_longer: bool = False,
    trust_remote_code: bool = False,
) -> ModelSource:
    """THE dispatcher: what model was given -> a ModelSource that says where it came from
    (`location`, and `function` for a model given as code).

    `target` is a spec string or path (catalog id, hub id, directory, config path, `tv:`/
    `timm:`/`yolo:`/`hf:` name, `file.py::fn`), an nn.Module, or a function returning one;
    `inputs` is the sample input of a model given as code: a tensor, tuple, dict, a function
    returning one, or a `file.py::fn` reference (a file-based model defaults to its file's
    `get_inputs`). `options` (or batch_size/seq_len/image_size) set the sample inputs of a
    spec; `task` picks a Hugging Face head; `name` names a model given as an object.
    A `seq_len` beyond a text model's positions is refused unless `allow_longer`.
    `trust_remote_code=True` lets a Hugging Face directory or hub repo whose config names its own
    code (`auto_map`) run that code; without it such a model is refused, never run, never
    prompted for."""
    options = options or InputOptions(batch_size=batch_size, seq_len=seq_len,
                                      image_size=image_size, allow_longer=allow_longer)
    if isinstance(target, os.PathLike):
        target = os.fspath(target)
    if not isinstance(target, str):
        from . import pyfile

        return pyfile.from_object(target, inputs, name)
    if "::" in target or isinstance(inputs, str):
        from . import pyfile

        return pyfile.source(target.strip(), inputs)
    if task != "auto":
        return replace(_hf_source(target.removeprefix("hf:"), options, trust_remote_code, task),
                       location=target)
    return replace(_resolve_spec(target, options, trust_remote_code), location=target)


def _resolve_spec(spec: str, options: InputOptions, trust_remote_code: bool = False
                  ) -> ModelSource:
    """A spec string -> ModelSource, or SpecError with the closest names."""
    spec = spec.strip()
    if not spec:
        raise SpecError("empty model spec")
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in PREFIXES and not rest.startswith("//"):
        return _by_prefix(prefix, rest, options, trust_remote_code)
    path = Path(spec)
    if path.suffix == ".py":
        raise SpecError(f"{spec}: a Python file needs a function, e.g. {spec}::load_model")
    if path.suffix == ".json":
        return _from_json_file(path, options)
    if path.suffix.lower() == ".gguf":  # a GGUF file: config from its metadata
        from . import hf

        return hf.source(spec, options, trust_remote_code=trust_remote_code)
    if path.is_dir() or catalog_index.catalog_file(spec) is not None or "/" in spec:
        return _hf_source(spec, options, trust_remote_code)
    raise SpecError(unknown_spec_message(spec))


def _hf_source(spec: str, options: InputOptions, trust_remote_code: bool = False,
               task: str = "auto") -> ModelSource:
    """`hf.source`, after the quick hub check (`hub.require`) for an id only the hub has: an
    unreachable hub fails here, before torch and transformers are imported."""
    from . import hub

    if hub.is_hub_id(spec):
        hub.require(spec)
    from . import hf

    return hf.source(spec, options, task=task, trust_remote_code=trust_remote_code)


def _by_prefix(prefix: str, name: str, options: InputOptions,
               trust_remote_code: bool = False) -> ModelSource:
    if prefix == "hf":
        return _hf_source(name, options, trust_remote_code)
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
    names = catalog_index.catalog_names()
    close = difflib.get_close_matches(spec, names, n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return (
        f"unknown model {spec!r}: not in the offline catalog, not a file or directory.{hint} "
        "Use tv:NAME, timm:NAME, yolo:NAME, file.py::fn, or `modellens models` to list the catalog."
    )
