"""What a spec's model is made of, as a short hash, read without torch or transformers: the
result cache keys on it, so an edited config.json or a new catalog file is a new key.

A catalog id is its config file's bytes; a config.json or a seed-001 JSON config its bytes; a
model directory its config.json and the name, size and mtime of every file in it; `hf:type:T`,
`tv:`, `timm:` and `yolo:` names are the name itself (the library's version is keyed beside).
Code (`file.py::fn`) and a hub id not in the catalog have no fingerprint (None): what they build
can change without anything here changing, so their results are never cached.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from . import PREFIXES, catalog_index
from .catalog_index import TYPE_PREFIX


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes (first 16 hex digits)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def spec_fingerprint(spec: str) -> str | None:
    """A stable id of what `spec` builds, or None when that cannot be known without running it
    (code, the hub)."""
    spec = spec.strip()
    if "::" in spec:
        return None
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in PREFIXES and not rest.startswith("//"):
        if prefix == "hf":
            return _hf_fingerprint(rest)
        return f"{prefix}:{rest}" + (f"@{file_digest(rest)}" if Path(rest).is_file() else "")
    return _hf_fingerprint(spec)


def _hf_fingerprint(spec: str) -> str | None:
    if spec.startswith(TYPE_PREFIX):
        return f"hf:{spec}"
    file = catalog_index.catalog_file(spec)
    if file is not None:
        return f"catalog:{catalog_index.resolve(spec)}@{file_digest(file)}"
    path = Path(spec)
    if path.is_file():
        return f"file@{file_digest(path)}"
    if path.is_dir():
        return f"dir@{directory_digest(path)}"
    return None


def directory_digest(path: Path) -> str:
    """A model directory: its config.json's bytes and each file's name, size and mtime."""
    digest = hashlib.sha256()
    config = path / "config.json"
    if config.is_file():
        digest.update(config.read_bytes())
    for entry in sorted(os.scandir(path), key=lambda e: e.name):
        if entry.is_file():
            info = entry.stat()
            digest.update(f"{entry.name}|{info.st_size}|{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def hardware_fingerprint(spec: str) -> str:
    """--hardware: chip names as given (the shipped table is part of modellens' own
    fingerprint), a YAML file by its bytes."""
    parts = []
    for name in spec.split(","):
        name = name.strip()
        parts.append(f"{name}@{file_digest(name)}" if name and Path(name).is_file() else name)
    return ",".join(parts)
