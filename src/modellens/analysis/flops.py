"""FLOP totals, per-operator tables and the list of ops no formula covers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

from ..capture import BACKWARD, FORWARD, OpRecord
from ..costing.cost import FLOPS_PER_MAC, OpCost
from ..costing.registry import UNSUPPORTED
from ..io import JsonRecord
from .modules import ancestors

if TYPE_CHECKING:
    from .core import Analysis


@dataclass(frozen=True)
class FlopTotals:
    forward: int  # matmul-class FLOPs of one forward pass
    forward_all: int  # + elementwise, reductions, softmax, norms, pooling, bias adds
    backward: int | None = None  # None when backward was not captured
    backward_all: int | None = None

    @property
    def forward_macs(self) -> int:
        return self.forward // FLOPS_PER_MAC

    @property
    def backward_macs(self) -> int | None:
        return None if self.backward is None else self.backward // FLOPS_PER_MAC


def totals(analysis: Analysis) -> FlopTotals:
    sums = {FORWARD: [0, 0], BACKWARD: [0, 0]}
    for op, cost in analysis.items():
        pair = sums[op.phase]
        pair[0] += cost.flops
        pair[1] += cost.flops_all
    if not analysis.capture.backward:
        return FlopTotals(*sums[FORWARD])
    return FlopTotals(*sums[FORWARD], *sums[BACKWARD])


@dataclass
class OperatorStats(JsonRecord):
    """All calls of one aten op packet in one phase."""

    name: str
    category: str
    phase: str
    count: int = 0
    flops: int = 0
    flops_all: int = 0
    bytes: int = 0

    def add(self, cost: OpCost) -> None:
        self.count += 1
        self.flops += cost.flops
        self.flops_all += cost.flops_all
        self.bytes += cost.bytes


Operators = dict[tuple[str, str], OperatorStats]


def _count(table: Operators, op: OpRecord, cost: OpCost) -> None:
    key = (op.packet, op.phase)
    stats = table.get(key)
    if stats is None:
        stats = table[key] = OperatorStats(op.packet, cost.category, op.phase)
    stats.add(cost)


def _largest_first(table: Operators) -> list[OperatorStats]:
    return sorted(table.values(), key=lambda s: (-s.flops, -s.flops_all, -s.bytes, s.name))


def by_operator(items: Iterable[tuple[OpRecord, OpCost]]) -> list[OperatorStats]:
    """Per (op packet, phase), largest FLOPs first."""
    table: Operators = {}
    for op, cost in items:
        _count(table, op, cost)
    return _largest_first(table)


def by_module_and_operator(analysis: Analysis) -> dict[str, list[OperatorStats]]:
    """Per module path (inclusive: its own ops and its descendants'), `by_operator` of its ops;
    ops of a path the tree does not know count at the root."""
    known = analysis.capture.modules
    tables: dict[str, Operators] = {path: {} for path in known}
    for op, cost in analysis.items():
        module = op.module if op.module in known else ""
        for path in ancestors(module):
            if path in tables:
                _count(tables[path], op, cost)
    return {path: _largest_first(table) for path, table in tables.items()}


@dataclass
class UnsupportedOp(JsonRecord):
    """An op the capture met that no FLOP convention covers: counted nowhere, shown here."""

    name: str
    count: int = 0
    modules: list[str] = field(default_factory=list)
    example_shapes: list[list[int]] = field(default_factory=list)


_MATMUL_NAME = re.compile(r"mm|matmul|conv|attention|attn|linear|einsum|gemm|bmm|dot")


def looks_like_matmul(name: str) -> bool:
    """Op names that suggest multiply-accumulate work a missing formula would undercount."""
    return bool(_MATMUL_NAME.search(name.rsplit(".", 1)[0].split(".", 1)[-1]))


def unsupported_ops(analysis: Analysis, max_modules: int = 5) -> list[UnsupportedOp]:
    """Ops no FLOP convention covers, most frequent first."""
    found: dict[str, UnsupportedOp] = {}
    for op, cost in analysis.items():
        if cost.category != UNSUPPORTED:
            continue
        entry = found.setdefault(op.name, UnsupportedOp(op.name))
        entry.count += 1
        if op.module not in entry.modules and len(entry.modules) < max_modules:
            entry.modules.append(op.module or "(root)")
        if not entry.example_shapes:
            entry.example_shapes = [list(s.shape) for s in op.inputs]
    return sorted(found.values(), key=lambda u: -u.count)
