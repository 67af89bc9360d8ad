"""A transformer described by a small JSON config (seed 001): see modellens.transformer_config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import InputOptions, ModelSource


def source(path: Path, data: Any, options: InputOptions) -> ModelSource:
    from ..transformer_config import config_source

    return config_source(path, data, options)
