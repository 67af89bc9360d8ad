"""What every model source gives: a ModelSource (build on the current device + sample inputs),
the sample-input options, and building it on meta with a CPU fallback."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # importing sources stays torch-free (`modellens models` lists the catalog)
    from torch import nn

    from ..capture import SampleInputs


@dataclass(frozen=True)
class InputOptions:
    """Sample-input settings; None means the model's natural default."""

    batch_size: int = 1
    seq_len: int | None = None
    image_size: int | None = None
    allow_longer: bool = False  # a seq_len beyond the model's positions is profiled, not refused

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
    # where the model came from: the spec as given, 'my_model.py:load_model', '<Net object>'
    location: str = ""
    function: str | None = None  # the function that builds a model given as code
    # False: build() returns a model with real weights (user code) or needs real tensors (YOLO's
    # constructor runs a forward pass to find its strides), so it is built on CPU directly
    builds_on_meta: bool = True


def build_model(source: ModelSource) -> tuple[nn.Module, str]:
    """Build on the meta device (no weight memory); fall back to CPU when the model's
    constructor needs real values.
    Returns (model, device it was built on)."""
    import torch

    from ..errors import BuildError, ModellensError
    from . import meta_init

    meta_failure = ""
    if source.builds_on_meta:
        try:
            with torch.device("meta"), meta_init.skipped():
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
