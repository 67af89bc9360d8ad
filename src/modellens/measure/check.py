"""Run one op configuration on a backend: stage by stage, then against eager CPU float64.

Stages: the backend's own (``export``, ``compile``), ``run``, ``numerics``. The result says the
last stage reached, whether it passed, the error's first line, and the numeric agreement (max
abs/rel error) where the op is deterministic. Results are cached per (device, backend, op
configuration) under the cache dir (`measure.cache.cache_dir`, ``porting/``).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from . import kit
from .backends import Backend, OpCase
from .cache import JsonCache, cache_dir, fingerprint
from .ops import OpConfig, argument_tree


@dataclass
class CheckResult:
    """How far one configuration got on a backend."""

    stage: str  # the last stage attempted: export, compile, run or numerics
    passed: bool
    error: str = ""  # first line of the error (or of the numeric mismatch)
    max_abs: float | None = None  # against the reference (None: not compared)
    max_rel: float | None = None
    reference: str = ""  # "eager cpu float64", or why numerics were not compared
    seconds: float = 0.0  # wall time of the check
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    message = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return f"{type(exc).__name__}: {message}"[:300] if message else type(exc).__name__


def check_config(config: OpConfig, backend: Backend, device: torch.device) -> CheckResult:
    """Run `config` on `backend` (seeded inputs, see `measure.kit`) and compare."""
    started = time.perf_counter()
    stage = "export"
    try:
        op, args, kwargs, specs = argument_tree(config)
        tensors = kit.make_inputs(specs, "cpu")
    except Exception as exc:  # not materializable (unknown op, dtype): fails before the backend
        return CheckResult(stage, False, first_line(exc), seconds=time.perf_counter() - started)
    case = OpCase(config.name, kit.as_function(op, args, kwargs, device),
                  [t.to(device) for t in tensors], device, args, kwargs)
    result = CheckResult("run", False)
    with torch.no_grad():
        try:
            runnable = backend.prepare(case)
            case.enter("run")
            outputs = runnable(*case.fresh_inputs())
            if device.type == "cuda":
                torch.cuda.synchronize(device)
        except Exception as exc:  # any backend failure is a result
            result = CheckResult(case.stage, False, first_line(exc))
        else:
            result = _numerics(op, args, kwargs, tensors, outputs)
    result.seconds = time.perf_counter() - started
    return result


def _numerics(op, args, kwargs, tensors, outputs) -> CheckResult:
    if not kit.deterministic(op):
        return CheckResult("run", True, reference="not compared: nondeterministic op")
    try:
        expected, reference = kit.reference(op, args, kwargs, tensors)
    except Exception as exc:  # eager CPU fails too: nothing to compare with
        return CheckResult("run", True, reference=f"not compared: reference failed "
                                                  f"({first_line(exc)})")
    try:
        ok, max_abs, max_rel, message = kit.compare(outputs, expected)
    except Exception as exc:
        return CheckResult("numerics", False, first_line(exc), reference=reference)
    return CheckResult("numerics", ok, message, max_abs, max_rel, reference)


def config_id(config: OpConfig) -> str:
    """A short stable id of an op configuration (its key, hashed)."""
    from .ops import config_key

    return hashlib.sha256(repr(config_key(config.records[0])).encode()).hexdigest()[:16]


class CheckCache(JsonCache):
    """CheckResults per op configuration for one (device, backend)."""

    def __init__(self, device: torch.device, backend: Backend,
                 directory: Path | None = None) -> None:
        super().__init__((directory or cache_dir()) / "porting" / fingerprint(device)
                         / f"{backend.cache_id()}.json")

    def get(self, key: str) -> CheckResult | None:
        entry = self.entries.get(key)
        if not isinstance(entry, dict):
            return None
        try:
            return CheckResult(**{**entry, "cached": True})
        except TypeError:
            return None

    def put(self, key: str, result: CheckResult) -> None:
        super().put(key, {**result.to_dict(), "cached": False})
