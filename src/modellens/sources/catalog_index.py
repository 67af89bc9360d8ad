"""The offline catalog's files, read without torch or transformers: ids, aliases, configs and
`_index.json` (each entry's source, family, params, context length, architecture)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

CATALOG_DIR = Path(__file__).with_name("catalog")
TYPE_PREFIX = "type:"  # `hf:type:bert`: transformers' default config for a model_type


@lru_cache(maxsize=1)
def aliases() -> dict[str, str]:
    """Alternative ids (renamed or gated repos, instruct twins) -> catalog id."""
    file = CATALOG_DIR / "_aliases.json"
    return json.loads(file.read_text()) if file.is_file() else {}


@lru_cache(maxsize=1)
def index() -> dict[str, dict[str, Any]]:
    """Catalog id -> {source, family, params, params_source, [params_note], context,
    architecture, [published_params]}: `published_params` is the exact published count
    `params_source` cites; where it differs from `params`, `params_note` explains the gap."""
    file = CATALOG_DIR / "_index.json"
    return json.loads(file.read_text()) if file.is_file() else {}


def catalog_names() -> list[str]:
    """Model ids shipped in the offline catalog (file name with '--' for '/'), sorted."""
    return sorted(
        p.stem.replace("--", "/") for p in CATALOG_DIR.glob("*.json") if not p.stem.startswith("_")
    )


def resolve(model_id: str) -> str:
    """The catalog id an alias names; other ids unchanged."""
    return aliases().get(model_id, model_id)


def catalog_file(model_id: str) -> Path | None:
    file = CATALOG_DIR / (resolve(model_id).replace("/", "--") + ".json")
    return file if file.is_file() else None


def entries(search: str | None = None, family: str | None = None) -> list[dict[str, Any]]:
    """One row per catalog id: spec, family, params, context, architecture (from _index.json),
    filtered by a case-insensitive substring of the id (`search`) and by family (exact,
    case-insensitive)."""
    info = index()
    rows = []
    for name in catalog_names():
        entry = info.get(name, {})
        if search and search.lower() not in name.lower():
            continue
        if family and (entry.get("family") or "").lower() != family.lower():
            continue
        rows.append({"spec": name, "family": entry.get("family"), "params": entry.get("params"),
                     "context": entry.get("context"), "architecture": entry.get("architecture")})
    return rows
