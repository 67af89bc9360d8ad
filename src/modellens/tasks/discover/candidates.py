"""The models `discover` tries, per library (`candidates(library)`):

  catalog       the offline catalog (`modellens models`)
  transformers  every model_type AutoModel / AutoModelForCausalLM / AutoModelForSeq2SeqLM can build,
                from transformers' default config (`hf:type:MODEL_TYPE`)
  torchvision   every name in `torchvision.models.list_models()`
  timm          the first model (alphabetically) of each family (leading letters of the name)
  yolo          YOLOv5u / v8 / 11 in sizes n, s, m, l, x; v8 and 11 also -seg and -pose
"""

from __future__ import annotations

import re
from typing import Callable

from ...errors import ConfigError
from .results import Candidate

LIBRARIES = ("catalog", "torchvision", "timm", "yolo", "transformers")
YOLO_FAMILIES = {"yolov5": ("",), "yolov8": ("", "-seg", "-pose"), "yolo11": ("", "-seg", "-pose")}
YOLO_SIZES = "nsmlx"


def candidates(library: str = "all", limit: int | None = None) -> list[Candidate]:
    """The models `discover` tries for `library` ("all": every library), at most `limit` each."""
    libraries = LIBRARIES if library == "all" else (library,)
    found: list[Candidate] = []
    for lib in libraries:
        if lib not in LIBRARIES:
            raise ConfigError(f"unknown library {lib!r}; expected all or {', '.join(LIBRARIES)}")
        found += _LISTERS[lib]()[:limit]
    return found


def find_candidate(name: str, library: str = "all") -> Candidate:
    """A candidate by its short name ('resnet50', 'bert') or a spec ('tv:resnet50', 'gpt2')."""
    libraries = LIBRARIES if library == "all" else (library,)
    for lib in libraries:
        for candidate in _LISTERS[lib]():
            if name in (candidate.name, candidate.spec):
                return candidate
    return Candidate("custom", name, name)


def timm_sample() -> list[str]:
    """The alphabetically first model of each timm family (the name's leading letters:
    resnet, resnetv, vit, convnext, ...): one representative per architecture, deterministic."""
    import timm

    first: dict[str, str] = {}
    for name in sorted(timm.list_models()):
        first.setdefault(re.match(r"[a-z]*", name).group(0), name)
    return list(first.values())


def _catalog() -> list[Candidate]:
    from ...sources import hf

    return [Candidate("catalog", name, name) for name in hf.catalog_names()]


def _transformers() -> list[Candidate]:
    from ...sources import hf

    return [Candidate("transformers", t, f"hf:{hf.TYPE_PREFIX}{t}") for t in hf.model_types()]


def _torchvision() -> list[Candidate]:
    from ...sources import torchvision

    return [Candidate("torchvision", n, f"tv:{n}") for n in torchvision.list_names()]


def _timm() -> list[Candidate]:
    return [Candidate("timm", n, f"timm:{n}") for n in timm_sample()]


def _yolo() -> list[Candidate]:
    names = [f"{family}{size}{task}" for family, tasks in YOLO_FAMILIES.items()
             for task in tasks for size in YOLO_SIZES]
    return [Candidate("yolo", n, f"yolo:{n}") for n in names]


_LISTERS: dict[str, Callable[[], list[Candidate]]] = {
    "catalog": _catalog, "transformers": _transformers, "torchvision": _torchvision,
    "timm": _timm, "yolo": _yolo,
}
