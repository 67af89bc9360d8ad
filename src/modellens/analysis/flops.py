"""FLOP totals, per-operator tables and the list of ops no formula covers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..capture import BACKWARD, FORWARD, Capture
from ..costing.cost import FLOPS_PER_MAC, OpCost
from ..costing.registry import UNSUPPORTED


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


def totals(capture: Capture, costs: list[OpCost]) -> FlopTotals:
    sums = {FORWARD: [0, 0], BACKWARD: [0, 0]}
    for op, cost in zip(capture.ops, costs):
        pair = sums[op.phase]
        pair[0] += cost.flops
        pair[1] += cost.flops_all
    if not capture.backward:
        return FlopTotals(*sums[FORWARD])
    return FlopTotals(*sums[FORWARD], *sums[BACKWARD])


@dataclass
class OperatorStats:
    """All calls of one aten op packet in one phase."""

    name: str
    category: str
    phase: str
    count: int = 0
    flops: int = 0
    flops_all: int = 0
    bytes: int = 0

    def to_dict(self) -> dict:
        return dict(vars(self))


def by_operator(capture: Capture, costs: list[OpCost]) -> list[OperatorStats]:
    """Per (op packet, phase), largest FLOPs first."""
    table: dict[tuple[str, str], OperatorStats] = {}
    for op, cost in zip(capture.ops, costs):
        key = (op.packet, op.phase)
        stats = table.get(key)
        if stats is None:
            stats = table[key] = OperatorStats(op.packet, cost.category, op.phase)
        stats.count += 1
        stats.flops += cost.flops
        stats.flops_all += cost.flops_all
        stats.bytes += cost.bytes
    return sorted(table.values(), key=lambda s: (-s.flops, -s.flops_all, -s.bytes, s.name))


@dataclass
class UnsupportedOp:
    """An op the capture met that no FLOP convention covers: counted nowhere, shown here."""

    name: str
    count: int = 0
    modules: list[str] = field(default_factory=list)
    example_shapes: list[list[int]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(vars(self))


_MATMUL_NAME = re.compile(r"mm|matmul|conv|attention|attn|linear|einsum|gemm|bmm|dot")


def looks_like_matmul(name: str) -> bool:
    """Op names that suggest multiply-accumulate work a missing formula would undercount."""
    return bool(_MATMUL_NAME.search(name.rsplit(".", 1)[0].split(".", 1)[-1]))


def unsupported_ops(capture: Capture, costs: list[OpCost], max_modules: int = 5):
    found: dict[str, UnsupportedOp] = {}
    for op, cost in zip(capture.ops, costs):
        if cost.category != UNSUPPORTED:
            continue
        entry = found.setdefault(op.name, UnsupportedOp(op.name))
        entry.count += 1
        if op.module not in entry.modules and len(entry.modules) < max_modules:
            entry.modules.append(op.module or "(root)")
        if not entry.example_shapes:
            entry.example_shapes = [list(s.shape) for s in op.inputs]
    return sorted(found.values(), key=lambda u: -u.count)
