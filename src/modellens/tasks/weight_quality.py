"""Checkpoint quality beyond mean/std (issue 20): spectral (ESD) metrics per weight matrix,
quantization round-trip error per tensor and format, channel outliers, GGUF metadata.

`collect_quality(store, esd=..., quant=[...])` reads each matrix-shaped tensor once more (after
`collect_model_info`): ESD needs the whole matrix (one at a time, so memory is bounded by the
largest matrix), the quantization preview streams row chunks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from ..io import to_jsonable
from ..measure.checkpoints import TensorStore
from ..measure.parallel import map_tensors
from ..measure.quantize import (
    DEFAULT_GROUP_SIZE,
    OUTLIER_SIGMAS,
    ChannelOutliers,
    QuantAccumulator,
    QuantError,
)
from ..measure.spectral import OVER_TRAINED, UNDER_TRAINED, SpectralStats, spectral_stats
from ..measure.weights import CHUNK_ELEMENTS

Progress = Callable[[int, int, str], None]
WORST = 5  # layers listed as suffering most, per format


@dataclass
class WeightQuality:
    esd: list[SpectralStats] = field(default_factory=list)
    quant: list[QuantError] = field(default_factory=list)
    outliers: list[ChannelOutliers] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)
    group_size: int = DEFAULT_GROUP_SIZE
    gguf: dict[str, Any] | None = None  # metadata and per-type sizes of a GGUF file
    notes: list[str] = field(default_factory=list)

    def worst(self, fmt: str, top: int = WORST) -> list[QuantError]:
        rows = [q for q in self.quant if q.format == fmt]
        return sorted(rows, key=lambda q: -q.relative_error)[:top]

    def format_totals(self) -> list[dict[str, Any]]:
        """Per format over every previewed tensor: bytes before/after, overall error."""
        out = []
        for fmt in self.formats:
            rows = [q for q in self.quant if q.format == fmt]
            orig = sum(q.original_bytes for q in rows)
            quant = sum(q.quantized_bytes for q in rows)
            out.append({"format": fmt, "tensors": len(rows), "original_bytes": orig,
                        "quantized_bytes": quant, "bytes_saved": orig - quant,
                        "median_sqnr_db": _median([q.sqnr_db for q in rows]),
                        "worst": [q.name for q in self.worst(fmt)]})
        return out

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.esd:
            alphas = [s.alpha for s in self.esd if s.alpha is not None]
            data["esd"] = {
                "layers": [s.to_dict() for s in self.esd],
                "mean_alpha": sum(alphas) / len(alphas) if alphas else None,
                "over_trained": [s.name for s in self.esd if s.warning == "over-trained"],
                "under_trained": [s.name for s in self.esd if s.warning == "under-trained"],
                "thresholds": {"over_trained_below": OVER_TRAINED,
                               "under_trained_above": UNDER_TRAINED},
            }
        if self.formats:
            data["quant"] = {"formats": list(self.formats), "group_size": self.group_size,
                             "totals": self.format_totals(),
                             "tensors": [q.to_dict() for q in self.quant],
                             "outliers": {"sigmas": OUTLIER_SIGMAS,
                                          "tensors": [o.to_dict() for o in self.outliers]}}
        if self.gguf is not None:
            data["gguf"] = self.gguf
        if self.notes:
            data["quality_notes"] = list(self.notes)
        return to_jsonable(data)


def _median(values: list[float]) -> float | None:
    finite = sorted(v for v in values if math.isfinite(v))
    return finite[len(finite) // 2] if finite else None


def collect_quality(store: TensorStore, *, esd: bool = False, quant: list[str] | None = None,
                    group_size: int = DEFAULT_GROUP_SIZE, progress: Progress | None = None,
                    chunk_elements: int = CHUNK_ELEMENTS) -> WeightQuality:
    """ESD metrics (`esd`) and the quantization preview (`quant` formats) of every float
    parameter with at least two dimensions; GGUF metadata when the store is a GGUF file."""
    result = WeightQuality(formats=list(quant or []), group_size=group_size)
    metadata = getattr(store, "metadata", None)
    if store.kind == "gguf" and metadata is not None:
        from ..measure.gguf import ggml_type_summary

        result.gguf = {"metadata": metadata, "types": ggml_type_summary(store)}
    if not (esd or quant):
        return result
    matrices = [e for e in store.entries
                if len(e.spec.shape) >= 2 and not e.is_buffer and store.has_values(e.name)
                and not e.spec.dtype.startswith(("int", "uint", "bool", "complex"))]
    def one(entry):
        stats = spectral_stats(entry.name, store.read(entry.name)) if esd else None
        acc = None
        if quant:
            acc = QuantAccumulator(entry.name, entry.spec.shape, entry.spec.nbytes, result.formats,
                                   group_size)
            for chunk in store.chunks(entry.name, chunk_elements):
                acc.update(chunk)
        return stats, acc

    for done, (entry, (stats, acc)) in enumerate(zip(matrices, map_tensors(one, matrices)), 1):
        if stats is not None:
            result.esd.append(stats)
        if acc is not None:
            result.quant.extend(acc.errors())
            outliers = acc.outliers()
            if outliers is not None:
                result.outliers.append(outliers)
        if progress:
            progress(done, len(matrices), entry.name)
    if esd:
        sketched = [s.name for s in result.esd if s.method != "svdvals"]
        result.notes.append(
            "ESD: eigenvalues of WᵀW (squared singular values, torch.linalg.svdvals), power law "
            "fit as WeightWatcher (xmin by minimum KS distance, alpha by MLE); conv kernels "
            "reshaped to (out, in·k)" + (f"; {len(sketched)} matrices sketched (randomized "
                                         "SVD, top singular values only)" if sketched else ""))
    if quant:
        result.notes.append(
            f"quantization preview: round to nearest, int8/fp8 per output channel, int4/nf4 per "
            f"group of {group_size}; fp16 scales counted in the sizes")
    return result
