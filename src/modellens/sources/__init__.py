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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..errors import SpecError

if TYPE_CHECKING:  # torch stays unimported until a model is built (`modellens models` needs none)
    from torch import nn

    from ..capture import SampleInputs

PREFIXES = ("hf", "tv", "torchvision", "timm", "yolo")


@dataclass(frozen=True)
class InputOptions:
    """Sample-input settings; None means the model's natural default."""

    batch_size: int = 1
    seq_len: int | None = None
    image_size: int | None = None

    def __post_init__(self) -> None:
        from ..errors import ConfigError

        for name in ("batch_size", "seq_len", "image_size"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")


@dataclass
class ModelSource:
    """How to build one model (on whatever device is current) and a sample input for it."""

    name: str
    kind: str  # "hf", "torchvision", "timm", "yolo", "pyfile", "transformer-config"
    build: Callable[[], nn.Module]
    make_inputs: Callable[[], SampleInputs]
    input_description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    # False: build() returns a model with real weights (user code) or needs real tensors (YOLO's
    # constructor runs a forward pass to find its strides), so it is built on CPU directly
    builds_on_meta: bool = True


def resolve(spec: str, options: InputOptions | None = None) -> ModelSource:
    """Turn a spec string into a ModelSource, or raise SpecError with the closest names."""
    options = options or InputOptions()
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
    from . import transformer_config

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


def build_model(source: ModelSource) -> tuple[nn.Module, str]:
    """Build on the meta device (no weight memory); fall back to CPU when the model's
    constructor needs real values.
    Returns (model, device it was built on)."""
    import torch

    from ..errors import BuildError, ModellensError

    meta_failure = ""
    if source.builds_on_meta:
        try:
            with torch.device("meta"):
                return source.build(), "meta"
        except ModellensError:
            raise
        except Exception as exc:
            meta_failure = f"{type(exc).__name__}: {str(exc).strip()[:200]}"
    try:
        with torch.device("cpu"):
            model = source.build()
    except ModellensError:
        raise
    except Exception as exc:
        detail = f" (meta build also failed: {meta_failure})" if meta_failure else ""
        raise BuildError(
            f"could not build {source.name}: {type(exc).__name__}: {str(exc).strip()[:300]}{detail}"
        ) from exc
    return model, "cpu"
