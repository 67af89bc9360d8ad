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
    "profile": "modellens.tasks.profile",
    "ProfileResult": "modellens.analysis.results",
    "profile_sweep": "modellens.tasks.sweep",
    "SweepResult": "modellens.tasks.sweep",
    "capture": "modellens.capture",
    "Capture": "modellens.capture",
    "SampleInputs": "modellens.capture",
    "resolve": "modellens.sources",
    # extending the counting
    "register_flop_formula": "modellens.costing.registry",
    "register_bytes_formula": "modellens.costing.registry",
    "get_chip": "modellens.hardware",
    # the other jobs
    "extract_matrices": "modellens.tasks.matrices",
    "MatricesResult": "modellens.tasks.matrices",
    "profile_transformer_config": "modellens.tasks.transformer",
    "TransformerProfile": "modellens.tasks.transformer",
    "extract_unique_modules": "modellens.tasks.unique",
    "extract_pytorch_ops": "modellens.tasks.unique",
    "analyze_unique": "modellens.tasks.unique",
    "UniqueModulesResult": "modellens.tasks.unique",
    "PytorchOpsResult": "modellens.tasks.unique",
    "dump_model_info": "modellens.api",
    "compare_checkpoints": "modellens.tasks.model_info",
    "ModelInfo": "modellens.tasks.model_info",
    "LayerInfo": "modellens.tasks.model_info",
    "CheckpointDiff": "modellens.tasks.model_info",
    "llm_cost": "modellens.tasks.llm",
    "LLMReport": "modellens.tasks.llm",
    "ModellensError": "modellens.errors",
    # the JSON documents' schemas
    "schema": "modellens.schemas",
    "validate": "modellens.schemas",
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
