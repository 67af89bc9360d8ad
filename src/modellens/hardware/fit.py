"""Fitting a chip's time model to measured op times, and scoring a model against measurements.

Each measurement is a `Sample` (op class, FLOPs, bytes, the peak and bandwidth that apply, the
measured seconds, and a GEMM's output (m, n) where it is one). Fitting:

1. the fixed cost per op is given (measured directly, e.g. the time of an empty op) or taken
   as a low quantile of the fastest measured ops;
2. each sample is put on the side its roofline says binds (compute if FLOPs/peak ≥
   bytes/bandwidth, after wave quantization for GEMMs), and its achieved efficiency on that
   side is roofline time / (measured − overhead);
3. per op class and side, efficiencies are binned by log10(size) (`points_per_decade`) and each
   bin's median becomes one point of the curve at the bin's geometric-mean size;
4. with `shape_tables`, every matmul and convolution sample with GEMM dimensions also becomes
   a point (m, n, k, η) of its class's shape table (`TimeModel.shapes`), η being its achieved
   fraction of peak after the fixed cost, whichever side bound it.

Fit on one set of measurements and score (`errors`) on another: never report the fit set.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass

from .timemodel import (DEFAULT, MATRIX_CLASSES_NAMES, SHAPE_CLASSES, Curve, ShapeTable,
                        TimeModel, wave_efficiency)

MIN_REMAINDER = 0.05  # an op is never taken to be more than 95 % fixed cost
MAX_ETA = 16.0  # in-cache CPU work beats DRAM bandwidth (L1/L2 are 5-20x faster)


@dataclass(frozen=True)
class Sample:
    op_class: str
    flops: float
    nbytes: float
    peak: float  # FLOP/s that applies (matrix or vector units, the op's dtype)
    bandwidth: float  # B/s
    measured_s: float
    gemm: tuple[int, int] | None = None
    label: str = ""


def fit_time_model(samples: list[Sample], *, overhead_s: dict[str, float] | None = None,
                   tile: tuple[int, int] | None = None, units: int = 0,
                   points_per_decade: int = 2, shape_tables: bool = False,
                   source: str = "") -> TimeModel:
    """A TimeModel whose curves reproduce `samples` (see the module docstring)."""
    overheads = dict(overhead_s) if overhead_s else {DEFAULT: overhead_estimate(samples)}
    by_side: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for sample in samples:
        remainder = _remainder(sample, overheads)
        compute = sample.flops / sample.peak if sample.flops else 0.0
        if sample.gemm is not None and sample.op_class == "matmul" and tile and units:
            compute /= wave_efficiency(sample.gemm[0], sample.gemm[1], tile, units)
        memory = sample.nbytes / sample.bandwidth if sample.nbytes else 0.0
        if compute >= memory and compute > 0:
            by_side["compute", sample.op_class].append((sample.flops, compute / remainder))
        elif memory > 0:
            by_side["memory", sample.op_class].append((sample.nbytes, memory / remainder))
    compute_curves = {cls: _binned(points, points_per_decade)
                      for (side, cls), points in by_side.items() if side == "compute"}
    memory_curves = {cls: _binned(points, points_per_decade)
                     for (side, cls), points in by_side.items() if side == "memory"}
    _add_defaults(compute_curves, memory_curves, by_side, points_per_decade)
    shapes = _shape_tables(samples, overheads) if shape_tables else {}
    return TimeModel(compute=compute_curves, memory=memory_curves, overhead_s=overheads,
                     tile=tile, units=units, shapes=shapes, source=source)


def _remainder(sample: Sample, overheads: dict[str, float]) -> float:
    """The sample's measured time beyond its class's fixed cost (at least MIN_REMAINDER of it)."""
    overhead = overheads.get(sample.op_class, overheads.get(DEFAULT, 0.0))
    return max(sample.measured_s - overhead, MIN_REMAINDER * sample.measured_s)


def _shape_tables(samples: list[Sample], overheads: dict[str, float]) -> dict[str, ShapeTable]:
    tables: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
    for sample in samples:
        if sample.op_class not in SHAPE_CLASSES or sample.gemm is None or not sample.flops:
            continue
        m, n = sample.gemm
        remainder = _remainder(sample, overheads)
        eta = min(MAX_ETA, max(1e-4, sample.flops / sample.peak / remainder))
        depth = max(1.0, sample.flops / (2.0 * m * n))
        tables[sample.op_class].append((float(m), float(n), float(f"{depth:.4g}"),
                                        float(f"{eta:.4g}")))
    return {cls: tuple(sorted(points)) for cls, points in tables.items()}


def overhead_estimate(samples: list[Sample]) -> float:
    """Half the time of the fastest 2 % of ops: what even an op doing nothing costs."""
    times = sorted(s.measured_s for s in samples)
    if not times:
        return 0.0
    return 0.5 * times[max(0, len(times) // 50 - 1)]


def _binned(points: list[tuple[float, float]], per_decade: int) -> Curve:
    bins: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for size, eta in points:
        bins[math.floor(math.log10(size) * per_decade)].append((size, eta))
    curve = []
    for key in sorted(bins):
        members = bins[key]
        size = math.exp(statistics.fmean(math.log(s) for s, _ in members))
        eta = min(MAX_ETA, max(1e-4, statistics.median(e for _, e in members)))
        curve.append((float(f"{size:.4g}"), float(f"{eta:.4g}")))
    return tuple(curve)


def _add_defaults(compute: dict[str, Curve], memory: dict[str, Curve],
                  by_side: dict[tuple[str, str], list[tuple[float, float]]],
                  per_decade: int) -> None:
    """Curves for classes with no measurements of their own: the pooled matrix-class curve for
    compute, the pooled vector-class curve for memory."""
    pooled_compute = [p for (side, cls), pts in by_side.items()
                      if side == "compute" and cls in MATRIX_CLASSES_NAMES for p in pts]
    pooled_memory = [p for (side, cls), pts in by_side.items()
                     if side == "memory" and cls not in MATRIX_CLASSES_NAMES for p in pts]
    if pooled_compute:
        compute[DEFAULT] = _binned(pooled_compute, per_decade)
    if pooled_memory:
        memory[DEFAULT] = _binned(pooled_memory, per_decade)


def predict(model: TimeModel, sample: Sample) -> float:
    return model.op_time(sample.op_class, sample.flops, sample.nbytes, sample.peak,
                         sample.bandwidth, sample.gemm).time_s


def errors(model: TimeModel, samples: list[Sample]) -> list[float]:
    """Signed relative error (predicted − measured) / measured of each sample."""
    return [(predict(model, s) - s.measured_s) / s.measured_s for s in samples]


def mape(model: TimeModel, samples: list[Sample]) -> float:
    """Mean absolute percentage error over `samples` (0.05 = 5 %)."""
    errs = errors(model, samples)
    return statistics.fmean(abs(e) for e in errs) if errs else 0.0
