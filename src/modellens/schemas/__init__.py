"""JSON Schemas (draft 2020-12) of the documents modellens writes (`--format json`,
`Result.to_dict()`), shipped with the package: `schema(name)` reads one, `validate(document,
name)` checks a document against it (needs the `jsonschema` package)."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from ..errors import ConfigError

NAMES = ("profile", "llm", "compare", "matrices")


@lru_cache(maxsize=None)
def _text(name: str) -> str:
    if name not in NAMES:
        raise ConfigError(f"no schema named {name!r}; the schemas are {', '.join(NAMES)}")
    return resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")


def schema(name: str) -> dict[str, Any]:
    """The JSON Schema of the `name` document (profile, llm, compare, matrices), as a dict."""
    return json.loads(_text(name))


def validate(document: Any, name: str) -> None:
    """Raise ConfigError naming the first place where `document` (a dict, or a result with
    `to_dict()`) breaks the `name` schema; None when it conforms."""
    try:
        import jsonschema
    except ImportError:
        raise ConfigError("validating needs the jsonschema package: "
                          "pip install 'modellens[test]' (or pip install jsonschema)") from None
    data = document.to_dict() if hasattr(document, "to_dict") else document
    validator = jsonschema.Draft202012Validator(schema(name))
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        where = "/".join(map(str, error.absolute_path)) or "(top level)"
        raise ConfigError(f"{name} document does not match its schema at {where}: "
                          f"{error.message[:200]}")
