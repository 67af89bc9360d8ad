"""Typed results of `profile`; every renderer (table, JSON, CSV, HTML) reads these."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..hardware import Chip
from .flops import FlopTotals, OperatorStats, UnsupportedOp
from .memory import MemoryEstimate
from .modules import ModuleStats
from .moe import MoEReport
from .params import ParamCounts
from .roofline import Bottleneck

SCHEMA_VERSION = 1
_LAYER_INDEX = re.compile(r"(?<=\.)\d+(?=\.|$)|^\d+(?=\.|$)")


def module_pattern(path: str) -> str:
    """'transformer.h.11.mlp' -> 'transformer.h.*.mlp': repeated layers share a pattern."""
    return _LAYER_INDEX.sub("*", path)


@dataclass
class OpRow:
    """One op that computes or moves data (views are left out)."""

    index: int
    name: str
    module: str
    phase: str
    category: str
    dtype: str
    flops: int
    flops_all: int
    bytes_read: int
    bytes_written: int
    intensity: float
    bound: str
    time_s: float
    input_shapes: list[list[int]]
    output_shapes: list[list[int]]

    @property
    def bytes(self) -> int:
        return self.bytes_read + self.bytes_written

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class OpGroup:
    """Ops with the same name, module pattern and shapes (one per repeated layer)."""

    first: OpRow
    module_pattern: str
    count: int

    @property
    def flops(self) -> int:
        return self.first.flops * self.count

    @property
    def bytes(self) -> int:
        return self.first.bytes * self.count


def group_ops(rows: list[OpRow]) -> list[OpGroup]:
    groups: dict[tuple, OpGroup] = {}
    for row in rows:
        pattern = module_pattern(row.module)
        key = (row.name, pattern, row.phase, str(row.input_shapes))
        group = groups.get(key)
        if group is None:
            groups[key] = OpGroup(row, pattern, 1)
        else:
            group.count += 1
    return list(groups.values())


@dataclass
class ProfileResult:
    model: str
    model_class: str
    source: str
    capture_method: str
    input_description: str
    inputs: list[dict[str, Any]]
    settings: dict[str, Any]
    params: ParamCounts
    flops: FlopTotals
    memory: MemoryEstimate
    hardware: Chip
    bottleneck: Bottleneck
    modules: list[ModuleStats]
    ops: list[OpRow]
    operators: list[OperatorStats]
    unsupported: list[UnsupportedOp]
    backward_bottleneck: Bottleneck | None = None
    moe: MoEReport | None = None
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def macs(self) -> int:
        return self.flops.forward_macs

    def top_ops(self, key: str = "flops", k: int = 10, phase: str = "forward") -> list[OpGroup]:
        """The k largest groups of identical ops by total `key` ("flops" or "bytes")."""
        groups = group_ops([r for r in self.ops if r.phase == phase])
        return sorted(groups, key=lambda g: getattr(g, key), reverse=True)[:k]

    def to_dict(self) -> dict[str, Any]:
        flops = self.flops
        return {
            "schema_version": SCHEMA_VERSION,
            "model": self.model,
            "model_class": self.model_class,
            "source": self.source,
            "capture_method": self.capture_method,
            "inputs": self.inputs,
            "input_description": self.input_description,
            "settings": self.settings,
            "params": self.params.to_dict(),
            "flops": {
                "forward": flops.forward,
                "forward_all": flops.forward_all,
                "backward": flops.backward,
                "backward_all": flops.backward_all,
            },
            "macs": {"forward": flops.forward_macs, "backward": flops.backward_macs},
            "memory": self.memory.to_dict(),
            "hardware": self.hardware.to_dict(),
            "bottleneck": self.bottleneck.to_dict(),
            "backward_bottleneck": (
                self.backward_bottleneck.to_dict() if self.backward_bottleneck else None
            ),
            "moe": self.moe.to_dict() if self.moe else None,
            "modules": [m.to_dict() for m in self.modules],
            "operators": [o.to_dict() for o in self.operators],
            "ops": [o.to_dict() for o in self.ops],
            "unsupported_ops": [u.to_dict() for u in self.unsupported],
            "notes": list(self.notes),
            "timings": dict(self.timings),
        }
