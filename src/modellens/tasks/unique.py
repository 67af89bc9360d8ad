"""Unique modules and unique ops of a model (seed 002): the Python API behind `modellens unique`.

    from modellens import extract_unique_modules, extract_pytorch_ops
    modules = extract_unique_modules(load_model, get_inputs, "unique_modules.json")
    ops = extract_pytorch_ops("unique_modules.json", load_model, get_inputs, "pytorch_ops.json")

`load_fn` is a function returning an nn.Module, an nn.Module, a "file.py::fn" reference or any
model spec ("gpt2", "tv:resnet18"); `get_sample_input` a function returning a tensor, a tuple of
args or a dict of kwargs, the inputs themselves, a "file.py::fn" reference, or None for specs
with natural inputs. Each call captures the model once (fake tensors, no weights touched);
`analyze_unique` gives both files from a single capture. Files are written atomically, and
only after everything is computed, so a failure never leaves half a JSON file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from ..analysis.unique import (
    LEVELS,
    ROOT,
    MissingOp,
    UniqueModule,
    UniqueOp,
    missing_ops,
    op_calls,
    unique_modules,
    unique_ops,
)
from ..capture import Capture
from ..errors import ConfigError
from ..io import document, to_json, write_text
from ..sources import resolve
from ..sources.pyfile import called_once
from .pipeline import capture_source

MODULES_FILE = "unique_modules.json"
OPS_FILE = "pytorch_ops.json"

PathLike = str | os.PathLike


@dataclass
class ModulesMetadata:
    load_fn_location: str  # "my_model.py:load_model", or the model spec
    load_fn_name: str | None  # None for a spec or a module object
    model_class: str
    total_modules: int
    unique_modules: int
    timestamp: str
    capture_method: str = ""  # "fake" or "real"


@dataclass
class UniqueModulesResult:
    """The content of unique_modules.json."""

    metadata: ModulesMetadata
    modules: list[UniqueModule]
    path: Path | None = None  # where it was written

    def to_dict(self) -> dict[str, Any]:
        return document({"metadata": self.metadata, "modules": self.modules})

    def module_ids(self) -> dict[str, str]:
        """Capture module path ('' for the root) -> unique module id."""
        return {("" if p == ROOT else p): m.id for m in self.modules for p in m.occurrences}


@dataclass
class OpsMetadata:
    source_modules_json: str | None
    total_ops: int
    unique_ops: int
    timestamp: str
    level: str = "torch"  # "torch" or "aten"


@dataclass
class PytorchOpsResult:
    """The content of pytorch_ops.json."""

    metadata: OpsMetadata
    ops: list[UniqueOp]
    path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return document({"metadata": self.metadata, "ops": self.ops})

    def counts_by_name(self) -> list[tuple[str, int, int]]:
        """(op name, calls, unique variants), most called first."""
        counts: dict[str, list[int]] = {}
        for op in self.ops:
            entry = counts.setdefault(op.op_name, [0, 0])
            entry[0] += len(op.occurrences)
            entry[1] += 1
        return sorted(((n, c, v) for n, (c, v) in counts.items()), key=lambda t: (-t[1], t[0]))


@dataclass
class UniqueReport:
    """Both files from one capture, plus the ops a backend lacks when a support list is given."""

    modules: UniqueModulesResult
    ops: PytorchOpsResult
    missing: list[MissingOp] | None = None
    files: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"unique_modules": self.modules, "pytorch_ops": self.ops}
        if self.missing is not None:
            data["missing_ops"] = self.missing
        return document({**data, "files": self.files})


# --------------------------------------------------------------------------------------------
# Public API


def extract_unique_modules(load_fn: Any, get_sample_input: Any = None,
                           output_path: PathLike | None = MODULES_FILE,
                           **options: Any) -> UniqueModulesResult:
    """Unique modules of the model; written to `output_path` (None: not written).

    `options`: batch_size, seq_len, image_size, dtype, task, allow_longer (for specs and
    casts)."""
    result = modules_result(*_capture(load_fn, get_sample_input, torch_calls=False, **options))
    if output_path is not None:
        result.path = _write(output_path, result.to_dict())
    return result


def extract_pytorch_ops(modules_json_path: PathLike | None, load_fn: Any,
                        get_sample_input: Any = None, output_path: PathLike | None = OPS_FILE,
                        *, level: str = "torch", **options: Any) -> PytorchOpsResult:
    """Unique ops of the model, each tied to its module's id in `modules_json_path` (None: the
    ids this capture gives); written to `output_path` (None: not written). `level` is "torch"
    (ops as users call them) or "aten" (the ops a backend lowers)."""
    _check_level(level)
    modules = read_modules_json(modules_json_path) if modules_json_path is not None else None
    capture, location, fn_name = _capture(load_fn, get_sample_input,
                                          torch_calls=level == "torch", **options)
    if modules is None:
        modules = modules_result(capture, location, fn_name)
    result = ops_result(capture, modules, level,
                        None if modules_json_path is None else str(modules_json_path))
    if output_path is not None:
        result.path = _write(output_path, result.to_dict())
    return result


def analyze_unique(load_fn: Any, get_sample_input: Any = None, *, level: str = "torch",
                   supported: Iterable[str] | None = None, **options: Any) -> UniqueReport:
    """Unique modules and unique ops from one capture; with `supported` (op names a backend
    has), also the unique ops it lacks and the modules that use them. Nothing is written."""
    _check_level(level)
    capture, location, fn_name = _capture(load_fn, get_sample_input,
                                          torch_calls=level == "torch", **options)
    modules = modules_result(capture, location, fn_name)
    ops = ops_result(capture, modules, level, MODULES_FILE)
    missing = None
    if supported is not None:
        missing = missing_ops(ops.ops, supported, {m.id: m.class_name for m in modules.modules})
    return UniqueReport(modules, ops, missing)


def write_report(report: UniqueReport, directory: PathLike | None = None) -> list[Path]:
    """Write DIR/unique_modules.json and DIR/pytorch_ops.json (DIR defaults to ./<ModelClass>/)."""
    out = Path(directory) if directory is not None else Path(report.modules.metadata.model_class)
    modules_text = to_json(report.modules.to_dict())
    ops_text = to_json(report.ops.to_dict())
    report.modules.path = write_text(out / MODULES_FILE, modules_text)
    report.ops.path = write_text(out / OPS_FILE, ops_text)
    report.files = [report.modules.path, report.ops.path]
    return report.files


def read_supported(path: PathLike) -> list[str]:
    """Op names from a text file: one per line, '#' starts a comment."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"supported-ops file not found: {file}")
    names = [line.split("#", 1)[0].strip() for line in file.read_text().splitlines()]
    return [n for n in names if n]


def read_modules_json(path: PathLike) -> UniqueModulesResult:
    """A unique_modules.json written by `extract_unique_modules` (or by the seed's tool)."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"modules JSON not found: {file}")
    try:
        data = json.loads(file.read_text())
        modules = [UniqueModule(**{k: v for k, v in m.items() if k in _MODULE_FIELDS})
                   for m in data["modules"]]
        metadata = ModulesMetadata(**{k: v for k, v in data["metadata"].items()
                                      if k in _METADATA_FIELDS})
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"{file}: not a unique_modules.json ({type(exc).__name__}: {exc})") from None
    return UniqueModulesResult(metadata, modules, file)


_MODULE_FIELDS = set(UniqueModule.__dataclass_fields__)
_METADATA_FIELDS = set(ModulesMetadata.__dataclass_fields__)


# --------------------------------------------------------------------------------------------
# Building results


def modules_result(capture: Capture, location: str, fn_name: str | None) -> UniqueModulesResult:
    """unique_modules.json of a capture; `location`/`fn_name` say where the model came from."""
    modules = unique_modules(capture)
    metadata = ModulesMetadata(
        load_fn_location=location,
        load_fn_name=fn_name,
        model_class=capture.model_class,
        total_modules=len(capture.modules),
        unique_modules=len(modules),
        timestamp=_now(),
        capture_method=capture.method,
    )
    return UniqueModulesResult(metadata, modules)


def ops_result(capture: Capture, modules: UniqueModulesResult, level: str,
               modules_json: str | None) -> PytorchOpsResult:
    """pytorch_ops.json of a capture, with module ids from `modules` (which must cover it)."""
    ids = modules.module_ids()
    absent = [p for p in capture.modules if p not in ids]
    if absent:
        where = modules.path or "the modules JSON"
        raise ConfigError(f"{where} does not describe this model: no module "
                          f"{absent[0] or ROOT!r}; regenerate it with extract_unique_modules")
    classes = {p: r.class_name for p, r in capture.modules.items()}
    calls = op_calls(capture, level)
    ops = unique_ops(calls, ids, classes)
    metadata = OpsMetadata(modules_json, len(calls), len(ops), _now(), level)
    return PytorchOpsResult(metadata, ops)


# --------------------------------------------------------------------------------------------
# Resolving what to capture


def _capture(load_fn: Any, get_sample_input: Any, *, batch_size: int = 1,
             seq_len: int | None = None, image_size: int | None = None,
             dtype: str | None = None, task: str = "auto",
             allow_longer: bool = False, torch_calls: bool = True,
             trust_remote_code: bool = False) -> tuple[Capture, str, str | None]:
    """(capture, where the model came from, its function's name). A model given as code and
    its inputs function are called once, up front, so a wrong one fails with its own message."""
    source = called_once(resolve(load_fn, get_sample_input, batch_size=batch_size,
                                 seq_len=seq_len, image_size=image_size, task=task,
                                 allow_longer=allow_longer,
                                 trust_remote_code=trust_remote_code))
    captured = capture_source(source, dtype=dtype, torch_calls=torch_calls)
    return captured.capture, source.location, source.function


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ConfigError(f"level must be 'torch' or 'aten', got {level!r}")


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")


def _write(path: PathLike, data: Any) -> Path:
    return write_text(path, to_json(data))
