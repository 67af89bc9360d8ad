"""`modellens time SPEC`: every unique op configuration timed on a device, the whole model timed
end to end, and both set against the calibrated prediction for that device.

Op sum vs end to end shows what isolated ops miss (dispatch between ops, fusion, caches warm
from the previous op); measured vs predicted shows how far the time model is off on this model.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from ..analysis.roofline import op_peak, op_time
from ..capture import FORWARD
from ..costing.cost import op_cost
from ..errors import ConfigError, HardwareError
from ..hardware import Chip, get_chip, load_chips
from ..io import SCHEMA_VERSION, JsonRecord, Progress, fields_dict
from ..measure.cache import MeasurementCache, measured_chip_path
from ..measure.clock import measure
from ..measure.ops import OpConfig, config_key, time_config, unique_configs
from ..sources import resolve
from .pipeline import capture_source

DEFAULT_MAX_REAL_WEIGHT_FRACTION = 0.5  # end to end only when the weights fit in half of RAM


@dataclass
class OpTimeRow(JsonRecord):
    """One unique op configuration: seconds per call measured and predicted."""

    name: str
    shapes: list[list[int]]
    dtype: str
    calls: int
    measured_s: float | None
    predicted_s: float | None
    flops: int
    bytes: int
    achieved_flops_per_s: float | None
    achieved_bytes_per_s: float | None
    peak_fraction: float | None  # of the predicting chip's peak for this op's dtype
    error: str = ""


@dataclass
class Measured(JsonRecord):
    end_to_end_s: float | None  # median over repeats
    op_sum_s: float | None
    end_to_end_min_s: float | None = None  # the fastest repeat (what a shared machine can't slow)

    @property
    def ratio(self) -> float | None:
        """op sum / end to end."""
        if self.end_to_end_s and self.op_sum_s is not None:
            return self.op_sum_s / self.end_to_end_s
        return None

    def to_dict(self) -> dict[str, Any]:
        return fields_dict(self, op_sum_over_end_to_end=self.ratio)


@dataclass
class TimeResult(JsonRecord):
    model: str
    device: str
    capture_method: str
    hardware: dict[str, Any] | None  # the chip the predictions use (None: no time model)
    measured: Measured
    predicted_s: float | None
    ops: list[OpTimeRow]
    configs_measured: int
    configs_total: int
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[OpTimeRow]:
        return [row for row in self.ops if row.error]

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, **fields_dict(self)}


def time_model(model: Any, inputs: Any = None, *, device: str = "cpu",
               hardware: str | None = None, batch_size: int = 1, seq_len: int | None = None,
               image_size: int | None = None, dtype: str | None = None,
               max_seconds: float | None = None, end_to_end: bool = True,
               max_s_per_op: float = 0.3, use_cache: bool = True,
               progress: Progress | None = None, allow_longer: bool = False,
               trust_remote_code: bool = False) -> TimeResult:
    """Time `model` (a spec or an nn.Module with `inputs`) op by op and end to end on `device`."""
    target = device_named(device)
    chip, chip_note = _prediction_chip(hardware, target)
    source = resolve(model, inputs, batch_size=batch_size, seq_len=seq_len,
                     image_size=image_size, allow_longer=allow_longer,
                     trust_remote_code=trust_remote_code)
    captured = capture_source(source, dtype=dtype)
    forward = [op for op in captured.capture.ops if op.phase == FORWARD]
    configs = unique_configs(forward)
    cache = MeasurementCache(target) if use_cache else None
    rows, skipped = _measure_configs(configs, target, chip, cache, max_seconds, max_s_per_op,
                                     progress)
    notes = list(captured.capture.notes) + ([chip_note] if chip_note else [])
    if skipped:
        notes.append(f"--max-seconds reached: {skipped} of {len(configs)} configurations (the "
                     "least-called) not measured; the op sum covers the measured ones only")
    e2e = e2e_min = None
    if end_to_end:
        e2e, e2e_min, note = _end_to_end(source, captured.capture.params, target, dtype)
        if note:
            notes.append(note)
    measured_rows = [(row, c) for row, c in zip(rows, configs) if row.measured_s is not None]
    op_sum = math.fsum(row.measured_s * c.calls for row, c in measured_rows) if rows else None
    predicted = (captured.analysis.roofline(chip).phase(FORWARD).time_s
                 if chip is not None else None)
    return TimeResult(model=source.name, device=str(target),
                      capture_method=captured.capture.method,
                      hardware=chip.to_dict() if chip is not None else None,
                      measured=Measured(e2e, op_sum if measured_rows else None, e2e_min),
                      predicted_s=predicted, ops=rows, configs_measured=len(measured_rows),
                      configs_total=len(configs), notes=notes)


def device_named(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; expected cpu or cuda[:N]") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available here")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"--device {name}: only cpu and cuda are supported")
    return device


def _prediction_chip(hardware: str | None, device: torch.device) -> tuple[Chip | None, str]:
    """The chip whose time model predicts: --hardware, else the one `hardware --measure` fitted
    for this device, else none (then say how to get one)."""
    if hardware:
        return get_chip(hardware), ""
    path = measured_chip_path(device)
    if path.is_file():
        try:
            return next(iter(load_chips(str(path)).values())), f"predictions use {path}"
        except HardwareError:
            pass
    return None, ("no time model for this device: run `modellens hardware --measure` (kept for "
                  "later runs) or pass --hardware CHIP.yaml for predicted times")


def _measure_configs(configs: list[OpConfig], device: torch.device, chip: Chip | None,
                     cache: MeasurementCache | None, max_seconds: float | None,
                     max_s_per_op: float, progress) -> tuple[list[OpTimeRow], int]:
    rows: list[OpTimeRow] = []
    started, skipped = time.perf_counter(), 0
    for i, config in enumerate(configs):
        over_budget = max_seconds is not None and time.perf_counter() - started > max_seconds
        key = repr(config_key(config.records[0]))
        seconds = cache.get(key) if cache is not None else None
        error = ""
        if seconds is None and not over_budget:
            result = time_config(config, device, max_s=max_s_per_op)
            seconds, error = (result.seconds.median_s if result.seconds else None), result.error
            if seconds is not None and cache is not None:
                cache.put(key, seconds)
        if seconds is None and not error:
            skipped += 1
        rows.append(_row(config, seconds, error, chip))
        if progress:
            progress(i + 1, len(configs), config.name)
    if cache is not None:
        cache.save()
    return rows, skipped


def _row(config: OpConfig, seconds: float | None, error: str, chip: Chip | None) -> OpTimeRow:
    op = config.records[0]
    cost = op_cost(op)
    predicted = op_time(op, cost, chip) if chip is not None else None
    peak = None
    if chip is not None and seconds:
        peak = cost.flops_all / seconds / op_peak(op, cost, chip)
    return OpTimeRow(
        name=config.name, shapes=config.shapes(), dtype=config.dtype(), calls=config.calls,
        measured_s=seconds, predicted_s=predicted.time_s if predicted else None,
        flops=cost.flops_all, bytes=cost.bytes,
        achieved_flops_per_s=cost.flops_all / seconds if seconds else None,
        achieved_bytes_per_s=cost.bytes / seconds if seconds else None,
        peak_fraction=peak, error=error)


def _end_to_end(source, params, device: torch.device, dtype: str | None
                ) -> tuple[float | None, float | None, str]:
    """The whole model with real random weights under inference mode, when they fit."""
    from ..dtypes import parse_dtype
    from ..measure.timing import available_bytes

    weights = sum(p.nbytes for p in params)
    budget = DEFAULT_MAX_REAL_WEIGHT_FRACTION * available_bytes(device)
    if weights > budget:
        return None, None, (f"end to end not measured: {weights / 2**30:.1f} GiB of weights do not "
                      f"fit in half of the {budget * 2 / 2**30:.1f} GiB available")
    torch.manual_seed(0)
    with torch.device(device):
        module = source.build().eval()
        sample = source.make_inputs()
    if dtype:
        module = module.to(parse_dtype(dtype))
    with torch.inference_mode():
        seconds = measure(lambda: module(*sample.args, **sample.kwargs), device, max_s=5.0)
    return seconds.median_s, seconds.min_s, ""
