"""Profiles at several input sizes, and how FLOPs and bytes grow: value ≈ a + b·s + c·s²."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..io import JsonRecord, document, fields_dict

QUANTITIES = ("flops", "flops_all", "bytes", "peak_activations_bytes")


@dataclass(frozen=True)
class SweepPoint(JsonRecord):
    size: int
    flops: int
    flops_all: int
    bytes: int  # moved by all forward ops
    peak_activations_bytes: int
    predicted_time_s: float


@dataclass(frozen=True)
class ScalingFit(JsonRecord):
    """value(s) ≈ a + b·s + c·s² (least squares; exact for three sizes)."""

    quantity: str
    a: float
    b: float
    c: float
    max_relative_error: float

    def predict(self, size: float) -> float:
        return self.a + self.b * size + self.c * size * size


@dataclass
class SweepResult:
    model: str
    dimension: str  # "seq_len" or "image_size"
    hardware: str
    points: list[SweepPoint]
    fits: list[ScalingFit] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return document(fields_dict(self))


def fit_quadratic(sizes: list[int], values: list[float], quantity: str) -> ScalingFit | None:
    import numpy as np

    if len(sizes) < 2:
        return None
    degree = min(2, len(sizes) - 1)
    coefficients = np.polyfit(np.asarray(sizes, dtype=float), np.asarray(values, dtype=float),
                              degree)[::-1]
    a, b, c = (list(coefficients) + [0.0, 0.0])[:3]
    fit = ScalingFit(quantity, float(a), float(b), float(c), 0.0)
    errors = [abs(fit.predict(s) - v) / v for s, v in zip(sizes, values) if v]
    return ScalingFit(quantity, float(a), float(b), float(c), max(errors, default=0.0))


def profile_sweep(model: Any, *, seq_lens: list[int] | None = None,
                  image_sizes: list[int] | None = None, **profile_options: Any) -> SweepResult:
    """`profile` at each sequence length (or image size), plus quadratic fits of the growth."""
    from .profile import profile

    if bool(seq_lens) == bool(image_sizes):
        from ..errors import ConfigError

        raise ConfigError("give several sequence lengths or several image sizes (not both)")
    dimension = "seq_len" if seq_lens else "image_size"
    if seq_lens and isinstance(model, str) and "::" not in model:  # refused before any point runs, not at the last
        from ..sources import resolve

        resolve(model, batch_size=profile_options.get("batch_size", 1), seq_len=max(seq_lens),
                task=profile_options.get("task", "auto"),
                allow_longer=profile_options.get("allow_longer", False))
    points = []
    hardware = ""
    for size in sorted(set(seq_lens or image_sizes or [])):
        result = profile(model, **{dimension: size}, **profile_options)
        hardware = result.hardware.id
        forward_bytes = sum(r.bytes for r in result.ops if r.phase == "forward")
        points.append(SweepPoint(size, result.flops.forward, result.flops.forward_all,
                                 forward_bytes, result.memory.peak_activations_bytes,
                                 result.bottleneck.predicted_time_s))
    sizes = [p.size for p in points]
    fits = [fit_quadratic(sizes, [getattr(p, q) for p in points], q) for q in QUANTITIES]
    return SweepResult(str(model), dimension, hardware, points, [f for f in fits if f])
