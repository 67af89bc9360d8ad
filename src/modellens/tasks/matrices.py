"""`extract_matrices()`: every weight matrix of one or more models, to JSON and a table (seed 000).

Each spec is built on meta and captured once; `analysis.matrices` reads the capture. A spec that
fails is reported in `MatricesResult.errors` while the others are still extracted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from ..analysis.matrices import ModelMatrices, model_matrices
from ..errors import ConfigError, ModellensError
from ..hardware import get_chip
from ..io import document, write_json
from ..sources import resolve
from ..sources.base import ModelSource
from .pipeline import capture_source

GB = 1e9  # --bandwidth is in GB/s, decimal like the chip data sheets


@dataclass
class MatricesResult:
    """Matrices per model (in the order asked), plus the specs that failed and why."""

    models: list[ModelMatrices]
    errors: dict[str, str] = field(default_factory=dict)
    bandwidth: float = 0.0  # bytes/s used for each model's stream_time_s
    bandwidth_source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return document({
            "total_models": len(self.models), "models": {m.name: m for m in self.models},
            "errors": self.errors, "bandwidth_bytes_per_s": self.bandwidth,
            "bandwidth_source": self.bandwidth_source,
        })


def extract_matrices(
    specs: str | Iterable[str],
    seq_len: int | None = None,
    batch_size: int = 1,
    bandwidth: float | None = None,
    hardware: str | None = None,
    output_path: str | None = None,
    *,
    image_size: int | None = None,
    dtype: str | None = None,
    task: str = "auto",
    inputs: str | None = None,
    allow_longer: bool = False,
    trust_remote_code: bool = False,
) -> MatricesResult:
    """Every weight matrix (nn.Linear, HF Conv1D, attention in-projections, MoE experts) of each
    model spec, with the input shape that flows into it, its FLOPs and bytes.

    `seq_len` defaults to each text model's max_sequence_length. `bandwidth` (GB/s) or
    `hardware` (a chip name or YAML; default the default chip) sets the rate at which
    `stream_time_s` reads all matrices once. `output_path` writes the JSON. `inputs` is a
    FILE.py::FN for file.py::fn specs.
    """
    names = [specs] if isinstance(specs, str) else list(dict.fromkeys(specs))
    if not names:
        raise ConfigError("no model spec given")
    rate, rate_source = _bandwidth(bandwidth, hardware)
    result = MatricesResult([], bandwidth=rate, bandwidth_source=rate_source)
    failures: list[ModellensError] = []
    for spec in names:
        try:
            source = _source(spec, seq_len, batch_size, image_size, task, inputs, allow_longer,
                             trust_remote_code)
            captured = capture_source(source, dtype=dtype)
        except ModellensError as exc:
            failures.append(exc)
            result.errors[spec] = str(exc)
            continue
        model = model_matrices(
            captured.capture, captured.model, batch_size=batch_size,
            max_sequence_length=source.metadata.get("max_sequence_length"), bandwidth=rate,
            input_description=source.input_description, source=source.kind, name=spec,
            top_k=(source.metadata.get("moe") or (None, None))[1])
        if source.metadata.get("seq_len_default") == MAX_POSITIONS:
            model.notes.append(f"seq len {source.metadata['max_sequence_length']:,}: the "
                               f"model's max positions, matrices' default (profile, report, "
                               f"time, unique and compare default to 128, llm's prompt to "
                               f"2048); --seq-len sets it")
        result.models.append(model)
    if len(failures) == len(names):  # nothing to write: fail like any other command
        if len(failures) == 1:
            raise failures[0]
        raise ModellensError("; ".join(result.errors.values()))
    if output_path:
        write_json(output_path, result.to_dict())
    return result


MAX_POSITIONS = "max positions"  # metadata: seq_len defaulted to the model's max positions


def _source(spec: str, seq_len: int | None, batch_size: int, image_size: int | None, task: str,
            inputs: str | None, allow_longer: bool = False,
            trust_remote_code: bool = False) -> ModelSource:
    """The spec's source; a text model without --seq-len runs at its max_sequence_length."""
    ref = inputs if "::" in spec else None
    source = resolve(spec, ref, batch_size=batch_size, seq_len=seq_len,
                     image_size=image_size, task=task, allow_longer=allow_longer,
                     trust_remote_code=trust_remote_code)
    limit = source.metadata.get("max_sequence_length")
    if seq_len is None and limit and "input_ids" in source.make_inputs().kwargs:
        source = resolve(spec, ref, batch_size=batch_size, seq_len=limit,
                              image_size=image_size, task=task,
                              trust_remote_code=trust_remote_code)
        source.metadata["seq_len_default"] = MAX_POSITIONS
    return source


def _bandwidth(bandwidth: float | None, hardware: str | None) -> tuple[float, str]:
    """(bytes/s, where it came from): --bandwidth GB/s, else the chip's memory bandwidth."""
    if bandwidth is not None:
        if hardware is not None:
            raise ConfigError("give a bandwidth or a hardware chip, not both")
        if not bandwidth > 0:
            raise ConfigError(f"bandwidth must be a positive number of GB/s, got {bandwidth!r}")
        return bandwidth * GB, f"{bandwidth:g} GB/s"
    chip = get_chip(hardware)
    return chip.memory_bandwidth, f"{chip.name} ({chip.memory_bandwidth / GB:g} GB/s)"
