"""modellens: what a PyTorch model costs (params, FLOPs, memory, roofline), from its structure.

The public API is imported lazily so `import modellens` stays fast and pulls in no model
library (transformers, torchvision, ultralytics, timm).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "profile": "modellens.profiler",
    "profile_transformer_config": "modellens.transformer_config",
    "ProfileResult": "modellens.results",
    "capture": "modellens.capture",
    "Capture": "modellens.capture",
    "SampleInputs": "modellens.capture",
    "register_flop_formula": "modellens.analysis.formulas",
    "register_bytes_formula": "modellens.analysis.costs",
    "get_chip": "modellens.hardware",
    "ModellensError": "modellens.errors",
    "resolve": "modellens.sources",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'modellens' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
