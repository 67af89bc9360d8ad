"""A hashable key of everything an op's cost and time depend on: its name, its non-tensor
arguments, and the shapes and dtypes of its tensors with which of them share storage (numbered
by first appearance, so the same op in two replayed layers has the same key). Not its module,
phase or storage ids: an 80-layer model has the ops of a few layers' worth of distinct keys, and
analyses compute each cost and time once per key (`costing.cost.op_costs`,
`analysis.roofline.time_ops`)."""

from __future__ import annotations

from typing import Any, Hashable

from .records import OpRecord, TensorSpec


def op_key(op: OpRecord) -> Hashable:
    local: dict[int, int] = {}

    def freeze(tree: Any) -> Any:
        kind = type(tree)
        if kind is TensorSpec:
            return (tree.shape, tree.dtype, local.setdefault(tree.storage, len(local)))
        if kind is tuple or kind is list:
            return (kind.__name__, *[freeze(item) for item in tree])
        if kind is dict:
            return ("dict", *[(key, freeze(item)) for key, item in tree.items()])
        return tree

    return (op.name, freeze(op.args), freeze(op.kwargs), freeze(op.outputs))


def op_keys(ops: list[OpRecord]) -> list[Hashable]:
    return [op_key(op) for op in ops]
