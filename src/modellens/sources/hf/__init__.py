"""Hugging Face Transformers models: offline catalog id, local directory, config.json, hub id,
or `type:MODEL_TYPE` (transformers' default config).

`catalog` finds the config, `classes` the model class and what the config says about it,
`inputs` the sample inputs (an ordered list of input rules)."""

from __future__ import annotations

import torch

from ...errors import BuildError, SpecError
from ..base import InputOptions, ModelSource
from ..catalog_index import CATALOG_DIR
from .catalog import (
    TYPE_PREFIX,
    catalog_config,
    catalog_names,
    default_config,
    in_catalog,
    load_config,
    model_types,
)
from .classes import (
    DEFAULT_CONFIG_REPAIRS,
    TASKS,
    build_dtype,
    check_config,
    is_decoder_only,
    max_sequence_length,
    model_class,
    moe_settings,
    repair_default_config,
    set_unset_placeholders,
)
from .inputs import make_input_builder

__all__ = ["CATALOG_DIR", "DEFAULT_CONFIG_REPAIRS", "TASKS", "TYPE_PREFIX", "catalog_config",
           "catalog_names", "default_config", "in_catalog", "is_decoder_only", "load_config",
           "make_input_builder", "max_sequence_length", "model_class", "model_types",
           "repair_default_config", "source"]


def source(spec: str, options: InputOptions, task: str = "auto", *,
           trust_remote_code: bool = False) -> ModelSource:
    """The model `spec` names, as `model_class(config, task)` builds it, with sample inputs by
    rule; the description also says what was filled into the config. A config that names its
    own code (`auto_map`) runs it only with `trust_remote_code`."""
    try:
        import transformers  # noqa: F401
    except ImportError:
        raise SpecError(
            f"{spec}: Hugging Face models need transformers: pip install 'modellens[hf]'"
        ) from None
    config, origin = load_config(spec, trust_remote_code=trust_remote_code)
    check_config(config, spec)
    cls = model_class(config, task, trust_remote_code=trust_remote_code)
    if cls.forward is torch.nn.Module.forward:  # Bark, GLM-Image's VQ model: sub-models only
        raise BuildError(f"{spec}: {cls.__name__} has no forward()")
    dtype = build_dtype(cls, config)
    placeholders = set_unset_placeholders(config)
    repairs = repair_default_config(config) if origin == "default config" else []
    make_inputs, description = make_input_builder(cls, config, options, dtype)
    if placeholders:
        description += f"; {', '.join(placeholders)} (unset in the config)"
    if repairs:
        description += f"; default config repaired: {', '.join(repairs)}"
    if origin.startswith("hub"):
        description += f"; {origin}"
    if dtype is not None:
        description += f"; weights {str(dtype).removeprefix('torch.')} (grouped-mm experts)"

    def build():
        try:
            return cls._from_config(config, **({"dtype": dtype} if dtype is not None else {}))
        except Exception as exc:
            raise BuildError(f"{spec}: could not build {cls.__name__}: {exc}") from exc

    return ModelSource(
        name=spec,
        kind="hf",
        build=build,
        make_inputs=make_inputs,
        input_description=description,
        metadata={
            "origin": origin,
            "model_type": config.model_type,
            "model_class": cls.__name__,
            "max_sequence_length": max_sequence_length(config),
            "moe": moe_settings(config),
        },
    )
