"""Chips as data: peak FLOP/s per dtype, memory bandwidth and capacity, the calibrated op-time
model and the interconnect (see chips.yaml and `timemodel`)."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import yaml

from ..errors import HardwareError
from .timemodel import MATRIX_CLASSES_NAMES, OpTime, TimeModel, parse_time_model

CHIPS_FILE = Path(__file__).with_name("chips.yaml")
# calibrated time models and interconnects of shipped chips (generated; merged by chip id)
TIME_MODELS_FILE = Path(__file__).with_name("time_models.yaml")
DEFAULT_CHIP = "a100"

# Which peak applies to tensors of a dtype, most specific first.
_PEAK_KEYS = {
    "float32": ("fp32", "tf32", "bf16"),
    "float64": ("fp64", "fp32"),
    "float16": ("fp16", "bf16", "fp32"),
    "bfloat16": ("bf16", "fp16", "fp32"),
    "int8": ("int8", "fp8", "fp16", "bf16"),
    "float8_e4m3fn": ("fp8", "int8", "fp16", "bf16"),
    "float8_e5m2": ("fp8", "int8", "fp16", "bf16"),
}
# the chip tables' own short names mean the same dtypes ("bf16" must not fall back to fp32)
_PEAK_KEYS.update({"fp32": _PEAK_KEYS["float32"], "fp64": _PEAK_KEYS["float64"],
                   "fp16": _PEAK_KEYS["float16"], "bf16": _PEAK_KEYS["bfloat16"],
                   "fp8": _PEAK_KEYS["float8_e4m3fn"]})


@dataclass(frozen=True)
class Chip:
    id: str
    name: str
    peak_flops: dict[str, float]
    memory_bandwidth: float  # bytes/s
    memory_bytes: int
    source: str = ""
    vendor: str = ""
    aliases: tuple[str, ...] = field(default=())
    time_model: TimeModel = TimeModel.ROOFLINE
    interconnect: Interconnect | None = None

    def peak(self, dtype: str, matmul: bool = True) -> float:
        """Peak FLOP/s for work on `dtype` tensors. Matmuls use the matrix units; other ops
        run on the vector units, taken as the fp32 rate where the chip lists one."""
        if not matmul and "fp32" in self.peak_flops:
            return min(self.peak_flops["fp32"], self.peak(dtype, matmul=True))
        for key in _PEAK_KEYS.get(dtype, ("fp32", "bf16")):
            if key in self.peak_flops:
                return self.peak_flops[key]
        return max(self.peak_flops.values())

    def ridge_point(self, dtype: str) -> float:
        """Arithmetic intensity (FLOPs/byte) above which matmuls on `dtype` are compute-bound."""
        return self.peak(dtype) / self.memory_bandwidth

    def op_time(self, op_class: str, flops: float, nbytes: float, dtype: str,
                gemm: tuple[int, int] | None = None, weight_bytes: float = 0.0) -> OpTime:
        """Predicted time of one op on this chip under its time model (see `timemodel`):
        matrix-unit peak for matmul, conv and attention, vector peak for the rest."""
        peak = self.peak(dtype, matmul=op_class in MATRIX_CLASSES_NAMES)
        return self.time_model.op_time(op_class, flops, nbytes, peak, self.memory_bandwidth, gemm,
                                       weight_bytes)

    def with_time_model(self, model: TimeModel) -> Chip:
        """This chip under another time model (e.g. `TimeModel.ROOFLINE`, the lower bound)."""
        return replace(self, time_model=model)

    def to_dict(self) -> dict:
        data = {
            "id": self.id,
            "name": self.name,
            "peak_flops": dict(self.peak_flops),
            "memory_bandwidth": self.memory_bandwidth,
            "memory_bytes": self.memory_bytes,
            "source": self.source,
            "time_model": "roofline" if self.time_model.is_roofline else "calibrated",
            "time_model_source": self.time_model.source,
        }
        if self.interconnect is not None:
            data["interconnect"] = self.interconnect.to_dict()
        return data


@dataclass(frozen=True)
class Interconnect:
    """The links between chips that tensor parallelism talks over (NVLink, PCIe, ...)."""

    name: str
    bus_bandwidth: float  # B/s, as nccl-tests' busbw: what a ring all-reduce moves per second
    latency_s: float  # fixed cost of one collective
    source: str = ""

    def all_reduce_time(self, nbytes: float, devices: int) -> float:
        """A ring all-reduce of `nbytes` over `devices`: latency + 2(n-1)/n · bytes / busbw."""
        if devices <= 1 or nbytes <= 0:
            return 0.0
        return self.latency_s + 2 * (devices - 1) / devices * nbytes / self.bus_bandwidth

    def to_dict(self) -> dict:
        return {"name": self.name, "bus_bandwidth": self.bus_bandwidth,
                "latency_s": self.latency_s, "source": self.source}


def _interconnect(data, where: str) -> Interconnect | None:
    if data is None:
        return None
    bandwidth, latency = float(data["bus_bandwidth"]), float(data["latency_s"])
    if not (math.isfinite(bandwidth) and bandwidth > 0 and math.isfinite(latency)
            and latency >= 0):
        raise ValueError(f"{where}: interconnect needs bus_bandwidth > 0 and latency_s >= 0")
    return Interconnect(str(data.get("name", "")), bandwidth, latency, str(data.get("source", "")))


def _parse(data: dict, origin: str) -> dict[str, Chip]:
    chips = data.get("chips") if isinstance(data, dict) else None
    if not isinstance(chips, dict) or not chips:
        raise HardwareError(f"{origin}: expected a top-level 'chips:' mapping of chip entries")
    parsed: dict[str, Chip] = {}
    for chip_id, entry in chips.items():
        try:
            peaks = {k: float(v) for k, v in entry["peak_flops"].items()}
            chip = Chip(
                id=str(chip_id).lower(),
                name=str(entry.get("name", chip_id)),
                peak_flops=peaks,
                memory_bandwidth=float(entry["memory_bandwidth"]),
                memory_bytes=int(float(entry.get("memory_bytes", 0))),
                source=str(entry.get("source", "")),
                vendor=str(entry.get("vendor", "")),
                aliases=tuple(str(a).lower() for a in entry.get("aliases", ()) or ()),
                time_model=(parse_time_model(entry["time_model"], f"{chip_id}.time_model")
                            if entry.get("time_model") else TimeModel.ROOFLINE),
                interconnect=_interconnect(entry.get("interconnect"), f"{chip_id}.interconnect"),
            )
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            if isinstance(exc, ValueError) and str(exc).startswith(f"{chip_id}."):
                raise HardwareError(f"{origin}: {exc}") from None  # says what is wrong
            raise HardwareError(
                f"{origin}: chip {chip_id!r} needs peak_flops (per dtype) and "
                f"memory_bandwidth as numbers ({type(exc).__name__}: {exc})"
            ) from None
        bad = _bad_number(peaks, chip.memory_bandwidth, chip.memory_bytes)
        if bad:
            raise HardwareError(f"{origin}: chip {chip_id!r}: {bad}")
        parsed[chip.id] = chip
    return parsed


def _bad_number(peaks: dict[str, float], bandwidth: float, memory: int) -> str:
    """What is wrong with a chip's figures ('' when nothing): every peak and the bandwidth
    finite and > 0, the memory >= 0 (NaN, Inf and negatives would poison every time)."""
    if not peaks:
        return "peak_flops lists no dtype"
    for key, value in peaks.items():
        if not (math.isfinite(value) and value > 0):
            return f"peak_flops.{key} must be a finite number > 0, got {value}"
    if not (math.isfinite(bandwidth) and bandwidth > 0):
        return f"memory_bandwidth must be a finite number > 0, got {bandwidth}"
    if memory < 0:
        return f"memory_bytes must be >= 0, got {memory}"
    return ""


@lru_cache(maxsize=None)
def load_chips(path: str | None = None) -> dict[str, Chip]:
    """The shipped table, or a user's YAML in the same schema."""
    file = Path(path) if path else CHIPS_FILE
    data = _read_yaml(file)
    if path is None and isinstance(data, dict) and isinstance(data.get("chips"), dict):
        calibrated = _read_yaml(TIME_MODELS_FILE).get("chips", {})
        for chip_id, extra in calibrated.items():
            if chip_id in data["chips"]:
                data["chips"][chip_id] = {**data["chips"][chip_id], **extra}
    return _parse(data, str(file))


MAX_YAML_BYTES = 4 * 2**20  # a hardware file is a few KB; the shipped table is ~30 KB


class _NoAliasLoader(yaml.SafeLoader):
    """yaml's safe loader without anchors and aliases: a few hundred bytes of nested aliases
    (a "billion laughs" bomb) would otherwise expand to gigabytes."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _AliasRefused(f"line {event.start_mark.line + 1}: alias *{event.anchor}")
        return super().compose_node(parent, index)


class _AliasRefused(Exception):
    pass


def _read_yaml(file: Path):
    """A hardware YAML: a regular file of at most MAX_YAML_BYTES, without aliases."""
    import os
    import stat

    try:
        info = os.stat(file)
        if not stat.S_ISREG(info.st_mode):
            raise HardwareError(f"{file}: not a regular file; a hardware file must be YAML text")
        if info.st_size > MAX_YAML_BYTES:
            raise HardwareError(f"{file}: {info.st_size:,} bytes; a hardware file may have at "
                                f"most {MAX_YAML_BYTES:,}")
        return yaml.load(file.read_text(), Loader=_NoAliasLoader)
    except FileNotFoundError:
        raise HardwareError(f"hardware file not found: {file}") from None
    except _AliasRefused as exc:
        raise HardwareError(f"{file}: YAML anchors and aliases are not allowed in hardware files "
                            f"({exc}); write each value out") from None
    except UnicodeDecodeError:
        raise HardwareError(f"{file}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise HardwareError(f"{file}: not valid YAML ({exc.__class__.__name__})") from None


def get_chip(name: str | None) -> Chip:
    """A chip by id or alias (case-insensitive), or the first chip of a user YAML file."""
    name = name or DEFAULT_CHIP
    if name.endswith((".yaml", ".yml")) or Path(name).is_file():
        return next(iter(load_chips(name).values()))
    key = name.lower()
    chips = load_chips()
    for chip in chips.values():
        if key == chip.id or key in chip.aliases:
            return chip
    names = sorted(set(chips) | {a for c in chips.values() for a in c.aliases})
    close = difflib.get_close_matches(key, names, n=4, cutoff=0.4)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(sorted(chips))}"
    raise HardwareError(f"unknown hardware {name!r}{hint}")


def chips_document(chips: list[Chip]) -> dict:
    """Chips in the schema `load_chips` reads (what `hardware --measure -o x.yaml` writes)."""
    entries = {}
    for chip in chips:
        entry = {"name": chip.name, "vendor": chip.vendor, "peak_flops": dict(chip.peak_flops),
                 "memory_bandwidth": chip.memory_bandwidth, "memory_bytes": chip.memory_bytes,
                 "source": chip.source}
        if not chip.time_model.is_roofline:
            entry["time_model"] = chip.time_model.to_dict()
        if chip.interconnect is not None:
            entry["interconnect"] = chip.interconnect.to_dict()
        entries[chip.id] = entry
    return {"schema_version": 1, "chips": entries}


def chips_yaml(chips: list[Chip]) -> str:
    return yaml.safe_dump(chips_document(chips), sort_keys=False, width=100,
                          default_flow_style=None)
