"""Measurements kept per device, so a second model that reuses op shapes is fast.

A device's fingerprint is what changes its timings: the device name, the torch version and the
thread count. Per fingerprint, one JSON file maps op-configuration keys to measured seconds,
and `hardware --measure` keeps the chip it fitted beside it. Entries are written atomically; a
corrupt file is ignored (and then rewritten), never fatal.
"""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path
from typing import Any

import torch

from ..io import CACHE_ENV, cache_dir, write_text  # noqa: F401  (re-exported)


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model name."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            return next((line.split(":", 1)[1].strip() for line in handle
                         if line.startswith("model name")), name)
    except OSError:
        return name


def fingerprint(device: torch.device) -> str:
    """A short stable id of what the timings depend on."""
    detail = f"cuda {torch.version.cuda}" if device.type == "cuda" else platform.platform()
    text = (f"{device.type}|{device_name(device)}|{detail}|torch {torch.__version__}|"
            f"{torch.get_num_threads()}")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class JsonCache:
    """A dict of JSON values kept in one file: read once on first use (a missing or corrupt
    file is an empty cache), written atomically by `save` when something was put."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, Any] | None = None
        self._dirty = False

    @property
    def entries(self) -> dict[str, Any]:
        if self._entries is None:
            try:
                data = json.loads(self.path.read_text())
                self._entries = dict(data) if isinstance(data, dict) else {}
            except (OSError, ValueError):
                self._entries = {}
        return self._entries

    def put(self, key: str, value: Any) -> None:
        self.entries[key] = value
        self._dirty = True

    def save(self) -> None:
        if self._dirty:
            write_text(self.path, json.dumps(self.entries, sort_keys=True))
            self._dirty = False


class MeasurementCache(JsonCache):
    """Seconds per op configuration on one device (`key` strings from measure.ops)."""

    def __init__(self, device: torch.device, directory: Path | None = None) -> None:
        super().__init__((directory or cache_dir()) / "measurements" / f"{fingerprint(device)}.json")

    def get(self, key: str) -> float | None:
        value = self.entries.get(key)
        return float(value) if isinstance(value, (int, float)) else None


def measured_chip_path(device: torch.device, directory: Path | None = None) -> Path:
    """Where `hardware --measure` keeps the chip it fitted for this device."""
    return (directory or cache_dir()) / "chips" / f"{fingerprint(device)}.yaml"
