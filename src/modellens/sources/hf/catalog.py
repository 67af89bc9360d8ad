"""Which Hugging Face config a spec names: the offline catalog (file reading in
`sources.catalog_index`), a local directory or config file, the hub, or transformers' default
config of a model type (`type:bert`)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ...errors import ConfigError, SpecError
from .. import catalog_index

TYPE_PREFIX = catalog_index.TYPE_PREFIX
_BUILD_MAPPINGS = ("MODEL_MAPPING_NAMES", "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES",
                   "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES")


def catalog_names() -> list[str]:
    """Model ids shipped in the offline catalog."""
    return catalog_index.catalog_names()


def in_catalog(model_id: str) -> bool:
    return catalog_index.catalog_file(model_id) is not None


def catalog_config(model_id: str) -> dict[str, Any]:
    file = catalog_index.catalog_file(model_id)
    if file is None:
        raise SpecError(f"{model_id!r} is not in the offline catalog")
    return json.loads(file.read_text())


REMOTE_CODE_FLAG = "--trust-remote-code"
# where a hub id's config came from: only its config.json, never weights
HUB_FETCHED = "hub: config.json only (no weights), fetched into the Hugging Face cache"
HUB_CACHED = "hub: config.json from the Hugging Face cache (hub unreachable; no weights)"


def load_config(spec: str, *, trust_remote_code: bool = False):
    """(transformers config, where it came from) for a catalog id, directory, file, hub id, or
    `type:MODEL_TYPE` (the library's default config for that architecture).

    transformers always gets an explicit `trust_remote_code` (False unless asked), so it never
    prompts on stdin and never imports a directory's or repo's Python files unasked; a config
    that needs its own code is refused with one line naming --trust-remote-code."""
    from transformers import AutoConfig

    if spec.startswith(TYPE_PREFIX):
        return default_config(spec.removeprefix(TYPE_PREFIX)), "default config"
    path = Path(spec)
    try:
        if in_catalog(spec):
            return _config_from_dict(catalog_config(spec), spec), "catalog"
        if path.is_dir():
            if not (path / "config.json").is_file():
                raise SpecError(f"{spec}: directory has no config.json")
            data = json.loads((path / "config.json").read_text())
            check_finite(data, f"{spec}/config.json")
            if not trust_remote_code:
                _refuse_remote_code(spec, data)
            try:
                config = _from_pretrained(AutoConfig, str(path), spec, trust_remote_code,
                                          local_files_only=True)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise ConfigError(f"{spec}/config.json: {one_line(exc)}") from None
            return config, "local directory"
        if path.suffix == ".json":
            if not path.is_file():
                raise SpecError(f"config file not found: {spec}")
            return _config_from_dict(json.loads(path.read_text()), spec), "config file"
        if path.suffix.lower() == ".gguf":
            from ..gguf import config_dict

            if not path.is_file():
                raise SpecError(f"GGUF file not found: {spec}")
            return _config_from_dict(config_dict(path), spec), "GGUF metadata"
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{spec}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    from .. import hub

    # one quick check: an unreachable hub fails in one line, a cached config is read offline
    local_only = hub.require(spec) if hub.is_hub_id(spec) else False
    try:
        config = _from_pretrained(AutoConfig, spec, spec, trust_remote_code,
                                  local_files_only=local_only)
    except SpecError:
        raise
    except Exception as exc:  # unknown repo, gated repo, a connection lost midway
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise SpecError(hub.unreachable_message(spec, f"the hub lookup failed ({reason})")
                        ) from None
    return config, HUB_CACHED if local_only else HUB_FETCHED


def needs_remote_code(data: Any) -> bool:
    """Whether a config.json's contents can only be loaded by running its own code: it names
    code (`auto_map`) for a model_type transformers does not have."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return (isinstance(data, dict) and bool(data.get("auto_map"))
            and data.get("model_type") not in CONFIG_MAPPING_NAMES)


def remote_code_message(spec: str) -> str:
    return (f"{spec}: this model's config names its own Python code (auto_map), which modellens "
            f"never runs unasked; pass {REMOTE_CODE_FLAG} (trust_remote_code=True) only if you "
            "trust its source")


def _refuse_remote_code(spec: str, data: Any) -> None:
    if needs_remote_code(data):
        raise SpecError(remote_code_message(spec))


def _from_pretrained(auto_cls, name: str, spec: str, trust_remote_code: bool, **kwargs):
    """`auto_cls.from_pretrained` with an explicit trust_remote_code; transformers' refusal of
    custom code becomes the one-line error naming the flag."""
    try:
        return auto_cls.from_pretrained(name, trust_remote_code=trust_remote_code, **kwargs)
    except ValueError as exc:
        if not trust_remote_code and "trust_remote_code" in str(exc):
            raise SpecError(remote_code_message(spec)) from None
        raise


def _config_from_dict(data: dict[str, Any], origin: str):
    from transformers import AutoConfig

    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a JSON object, got {type(data).__name__}")
    check_finite(data, origin)
    data = dict(data)
    model_type = data.pop("model_type", None)
    if not model_type:
        raise ConfigError(f"{origin}: HF config has no 'model_type'")
    try:
        return AutoConfig.for_model(model_type, **data)
    except Exception as exc:  # transformers' own validation (strict dataclass fields, ...)
        raise ConfigError(f"{origin}: {one_line(exc)}") from None


def check_finite(data: Any, origin: str, path: str = "") -> None:
    """Every number in a JSON config is finite: a NaN or Infinity (which Python's JSON reader
    accepts) is a ConfigError naming the field."""
    if isinstance(data, float) and not math.isfinite(data):
        raise ConfigError(f"{origin}: {path or 'value'} is {data} (expected a finite number)")
    if isinstance(data, dict):
        for key, value in data.items():
            check_finite(value, origin, f"{path}.{key}" if path else str(key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            check_finite(value, origin, f"{path}[{i}]")


def one_line(exc: BaseException, limit: int = 400) -> str:
    """An exception's whole message on one line (transformers' validation errors put the
    reason on the second line)."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    text = text or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def model_types() -> list[str]:
    """Every model_type in transformers' auto-config mapping that AutoModel, AutoModelForCausalLM
    or AutoModelForSeq2SeqLM can build, sorted."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    buildable = set().union(*(mapping_names(name) for name in _BUILD_MAPPINGS))
    return sorted(t for t in CONFIG_MAPPING_NAMES if t in buildable)


def default_config(model_type: str):
    """transformers' default config for `model_type` (e.g. 'bert'), as `hf:type:bert` builds."""
    import difflib

    from transformers import AutoConfig
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    if model_type not in CONFIG_MAPPING_NAMES:
        close = difflib.get_close_matches(model_type, list(CONFIG_MAPPING_NAMES), n=5, cutoff=0.6)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise SpecError(f"unknown transformers model_type {model_type!r}.{hint}")
    try:
        return AutoConfig.for_model(model_type)
    except Exception as exc:
        raise ConfigError(f"type:{model_type}: no default config ({exc})") from None


def mapping_names(name: str) -> dict[str, Any]:
    """One of transformers' auto mappings (model_type -> class name), e.g.
    MODEL_FOR_CAUSAL_LM_MAPPING_NAMES."""
    from transformers.models.auto import modeling_auto

    return getattr(modeling_auto, name, {})
