"""modellens: what a PyTorch model costs (params, FLOPs, memory, roofline), from its structure.

The public API is imported lazily so `import modellens` stays fast and pulls in no model
library (transformers, torchvision, ultralytics, timm).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # profiling
    "profile": "modellens.profiler",
    "ProfileResult": "modellens.results",
    "profile_sweep": "modellens.sweep",
    "SweepResult": "modellens.sweep",
    "capture": "modellens.capture",
    "Capture": "modellens.capture",
    "SampleInputs": "modellens.capture",
    "resolve": "modellens.sources",
    # extending the counting
    "register_flop_formula": "modellens.analysis.formulas",
    "register_bytes_formula": "modellens.analysis.costs",
    "get_chip": "modellens.hardware",
    # the other jobs
    "extract_matrices": "modellens.matrices",
    "MatricesResult": "modellens.matrices",
    "profile_transformer_config": "modellens.transformer_config",
    "TransformerProfile": "modellens.transformer_config",
    "extract_unique_modules": "modellens.unique",
    "extract_pytorch_ops": "modellens.unique",
    "analyze_unique": "modellens.unique",
    "UniqueModulesResult": "modellens.unique",
    "PytorchOpsResult": "modellens.unique",
    "dump_model_info": "modellens.model_info",
    "compare_checkpoints": "modellens.model_info",
    "ModelInfo": "modellens.model_info",
    "LayerInfo": "modellens.model_info",
    "CheckpointDiff": "modellens.model_info",
    "llm_cost": "modellens.llm",
    "LLMReport": "modellens.llm",
    "ModellensError": "modellens.errors",
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
