"""Model info and weight statistics (seed 004): `collect_model_info`, `compare_checkpoints`
(`api.dump_model_info` prints and plots them).

Weights are read one tensor at a time (`checkpoints.TensorStore`) and reduced by the streaming
statistics of `measure.weights`, so a checkpoint is never loaded whole. Memory is in MB of
1024² bytes, as in the seed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..io import JsonRecord, Progress, document
from ..measure.checkpoints import (
    TensorEntry,
    TensorStore,
    as_store,
    is_checkpoint,
    module_store,
    require_regular_file,
)
from ..measure.parallel import map_tensors
from ..measure.weights import (
    CHUNK_ELEMENTS,
    DiffStats,
    Histogram,
    TensorStats,
    diff_stats,
    histogram,
    tensor_stats,
)

MB = 1024**2


@dataclass
class LayerInfo(JsonRecord):
    """One parameter (or buffer) tensor: the seed's fields, then the extra statistics."""

    name: str
    shape: tuple[int, ...]
    num_params: int
    memory: float  # MB (1024² bytes)
    requires_grad: bool
    dtype: str
    mean: float | None = None
    std: float | None = None  # unbiased, as torch.std
    min: float | None = None
    max: float | None = None
    nbytes: int = 0
    is_buffer: bool = False
    absmax: float | None = None
    l2_norm: float | None = None
    zero_fraction: float | None = None
    kurtosis: float | None = None  # excess: 0 for a Gaussian
    skewness: float | None = None
    nan_count: int = 0
    inf_count: int = 0

    @property
    def has_stats(self) -> bool:
        return self.mean is not None



@dataclass
class ModelInfo:
    """Parameter counts, memory and per-tensor statistics of a model or checkpoint."""

    total_params: int
    trainable_params: int
    non_trainable_params: int
    total_memory_mb: float  # parameters and buffers
    layers: list[LayerInfo]  # parameters, in model order
    num_layers: int
    buffers: list[LayerInfo] = field(default_factory=list)
    source: str = ""
    kind: str = ""  # module, safetensors, torch, ...
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    plot_paths: list[str] = field(default_factory=list)

    @property
    def stats_available(self) -> bool:
        return any(layer.has_stats for layer in self.layers)

    @property
    def params_bytes(self) -> int:
        return sum(layer.nbytes for layer in self.layers)

    @property
    def buffers_bytes(self) -> int:
        return sum(buffer.nbytes for buffer in self.buffers)

    def largest_layers(self, top: int | None) -> list[LayerInfo]:
        """The `top` largest parameters by element count, in model order; all if top is None."""
        if not top or top >= len(self.layers):
            return list(self.layers)
        keep = {id(layer) for layer in sorted(self.layers, key=lambda l: -l.num_params)[:top]}
        return [layer for layer in self.layers if id(layer) in keep]

    def to_dict(self) -> dict[str, Any]:
        return document({
            "source": self.source, "kind": self.kind, "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
            "total_memory_mb": self.total_memory_mb, "params_bytes": self.params_bytes,
            "buffers_bytes": self.buffers_bytes, "num_layers": self.num_layers,
            "stats_available": self.stats_available, "layers": self.layers,
            "buffers": self.buffers, "notes": self.notes, "warnings": self.warnings,
            "plot_paths": self.plot_paths,
        })


def _layer(entry: TensorEntry, stats: TensorStats | None) -> LayerInfo:
    extra = {}
    if stats is not None:
        extra = {k: v for k, v in asdict(stats).items() if k != "numel"}
    requires_grad = not entry.is_buffer if entry.requires_grad is None else entry.requires_grad
    spec = entry.spec
    return LayerInfo(name=entry.name, shape=spec.shape, num_params=spec.numel,
                     memory=spec.nbytes / MB, requires_grad=requires_grad, dtype=spec.dtype,
                     nbytes=spec.nbytes, is_buffer=entry.is_buffer, **extra)


def _try_stats(store: TensorStore, entry: TensorEntry,
               chunk_elements: int) -> tuple[TensorStats | None, Exception | None]:
    if not store.has_values(entry.name) or entry.spec.dtype.startswith("complex"):
        return None, None
    try:
        return tensor_stats(store.chunks(entry.name, chunk_elements), chunk_elements), None
    except Exception as exc:
        return None, exc


def collect_model_info(store: TensorStore, progress: Progress | None = None,
                       chunk_elements: int = CHUNK_ELEMENTS) -> ModelInfo:
    """Counts, memory and statistics of every tensor in `store`, reading one at a time."""
    layers: list[LayerInfo] = []
    buffers: list[LayerInfo] = []
    warnings: list[str] = []
    no_values = 0
    results = map_tensors(lambda e: _try_stats(store, e, chunk_elements), store.entries)
    for done, (entry, (stats, exc)) in enumerate(zip(store.entries, results), 1):
        if not store.has_values(entry.name):
            no_values += 1
        elif entry.spec.dtype.startswith("complex"):
            warnings.append(f"{entry.name}: complex tensor, no statistics")
        elif exc is not None:  # one unreadable tensor must not hide the others
            warnings.append(f"{entry.name}: statistics failed ({type(exc).__name__}: {exc})")
        if stats is not None and (stats.nan_count or stats.inf_count):
            warnings.append(f"{entry.name}: {stats.nan_count:,} NaN and {stats.inf_count:,} Inf "
                            "values (statistics cover the finite values)")
        (buffers if entry.is_buffer else layers).append(_layer(entry, stats))
        if progress:
            progress(done, len(store.entries), entry.name)
    notes = list(store.notes)
    if no_values:
        notes.append(store.no_values_note(no_values))
    if store.entries and all(e.requires_grad is None for e in store.entries):
        notes.append("a checkpoint does not record requires_grad: every parameter counts as "
                     "trainable; integer tensors and known buffer names count as buffers")
    total = sum(layer.num_params for layer in layers)
    trainable = sum(layer.num_params for layer in layers if layer.requires_grad)
    total_bytes = sum(t.nbytes for t in layers + buffers)
    return ModelInfo(total_params=total, trainable_params=trainable,
                     non_trainable_params=total - trainable, total_memory_mb=total_bytes / MB,
                     layers=layers, num_layers=len(layers), buffers=buffers, source=store.label,
                     kind=store.kind, notes=notes, warnings=warnings)


def open_target(target: Any, *, trust_checkpoint: bool = False, task: str = "auto",
                trust_remote_code: bool = False) -> TensorStore:
    """The tensors of a checkpoint path, a model spec (built on meta: no values), an
    nn.Module or a state dict. Neither a pickle's code (`trust_checkpoint`) nor a Hugging Face
    model's own code (`trust_remote_code`) runs unless asked. A path that is a device, FIFO or
    socket is refused at once."""
    if isinstance(target, (str, Path)) and Path(target).exists() and not Path(target).is_dir():
        require_regular_file(Path(target))
    if isinstance(target, (str, Path)) and not is_checkpoint(target):
        from ..sources import resolve
        from ..sources.base import build_model

        source = resolve(str(target), task=task, trust_remote_code=trust_remote_code)
        model, device = build_model(source)
        store = module_store(model, label=source.name)
        if device != "meta" and source.kind != "pyfile":
            store.notes.append(f"built on {device} from the spec: the values are the "
                               "constructor's initialisation, not a trained checkpoint")
        return store
    return as_store(target, trust=trust_checkpoint)


def layer_histograms(store: TensorStore, layers: list[LayerInfo], bins: int = 60,
                     chunk_elements: int = CHUNK_ELEMENTS) -> list[tuple[LayerInfo, Histogram]]:
    """A second streaming pass over `layers` (those with statistics) for their histograms;
    small tensors get fewer bins (about √n) so their plots are not mostly empty."""
    return [(layer, histogram(store.chunks(layer.name, chunk_elements), layer.min, layer.max,
                              min(bins, max(10, math.isqrt(layer.num_params))), chunk_elements))
            for layer in layers if layer.has_stats]


@dataclass
class TensorDiff(JsonRecord):
    """How one tensor changed from checkpoint A to checkpoint B."""

    name: str
    shape: tuple[int, ...]
    dtype_a: str
    dtype_b: str
    relative_change: float  # ||B - A|| / ||A||
    cosine: float | None
    max_abs_diff: float
    l2_a: float
    l2_b: float
    l2_diff: float



@dataclass(frozen=True)
class ShapeMismatch(JsonRecord):
    name: str
    shape_a: tuple[int, ...]
    shape_b: tuple[int, ...]


@dataclass
class CheckpointDiff:
    """Per-tensor drift from A to B, largest relative change first; keys in one side only;
    shape and dtype mismatches."""

    a: str
    b: str
    tensors: list[TensorDiff]
    missing: list[str]  # in A, not in B
    extra: list[str]  # in B, not in A
    shape_mismatches: list[ShapeMismatch]
    dtype_mismatches: list[str]  # compared anyway, values cast to float64
    warnings: list[str] = field(default_factory=list)

    @property
    def identical(self) -> int:
        return sum(1 for t in self.tensors if t.l2_diff == 0)

    @property
    def overall_relative_change(self) -> float | None:
        """||B - A|| / ||A|| over every compared tensor together."""
        norm_a = math.sqrt(sum(t.l2_a**2 for t in self.tensors))
        norm_d = math.sqrt(sum(t.l2_diff**2 for t in self.tensors))
        return norm_d / norm_a if norm_a else None

    def to_dict(self) -> dict[str, Any]:
        return document({
            "a": self.a, "b": self.b, "compared": len(self.tensors), "identical": self.identical,
            "overall_relative_change": self.overall_relative_change, "tensors": self.tensors,
            "missing": self.missing, "extra": self.extra,
            "shape_mismatches": self.shape_mismatches, "dtype_mismatches": self.dtype_mismatches,
            "warnings": self.warnings,
        })


def _drift_key(diff: TensorDiff) -> tuple[bool, float, str]:
    """Largest relative change first; NaN (a broken tensor) before everything."""
    change = diff.relative_change
    return (not math.isnan(change), -change if not math.isnan(change) else 0.0, diff.name)


def compare_checkpoints(a: Any, b: Any, *, trust_checkpoint: bool = False,
                        progress: Progress | None = None,
                        chunk_elements: int = CHUNK_ELEMENTS) -> CheckpointDiff:
    """Per-tensor weight drift from `a` to `b` (checkpoint paths, state dicts or modules).

    Tensors are streamed in aligned chunks, so two large checkpoints compare in bounded memory.
    Raises CheckpointError if either side cannot be read.
    """
    store_a, store_b = as_store(a, trust=trust_checkpoint), as_store(b, trust=trust_checkpoint)
    names_b = store_b.by_name
    diffs: list[TensorDiff] = []
    shape_mismatches: list[ShapeMismatch] = []
    dtype_mismatches: list[str] = []
    warnings: list[str] = []
    common = [e for e in store_a.entries if e.name in names_b]

    def drift(entry: TensorEntry) -> DiffStats | None:
        if entry.spec.shape != names_b[entry.name].spec.shape or not (
                store_a.has_values(entry.name) and store_b.has_values(entry.name)):
            return None
        return diff_stats(zip(store_a.chunks(entry.name, chunk_elements),
                              store_b.chunks(entry.name, chunk_elements)), chunk_elements)

    for done, (entry, stats) in enumerate(zip(common, map_tensors(drift, common)), 1):
        spec, other = entry.spec, names_b[entry.name].spec
        if spec.shape != other.shape:
            shape_mismatches.append(ShapeMismatch(entry.name, spec.shape, other.shape))
        elif stats is None:
            warnings.append(f"{entry.name}: no values (meta tensor), not compared")
        else:
            if spec.dtype != other.dtype:
                dtype_mismatches.append(entry.name)
            if math.isnan(stats.relative_change):
                warnings.append(f"{entry.name}: NaN or Inf values, drift undefined")
            diffs.append(TensorDiff(entry.name, spec.shape, spec.dtype, other.dtype,
                                    **asdict(stats)))
        if progress:
            progress(done, len(common), entry.name)
    diffs.sort(key=_drift_key)
    names_a = store_a.by_name
    return CheckpointDiff(
        a=store_a.label, b=store_b.label, tensors=diffs,
        missing=[e.name for e in store_a.entries if e.name not in names_b],
        extra=[e.name for e in store_b.entries if e.name not in names_a],
        shape_mismatches=shape_mismatches, dtype_mismatches=dtype_mismatches, warnings=warnings,
    )
