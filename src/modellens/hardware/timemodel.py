"""The calibrated op-time model: a roofline with measured efficiencies and a fixed cost per op.

    time = overhead(class) + max(FLOPs / (peak · η_compute(class, FLOPs) · waves),
                                 bytes / (bandwidth · η_memory(class, bytes)))
           + weight bytes / weight-stream bandwidth

`class` is the op class (matmul, conv, attention, elementwise, reduction, softmax, norm, pool,
memory, view); each efficiency is a curve over problem size, held as points
`[[size, eta], ...]` and interpolated in log(size) (clamped at the ends). `waves` is the GEMM
tile/wave quantization of GPUs: an (m × n) output split into tiles of `tile` runs in
ceil(tiles / units) waves, so a 4097-row GEMM pays for a wave it barely uses.

The last term is what a running model pays that an op timed alone does not: an op replayed
alone finds its weights in cache, while in a forward pass every layer's weights arrive cold
from memory after the layers before evicted them, and (on CPUs) that stream is not hidden
behind the compute. `hardware --measure` measures it (a chain of distinct layers against one
layer called as often); chips without it (the GPU tables, whose kernel times were measured
cold) have none.

Chips measured by `hardware --measure` also keep a shape table for matmuls and convolutions:
the efficiency each probe GEMM (a convolution as its implicit GEMM) reached at its own
(m, n, k). A CPU's GEMM kernels reach very different fractions of peak at equal FLOPs (a
skinny and a square GEMM of the same work differ by 2-3×), so for those classes the
efficiency is read from the probes nearest in log(m), log(n), log(k) rather than from the
FLOPs curve (`shape_eta`), and the op takes overhead + FLOPs / (peak · η).

The curves are data (chips.yaml, or a `hardware --measure` YAML), each with its source; they
are fitted by `modellens.hardware.fit`. The plain roofline (η = 1, no overhead) stays
available as the lower bound: `TimeModel.ROOFLINE`.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

OP_CLASSES = ("matmul", "conv", "conv_depthwise", "attention", "elementwise", "reduction",
              "softmax", "norm", "pool", "memory", "view")
MATRIX_CLASSES_NAMES = frozenset({"matmul", "conv", "conv_depthwise", "attention"})  # matrix units
FALLBACK = {"conv_depthwise": "conv"}  # a class without a curve of its own uses this one's
DEFAULT = "default"  # the curve used by op classes that have none of their own
Curve = tuple[tuple[float, float], ...]  # ((size, eta), ...) sorted by size
ShapeTable = tuple[tuple[float, float, float, float], ...]  # ((m, n, k, eta), ...)
SHAPE_CLASSES = ("matmul", "conv", "conv_depthwise")  # classes a shape table can time
NEIGHBOURS = 3  # probes a shape-table lookup blends


def interpolate(curve: Curve, size: float) -> float:
    """η at `size`, linear in log(size) between the curve's points, flat beyond its ends."""
    if not curve:
        return 1.0
    sizes = [point[0] for point in curve]
    if size <= sizes[0]:
        return curve[0][1]
    if size >= sizes[-1]:
        return curve[-1][1]
    i = bisect.bisect_right(sizes, size)
    (x0, y0), (x1, y1) = curve[i - 1], curve[i]
    t = (math.log(size) - math.log(x0)) / (math.log(x1) - math.log(x0))
    return y0 + t * (y1 - y0)


def wave_efficiency(m: int, n: int, tile: tuple[int, int], units: int) -> float:
    """Fraction of the issued GEMM work that is useful: tile padding of an (m × n) output and
    the last, partly filled wave of tiles across `units` processors (SMs)."""
    tiles_m, tiles_n = math.ceil(m / tile[0]), math.ceil(n / tile[1])
    tiles = tiles_m * tiles_n
    waves = math.ceil(tiles / units)
    padding = (m * n) / (tiles_m * tile[0] * tiles_n * tile[1])
    return padding * tiles / (waves * units)


def shape_eta(table: ShapeTable, m: float, n: float, k: float) -> float:
    """η at the GEMM (m, n, k): the geometric mean of the `NEIGHBOURS` nearest probes' η in
    (log m, log n, log k), weighted by inverse distance (an exact match is returned as is)."""
    point = (math.log(m), math.log(n), math.log(k))
    nearest = sorted((math.dist(point, (math.log(pm), math.log(pn), math.log(pk))), eta)
                     for pm, pn, pk, eta in table)[:NEIGHBOURS]
    if nearest[0][0] == 0.0:
        return nearest[0][1]
    weights = [1.0 / distance for distance, _ in nearest]
    return math.exp(sum(w * math.log(eta) for w, (_, eta) in zip(weights, nearest))
                    / sum(weights))


@dataclass(frozen=True)
class OpTime:
    """A predicted op time and its parts."""

    time_s: float
    compute_time_s: float
    memory_time_s: float
    overhead_s: float

    @property
    def bound(self) -> str:
        return "compute" if self.compute_time_s >= self.memory_time_s else "memory"


@dataclass(frozen=True)
class TimeModel:
    """Efficiency curves and fixed costs of one chip (see the module docstring)."""

    compute: dict[str, Curve] = field(default_factory=dict)
    memory: dict[str, Curve] = field(default_factory=dict)
    overhead_s: dict[str, float] = field(default_factory=dict)
    tile: tuple[int, int] | None = None  # GEMM output tile for wave quantization
    units: int = 0  # processors a GEMM's tiles are spread over (SMs); 0: no quantization
    weight_stream_bandwidth: float = 0.0  # B/s of cold weights inside a model; 0: no such term
    shapes: dict[str, ShapeTable] = field(default_factory=dict)  # measured GEMM shapes per class
    source: str = ""

    ROOFLINE: ClassVar[TimeModel]  # set below: η = 1 everywhere, no overhead

    @property
    def is_roofline(self) -> bool:
        return not (self.compute or self.memory or self.overhead_s
                    or self.weight_stream_bandwidth or self.shapes)

    def eta_compute(self, op_class: str, flops: float) -> float:
        return interpolate(_curve(self.compute, op_class), flops)

    def eta_memory(self, op_class: str, nbytes: float) -> float:
        return interpolate(_curve(self.memory, op_class), nbytes)

    def overhead(self, op_class: str) -> float:
        return self.overhead_s.get(op_class, self.overhead_s.get(DEFAULT, 0.0))

    def op_time(self, op_class: str, flops: float, nbytes: float, peak: float,
                bandwidth: float, gemm: tuple[int, int] | None = None,
                weight_bytes: float = 0.0) -> OpTime:
        """Predicted time of one op of `op_class` doing `flops` and moving `nbytes` on a chip
        with `peak` FLOP/s (for its dtype and units) and `bandwidth` B/s; `gemm` is the
        (m, n) of its output as a GEMM (a convolution's: output pixels × channels), for wave
        quantization of matmuls and the shape table; `weight_bytes` the parameter bytes it
        reads, cold inside a model (see the module docstring)."""
        table = self.shapes.get(op_class) or self.shapes.get(FALLBACK.get(op_class, ""))
        memory = nbytes / (bandwidth * self.eta_memory(op_class, nbytes)) if nbytes else 0.0
        overhead = self.overhead(op_class)
        cold = weight_bytes / self.weight_stream_bandwidth if self.weight_stream_bandwidth else 0.0
        if table and gemm is not None and flops and min(gemm) > 0:
            depth = max(1.0, flops / (2.0 * gemm[0] * gemm[1]))
            compute = flops / (peak * shape_eta(table, gemm[0], gemm[1], depth))
            return OpTime(overhead + compute + cold, compute, memory + cold, overhead)
        eta_c = self.eta_compute(op_class, flops)
        if gemm is not None and op_class == "matmul" and self.tile and self.units:
            eta_c *= wave_efficiency(gemm[0], gemm[1], self.tile, self.units)
        compute = flops / (peak * eta_c) if flops else 0.0
        return OpTime(overhead + max(compute, memory) + cold, compute, memory + cold, overhead)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "source": self.source,
            "overhead_s": dict(self.overhead_s),
            "compute": {k: [list(p) for p in v] for k, v in self.compute.items()},
            "memory": {k: [list(p) for p in v] for k, v in self.memory.items()},
        }
        if self.tile and self.units:
            data["waves"] = {"tile": list(self.tile), "units": self.units}
        if self.weight_stream_bandwidth:
            data["weight_stream_bandwidth"] = self.weight_stream_bandwidth
        if self.shapes:
            data["shapes"] = {k: [list(p) for p in v] for k, v in self.shapes.items()}
        return data


TimeModel.ROOFLINE = TimeModel(source="plain roofline: datasheet peaks, no overhead")


def _curve(curves: dict[str, Curve], op_class: str) -> Curve:
    return (curves.get(op_class) or curves.get(FALLBACK.get(op_class, DEFAULT))
            or curves.get(DEFAULT) or ())


def parse_time_model(data: Any, where: str) -> TimeModel:
    """A `time_model:` entry of a chip YAML -> TimeModel; ValueError naming the problem."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: time_model must be a mapping")
    waves = data.get("waves") or {}
    overhead = {str(k): float(v) for k, v in (data.get("overhead_s") or {}).items()}
    for key, value in overhead.items():
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{where}.overhead_s.{key} must be a finite number >= 0, got {value}")
    tile = tuple(int(v) for v in waves["tile"]) if waves.get("tile") else None
    units = int(waves.get("units", 0))
    if tile is not None and (len(tile) != 2 or min(tile) <= 0):
        raise ValueError(f"{where}.waves.tile must be two integers > 0, got {list(tile)}")
    if units < 0:
        raise ValueError(f"{where}.waves.units must be >= 0, got {units}")
    stream = float(data.get("weight_stream_bandwidth", 0.0))
    if not (math.isfinite(stream) and stream >= 0):
        raise ValueError(f"{where}.weight_stream_bandwidth must be a finite number >= 0 (B/s), "
                         f"got {stream}")
    return TimeModel(
        compute=_parse_curves(data.get("compute"), f"{where}.compute"),
        memory=_parse_curves(data.get("memory"), f"{where}.memory"),
        overhead_s=overhead,
        tile=tile,
        units=units,
        weight_stream_bandwidth=stream,
        shapes=_parse_shapes(data.get("shapes"), f"{where}.shapes"),
        source=str(data.get("source", "")),
    )


def _parse_shapes(data: Any, where: str) -> dict[str, ShapeTable]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected op class -> [[m, n, k, eta], ...]")
    tables: dict[str, ShapeTable] = {}
    for op_class, points in data.items():
        if op_class not in SHAPE_CLASSES:
            raise ValueError(f"{where}: a shape table is for " + ", ".join(SHAPE_CLASSES)
                             + f", not {op_class!r}")
        try:
            table = tuple(tuple(float(v) for v in point) for point in points)
        except (TypeError, ValueError):
            raise ValueError(f"{where}.{op_class}: each point is [m, n, k, eta]") from None
        if not table or any(len(p) != 4 or not all(math.isfinite(v) and v > 0 for v in p)
                            or p[3] > 16 for p in table):
            raise ValueError(f"{where}.{op_class}: each point is [m, n, k, eta] with m, n, k "
                             "> 0 and eta in (0, 16]")
        tables[str(op_class)] = table
    return tables


def _parse_curves(data: Any, where: str) -> dict[str, Curve]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected op class -> [[size, eta], ...]")
    curves: dict[str, Curve] = {}
    for op_class, points in data.items():
        if op_class not in OP_CLASSES and op_class != DEFAULT:
            raise ValueError(f"{where}: unknown op class {op_class!r}; known: "
                             + ", ".join(OP_CLASSES + (DEFAULT,)))
        curve = tuple(sorted((float(size), float(eta)) for size, eta in points))
        if not curve or any(not (math.isfinite(size) and size > 0) or not 0 < eta <= 16
                            for size, eta in curve):
            raise ValueError(f"{where}.{op_class}: sizes must be finite and > 0 and "
                             "efficiencies in (0, 16]")
        curves[str(op_class)] = curve
    return curves
