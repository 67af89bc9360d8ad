"""Fused execution: the kernels a compiler or a serving engine runs for a captured forward.

Eager PyTorch runs every aten op as its own kernel, each reading its inputs from memory and
writing its output back. A compiler (`torch.compile`'s inductor) or an LLM serving engine
(TensorRT-LLM, vLLM, lmdeploy) fuses the pointwise, normalization and reduction ops between two
matrix ops into one kernel that reads what enters from outside and writes what is used later:
RMSNorm's eight eager ops become one kernel, rotary embedding and the KV-cache write another,
SiLU-and-multiply another. Matrix-class ops (matmul, conv, attention) stay kernels of their own.

`fusion_groups` splits a phase's ops into such kernels: maximal runs of consecutive timed
non-matrix ops (views between them take no time and do not break a run). A group's bytes are
the distinct storages its ops read that it did not produce, plus the storages it writes that an
op after it reads (or that nothing reads again: model outputs, cache writes), each counted once.
No op is charged more than it moves alone. A group of one op is that op, unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..capture import OpRecord
from ..costing.cost import OpCost
from ..hardware.timemodel import MATRIX_CLASSES_NAMES

EAGER, FUSED = "eager", "fused"
EXECUTIONS = (EAGER, FUSED)


@dataclass
class FusionGroup:
    """One fused kernel: the indexes of its ops (into the list given to `fusion_groups`) and,
    per op, the bytes it is charged (the storages it first reads from outside, the storages it
    writes that escape)."""

    members: list[int] = field(default_factory=list)
    charged_bytes: dict[int, int] = field(default_factory=dict)

    @property
    def bytes(self) -> int:
        return sum(self.charged_bytes.values())


def fusion_groups(ops: list[tuple[OpRecord, OpCost, str]]) -> list[FusionGroup]:
    """Fused kernels of `ops` ((op, cost, op class) in order; class '' for ops that take no
    time), covering every timed op exactly once."""
    last_read = _last_reads(ops)
    groups: list[FusionGroup] = []
    run: list[int] = []

    def close() -> None:
        if run:
            groups.append(_group(ops, run, last_read))
            run.clear()

    for index, (_, _, op_class) in enumerate(ops):
        if not op_class:
            continue  # a view: free, and no fusion boundary
        if op_class in MATRIX_CLASSES_NAMES:
            close()
            groups.append(FusionGroup([index], {index: ops[index][1].bytes}))
        else:
            run.append(index)
    close()
    return groups


def _last_reads(ops: list[tuple[OpRecord, OpCost, str]]) -> dict[int, int]:
    """Storage -> index of the last op that reads it."""
    last: dict[int, int] = {}
    for index, (op, _, _) in enumerate(ops):
        for spec in op.inputs:
            last[spec.storage] = index
    return last


def _group(ops: list[tuple[OpRecord, OpCost, str]], members: list[int],
           last_read: dict[int, int]) -> FusionGroup:
    if len(members) == 1:
        return FusionGroup(list(members), {members[0]: ops[members[0]][1].bytes})
    end = members[-1]
    produced: set[int] = set()
    read: set[int] = set()
    charged = dict.fromkeys(members, 0)
    for index in members:
        op = ops[index][0]
        for spec in op.inputs:
            if spec.storage not in produced and spec.storage not in read:
                read.add(spec.storage)
                charged[index] += spec.nbytes
        for spec in op.outputs:
            if spec.storage in produced:
                continue
            produced.add(spec.storage)
            if last_read.get(spec.storage, -1) > end or spec.storage not in last_read:
                charged[index] += spec.nbytes
    # never more than the op moves alone: an in-place write into a large buffer (a KV-cache
    # update) moves the slice its cost formula says, not the buffer
    return FusionGroup(list(members), {i: min(b, ops[i][1].bytes) for i, b in charged.items()})
