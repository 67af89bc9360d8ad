"""Measurements kept per device, so a second model that reuses op shapes is fast.

A device's fingerprint is what changes its timings: the device name, the torch version and the
thread count. Per fingerprint, one JSON file maps op-configuration keys to measured seconds,
and `hardware --measure` keeps the chip it fitted beside it. Entries are written atomically; a
corrupt file is ignored (and then rewritten), never fatal.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path

import torch

from ..io import write_text

CACHE_ENV = "MODELLENS_CACHE_DIR"


def cache_dir() -> Path:
    """$MODELLENS_CACHE_DIR, else the user cache dir (platformdirs)."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("modellens"))


def fingerprint(device: torch.device) -> str:
    """A short stable id of what the timings depend on."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        detail = f"cuda {torch.version.cuda}"
    else:
        name, detail = platform.processor() or platform.machine(), platform.platform()
        try:
            with open("/proc/cpuinfo") as handle:
                name = next((line.split(":", 1)[1].strip() for line in handle
                             if line.startswith("model name")), name)
        except OSError:
            pass
    text = f"{device.type}|{name}|{detail}|torch {torch.__version__}|{torch.get_num_threads()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class MeasurementCache:
    """Seconds per op configuration on one device (`key` strings from measure.ops)."""

    def __init__(self, device: torch.device, directory: Path | None = None) -> None:
        self.path = (directory or cache_dir()) / "measurements" / f"{fingerprint(device)}.json"
        self._entries: dict[str, float] | None = None
        self._dirty = False

    @property
    def entries(self) -> dict[str, float]:
        if self._entries is None:
            try:
                data = json.loads(self.path.read_text())
                self._entries = {str(k): float(v) for k, v in data.items()}
            except (OSError, ValueError, AttributeError, TypeError):
                self._entries = {}
        return self._entries

    def get(self, key: str) -> float | None:
        return self.entries.get(key)

    def put(self, key: str, seconds: float) -> None:
        self.entries[key] = seconds
        self._dirty = True

    def save(self) -> None:
        if self._dirty:
            write_text(self.path, json.dumps(self.entries, sort_keys=True))
            self._dirty = False


def measured_chip_path(device: torch.device, directory: Path | None = None) -> Path:
    """Where `hardware --measure` keeps the chip it fitted for this device."""
    return (directory or cache_dir()) / "chips" / f"{fingerprint(device)}.yaml"
