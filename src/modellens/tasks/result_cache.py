"""The result cache: a command's finished output, kept under the user cache dir
(`io.cache_dir()/results`) so that asking the same question again answers at once, without
importing torch.

The key is a sha256 of everything the answer depends on: the command and every option that
changes its output, what each input is made of (`sources.fingerprint`: a catalog config's
bytes, a config file's, a directory's), and the versions of modellens (plus the size and mtime
of each of its files, so an edited checkout is a new key), torch and the model libraries, read
with `importlib.metadata` (nothing imported). An entry is one JSON file, written atomically; one
that cannot be read or does not hold what an entry holds is a miss, never an error.
`MODELLENS_NO_CACHE=1` (or `--no-cache`) turns the cache off.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..io import cache_dir, write_text

NO_CACHE_ENV = "MODELLENS_NO_CACHE"
ENTRY_VERSION = 1
# the libraries whose version can change an answer (those not installed key as None)
LIBRARIES = ("torch", "transformers", "torchvision", "timm", "ultralytics", "huggingface_hub")
_TRUE = ("1", "true", "yes", "on")


@dataclass
class Entry:
    """One cached answer: the command's output (`text` in `format`, to -o or to standard
    output) and the other files it wrote, as (path as given, bytes)."""

    format: str
    text: str
    to_path: bool
    files: list[tuple[str, bytes]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"entry_version": ENTRY_VERSION, "format": self.format, "text": self.text,
                "to_path": self.to_path,
                "files": [[path, base64.b64encode(data).decode("ascii")]
                          for path, data in self.files]}

    @classmethod
    def from_json(cls, data: Any) -> Entry | None:
        """The entry `data` describes, or None when it is not a whole entry of this version."""
        try:
            if data.get("entry_version") != ENTRY_VERSION:
                return None
            files = [(str(path), base64.b64decode(text, validate=True))
                     for path, text in data["files"]]
            fmt, text, to_path = data["format"], data["text"], data["to_path"]
        except (AttributeError, KeyError, TypeError, ValueError):
            return None
        if not (isinstance(fmt, str) and isinstance(text, str) and isinstance(to_path, bool)):
            return None
        return cls(fmt, text, to_path, files)


def enabled() -> bool:
    """False when $MODELLENS_NO_CACHE is set to 1/true/yes/on."""
    return os.environ.get(NO_CACHE_ENV, "").strip().lower() not in _TRUE


def results_dir() -> Path:
    return cache_dir() / "results"


def versions() -> dict[str, str | None]:
    """modellens (version and a digest of its files), torch and the model libraries."""
    from importlib import metadata

    found: dict[str, str | None] = {"modellens": _modellens_version()}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def _modellens_version() -> str:
    from .. import __version__

    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
        for name in sorted(files):
            info = os.stat(os.path.join(directory, name))
            digest.update(f"{directory}/{name}|{info.st_size}|{info.st_mtime_ns}\n".encode())
    return f"{__version__}+{digest.hexdigest()[:16]}"


def make_key(command: str, options: dict[str, Any], inputs: dict[str, Any],
             view: dict[str, Any]) -> str:
    """The key of one answer: the command, its options, its inputs' fingerprints, how the
    output is shown (`view`: format, terminal width, colour) and the versions."""
    material = {"command": command, "options": options, "inputs": inputs, "view": view,
                "versions": versions()}
    text = json.dumps(material, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def _path(key: str) -> Path:
    return results_dir() / key[:2] / f"{key}.json"


def load(key: str) -> Entry | None:
    """The entry under `key`; None when there is none or it cannot be read (a corrupt or
    half-written file is a miss)."""
    try:
        data = json.loads(_path(key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return Entry.from_json(data)


def store(key: str, entry: Entry) -> bool:
    """Keep `entry` under `key` (written atomically); False when the cache dir cannot be
    written (the answer was given anyway)."""
    try:
        write_text(_path(key), json.dumps(entry.to_json()))
    except OSError:
        return False
    return True


@dataclass
class CacheInfo:
    directory: str
    entries: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"directory": self.directory, "entries": self.entries, "bytes": self.bytes}


def _entry_files() -> list[Path]:
    directory = results_dir()
    return sorted(directory.glob("*/*.json")) if directory.is_dir() else []


def info() -> CacheInfo:
    """Where the result cache is, how many entries it holds and their size on disk."""
    files = _entry_files()
    return CacheInfo(str(results_dir()), len(files), sum(f.stat().st_size for f in files))


def clear() -> CacheInfo:
    """Remove every result entry (measurements and fitted chips, elsewhere in the cache dir,
    stay); returns what was removed."""
    removed = info()
    for file in _entry_files():
        file.unlink(missing_ok=True)
    for sub in results_dir().glob("*"):
        if sub.is_dir() and not any(sub.iterdir()):
            sub.rmdir()
    return removed
