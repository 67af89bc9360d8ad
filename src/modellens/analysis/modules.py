"""Per-module totals over the module tree. Totals are inclusive: a module's figure is its own
ops plus all of its descendants', so a parent equals the sum of its children plus its own ops.
Tied parameters count once, at their canonical owner; FLOPs count at every use."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from ..capture import FORWARD
from ..io import fields_dict

if TYPE_CHECKING:
    from .core import Analysis


@lru_cache(maxsize=65536)
def ancestors(path: str) -> tuple[str, ...]:
    """'a.b.c' -> ('', 'a', 'a.b', 'a.b.c'); '' -> ('',)."""
    if not path:
        return ("",)
    parts = path.split(".")
    return ("",) + tuple(".".join(parts[: i + 1]) for i in range(len(parts)))


@dataclass
class ModuleStats:
    path: str
    class_name: str
    depth: int
    parent: str | None
    calls: int
    params: int = 0  # inclusive
    own_params: int = 0
    flops: int = 0  # forward, matmul-class, inclusive
    flops_all: int = 0
    bytes: int = 0
    own_flops: int = 0  # ops attributed to this module itself, not to a child
    backward_flops: int = 0
    input_shapes: list[list[int]] = field(default_factory=list)
    output_shapes: list[list[int]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path or "(root)"

    def to_dict(self) -> dict:
        """The root is "(root)" in `path` and in its children's `parent`, so links resolve."""
        parent = None if self.parent is None else (self.parent or "(root)")
        return fields_dict(self, path=self.name, parent=parent)


def module_stats(analysis: Analysis) -> list[ModuleStats]:
    """One entry per module, in tree (definition) order."""
    capture = analysis.capture
    stats = {
        path: ModuleStats(
            path=path,
            class_name=rec.class_name,
            depth=rec.depth,
            parent=rec.parent,
            calls=rec.calls,
            input_shapes=[list(s.shape) for s in rec.input_specs],
            output_shapes=[list(s.shape) for s in rec.output_specs],
        )
        for path, rec in capture.modules.items()
    }
    for param in capture.params:
        if param.is_buffer:
            continue
        owner = param.module if param.module in stats else ""
        stats[owner].own_params += param.numel
        for path in ancestors(owner):
            if path in stats:
                stats[path].params += param.numel
    for op, cost in analysis.items():
        if not (cost.flops or cost.flops_all or cost.bytes):
            continue
        module = op.module if op.module in stats else ""
        if op.phase == FORWARD:
            stats[module].own_flops += cost.flops
        for path in ancestors(module):
            entry = stats.get(path)
            if entry is None:
                continue
            if op.phase == FORWARD:
                entry.flops += cost.flops
                entry.flops_all += cost.flops_all
                entry.bytes += cost.bytes
            else:
                entry.backward_flops += cost.flops
    return list(stats.values())
