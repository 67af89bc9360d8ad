"""The porting kit: every unique aten op configuration of a set of models, run on a backend.

    result = port(["gpt2", "tv:resnet50"], "inductor", device="cpu")
    result.rollup[0]   # the op whose fix unblocks the most models

Each model is captured once (fake tensors, torch-level calls recorded). Configurations (aten
overload x operand shapes and dtypes x non-tensor arguments, `measure.ops.config_key`) are
deduplicated across models; each keeps the models and module paths that use it and the
torch-level calls it lowered from. Each is run on the backend (`measure.check`), most-shared
first, until the time budget is spent; results are cached per (device, backend, config).

The roll-up: per aten op with a failing configuration, the models it blocks (they use a failing
configuration of it) and the models it alone blocks (fixing it unblocks them), sorted by the
models unblocked per fix. A configuration that fails on eager CPU too (it cannot run in
isolation, e.g. an `as_strided` over a larger storage) is listed but blocks nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import torch

from ..analysis.op_names import leaf_function, torch_name
from ..capture import FORWARD, Capture, OpRecord
from ..errors import ConfigError, SpecError
from ..io import SCHEMA_VERSION, Progress, to_jsonable, write_text
from ..measure.backends import Backend, get_backend
from ..measure.check import CheckCache, CheckResult, check_config, config_id
from ..measure.emit import emitted_name, emitted_test
from ..measure.ops import OpConfig, argument_tree, config_key
from ..sources import resolve
from ..sources.pyfile import called_once
from .pipeline import capture_source

ISOLATION = "materialize"  # the stage of a config that cannot run alone (eager CPU fails too)


@dataclass
class PortConfig:
    """One unique op configuration across the models, and how it did on the backend."""

    id: str
    op: str  # aten overload
    torch_ops: list[str]  # torch-level calls it lowered from
    inputs: list[dict[str, Any]]  # {"shape": [...], "dtype": ...} per tensor argument
    attributes: dict[str, Any]
    models: dict[str, list[str]]  # model -> module paths ("(root)" for the root)
    calls: int
    key: str  # stable hash of the configuration (cache key)
    result: CheckResult | None = None  # None: not run (time budget)
    test_file: str | None = None
    config: OpConfig | None = field(default=None, repr=False)

    @property
    def status(self) -> str:
        if self.result is None:
            return "not run"
        if self.result.stage == ISOLATION:
            return "not runnable alone"
        return "pass" if self.result.passed else "fail"

    @property
    def blocking(self) -> bool:
        return self.status == "fail"

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable({
            "id": self.id, "op": self.op, "torch_ops": self.torch_ops, "inputs": self.inputs,
            "attributes": self.attributes, "models": self.models, "calls": self.calls,
            "key": self.key, "status": self.status,
            "result": self.result.to_dict() if self.result else None,
            "test_file": self.test_file})


@dataclass
class ModelSummary:
    name: str  # as given (the spec)
    model_class: str
    capture_method: str
    configs: int  # unique configurations it uses
    failing: list[str] = field(default_factory=list)  # config ids
    blocked_by: list[str] = field(default_factory=list)  # aten ops

    @property
    def runs(self) -> bool:
        return not self.failing


@dataclass
class Blocker:
    """One aten op with failing configurations: the roll-up row."""

    op: str
    torch_ops: list[str]
    failing_configs: list[str]
    models_blocked: list[str]
    unblocks: list[str]  # models for which this op is the only blocker
    stages: dict[str, int]  # stage -> failing configs
    error: str  # the first failing config's error


@dataclass
class PortingResult:
    backend: str
    device: str
    models: list[ModelSummary]
    configs: list[PortConfig]
    rollup: list[Blocker]
    seconds: float
    budget_s: float | None = None
    notes: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for config in self.configs:
            counts[config.status] = counts.get(config.status, 0) + 1
        return counts

    def failing(self) -> list[PortConfig]:
        return [c for c in self.configs if c.blocking]

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable({
            "schema_version": SCHEMA_VERSION,
            "backend": self.backend, "device": self.device, "seconds": self.seconds,
            "budget_s": self.budget_s, "counts": self.counts(),
            "models": [{**vars(m), "runs": m.runs} for m in self.models],
            "rollup": [vars(b) for b in self.rollup],
            "configs": [c.to_dict() for c in self.configs],
            "notes": self.notes, "files": [str(p) for p in self.files]})


# --------------------------------------------------------------------------------------------


def read_models_file(path: str | Path) -> list[str]:
    """Model specs, one per line; '#' starts a comment."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"models file not found: {file}")
    specs = [line.split("#", 1)[0].strip() for line in file.read_text().splitlines()]
    return [s for s in specs if s]


def port(models: Iterable[Any], backend: str | Backend | type[Backend] = "eager", *,
         device: str = "cpu", budget_s: float | None = None, cache: bool = True,
         cache_dir: Path | None = None, emit_tests: str | Path | None = None,
         failing_only: bool = False, progress: Progress | None = None,
         **options: Any) -> PortingResult:
    """Capture each model, run every unique configuration on `backend`, roll up what blocks
    which model. A model is a spec (or nn.Module, function) or a (spec, inputs) pair;
    `options`: batch_size, seq_len, image_size, dtype, task (as for unique)."""
    started = time.perf_counter()
    try:
        runner = get_backend(backend)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0])) from None
    reason = runner.unavailable()
    if reason:
        raise ConfigError(reason)
    target = _device(device)
    specs = list(models)
    if not specs:
        raise SpecError("no model to port: give one or more specs")
    captures: list[tuple[str, Capture]] = []
    for i, entry in enumerate(specs):
        spec, inputs = entry if isinstance(entry, tuple) else (entry, None)
        if progress:
            progress(i, len(specs), f"capturing {_label(spec)}")
        captures.append((_label(spec), _capture(spec, inputs, **options)))
    configs = merge_configs(captures)
    summaries = [ModelSummary(name, c.model_class, c.method,
                              sum(1 for p in configs if name in p.models))
                 for name, c in captures]
    notes = _run(configs, runner, target, budget_s, cache, cache_dir, progress)
    result = PortingResult(runner.name, str(target), summaries, configs, [],
                           0.0, budget_s, notes)
    result.rollup = rollup(configs, summaries)
    if emit_tests is not None:
        result.files = write_tests(result, runner, Path(emit_tests), failing_only)
    result.seconds = time.perf_counter() - started
    return result


def _label(spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    return getattr(spec, "__name__", None) or type(spec).__name__


def _device(device: str) -> torch.device:
    try:
        target = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"not a device: {device!r} (cpu, cuda, cuda:1)") from None
    if target.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device here")
    return target


def _capture(spec: Any, inputs: Any = None, *, batch_size: int = 1, seq_len: int | None = None,
             image_size: int | None = None, dtype: str | None = None,
             task: str = "auto", trust_remote_code: bool = False) -> Capture:
    source = called_once(resolve(spec, inputs, batch_size=batch_size, seq_len=seq_len,
                                 image_size=image_size, task=task,
                                 trust_remote_code=trust_remote_code))
    return capture_source(source, dtype=dtype, torch_calls=True).capture


def torch_level(op: OpRecord, capture: Capture) -> str:
    """The torch-level call an aten op lowered from (recorded call, functional leaf module, or
    the op's own torch name)."""
    if op.call is not None:
        return op.call.name
    record = capture.modules.get(op.module)
    function = leaf_function(record) if record is not None else None
    return function or torch_name(op)[0]


def merge_configs(captures: list[tuple[str, Capture]]) -> list[PortConfig]:
    """Unique forward configurations across models, most-shared first."""
    by_key: dict[tuple, PortConfig] = {}
    for name, capture in captures:
        for op in capture.ops:
            if op.phase != FORWARD or op.name.startswith("higher_order."):
                continue
            key = config_key(op)
            entry = by_key.get(key)
            if entry is None:
                config = OpConfig(op.name, op.args, op.kwargs, op.phase)
                entry = by_key[key] = PortConfig(
                    "", op.name, [], [s.to_dict() for s in op.inputs], op.attributes(), {}, 0,
                    "", config=config)
            entry.config.records.append(op)
            entry.calls += 1
            paths = entry.models.setdefault(name, [])
            path = op.module or "(root)"
            if path not in paths:
                paths.append(path)
            level = torch_level(op, capture)
            if level not in entry.torch_ops:
                entry.torch_ops.append(level)
    configs = sorted(by_key.values(), key=lambda c: (-len(c.models), -c.calls))
    for i, config in enumerate(configs):
        config.id = f"cfg_{i:03d}"
        config.key = config_id(config.config)
    return configs


def _run(configs: list[PortConfig], backend: Backend, device: torch.device,
         budget_s: float | None, use_cache: bool, cache_dir: Path | None,
         progress: Progress | None) -> list[str]:
    cache = CheckCache(device, backend, cache_dir) if use_cache else None
    started = time.perf_counter()
    skipped = 0
    try:
        for i, config in enumerate(configs):
            if progress:
                progress(i, len(configs), config.op)
            cached = cache.get(config.key) if cache is not None else None
            if cached is not None:
                config.result = cached
                continue
            if budget_s is not None and time.perf_counter() - started > budget_s:
                skipped += 1
                continue
            config.result = _isolated(check_config(config.config, backend, device), config)
            if cache is not None:
                cache.put(config.key, config.result)
                if i % 25 == 24:  # an interrupted run keeps what it did
                    cache.save()
    finally:
        if cache is not None:
            cache.save()
    if progress:
        progress(len(configs), len(configs), "")
    notes = []
    if skipped:
        notes.append(f"{skipped} configurations not run: time budget of {budget_s:g} s spent")
    return notes


def _isolated(result: CheckResult, config: PortConfig) -> CheckResult:
    """A failure that eager CPU shares is the op's isolation, not the backend: ISOLATION."""
    if result.passed or result.stage == "numerics":
        return result
    from ..measure.backends import Eager

    eager = check_config(config.config, Eager(), torch.device("cpu"))
    if eager.passed or eager.stage == "numerics":
        return result
    result.stage = ISOLATION
    result.error = f"cannot run alone (eager CPU fails too): {eager.error}"
    return result


def rollup(configs: list[PortConfig], models: list[ModelSummary]) -> list[Blocker]:
    """Per aten op with failing configurations: models blocked, models it alone blocks."""
    blockers: dict[str, Blocker] = {}
    by_model: dict[str, set[str]] = {m.name: set() for m in models}
    for config in configs:
        if not config.blocking:
            continue
        entry = blockers.setdefault(config.op, Blocker(config.op, [], [], [], [], {},
                                                       config.result.error))
        entry.failing_configs.append(config.id)
        entry.stages[config.result.stage] = entry.stages.get(config.result.stage, 0) + 1
        for name in config.torch_ops:
            if name not in entry.torch_ops:
                entry.torch_ops.append(name)
        for model in config.models:
            if model not in entry.models_blocked:
                entry.models_blocked.append(model)
            by_model[model].add(config.op)
    for summary in models:
        summary.failing = [c.id for c in configs if c.blocking and summary.name in c.models]
        summary.blocked_by = sorted(by_model[summary.name])
    for entry in blockers.values():
        entry.unblocks = [m for m in entry.models_blocked if by_model[m] == {entry.op}]
    order = [m.name for m in models]
    for entry in blockers.values():
        entry.models_blocked.sort(key=order.index)
    return sorted(blockers.values(), key=lambda b: (-len(b.unblocks), -len(b.models_blocked),
                                                    -len(b.failing_configs), b.op))


def write_tests(result: PortingResult, backend: Backend, directory: Path,
                failing_only: bool) -> list[Path]:
    """One pytest file per configuration (only failing ones with `failing_only`)."""
    files = []
    for config in result.configs:
        if failing_only and config.status not in ("fail", "not runnable alone"):
            continue
        try:
            _, args, kwargs, specs = argument_tree(config.config)
            text = emitted_test(op=config.op, args=args, kwargs=kwargs, specs=specs,
                                backend=backend, device=result.device, config_id=config.id,
                                description=_describe(config, result))
        except (RuntimeError, ValueError) as exc:
            result.notes.append(f"{config.id} ({config.op}): no test written ({exc})")
            continue
        path = write_text(directory / f"{emitted_name(config.op, config.id)}.py", text)
        config.test_file = str(path)
        files.append(path)
    return files


def _describe(config: PortConfig, result: PortingResult) -> str:
    shapes = ", ".join(f"{'x'.join(map(str, i['shape'])) or 'scalar'} {i['dtype']}"
                       for i in config.inputs)
    lines = [f"{config.op} on {result.backend} ({result.device}): {config.id}",
             "", f"inputs: {shapes or 'none'}"]
    if config.attributes:
        lines.append(f"attributes: {to_jsonable(config.attributes)}")
    lines.append(f"called as: {', '.join(config.torch_ops)}")
    for model, paths in config.models.items():
        shown = ", ".join(paths[:5]) + (f" (+{len(paths) - 5} more)" if len(paths) > 5 else "")
        lines.append(f"used by {model}: {shown}")
    if config.result is not None:
        outcome = "passed" if config.result.passed else f"failed: {config.result.error}"
        lines.append(f"when generated: {outcome} (stage {config.result.stage})")
    return "\n".join(lines)
