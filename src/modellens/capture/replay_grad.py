"""Block replay under a backward: a replayed block's backward is the template block's, recorded
once by the real backward and copied in afterwards.

A replayed block's forward returns fresh fake tensors through `ReplayedBlock`, an autograd
Function over the block's grad-requiring inputs and parameters, so autograd still reaches
everything before the block. Its backward records a `Marker` (the grads it received, the grads
it returns) and returns fresh tensors of its inputs' shapes, and no grad for its parameters (so
nothing accumulates into their `.grad`). After the whole backward, `expand` replaces each marker
with the template's backward ops — taken from the real backward of the template block, the
accumulation into its parameters' grads included — rewritten to the replayed block's tensors.
It refuses (`BackwardMismatch`, and the capture runs every block) unless the template's and the
verified second block's backward ops agree and each ran as one contiguous stretch, every grad a
replayed block returns is one the template's ops made, and no block of the group shares a
parameter or a grad-requiring input with anything outside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from .records import BACKWARD, OpRecord


class BackwardMismatch(Exception):
    """The replayed backward cannot be proven equal to running every block."""


@dataclass
class GradTemplate:
    """What the template block's real backward received and produced, seen by tensor hooks."""

    outputs: list[int | None]  # storage of the grad each differentiable output received
    inputs: list[int | None]  # storage of the total grad each grad-requiring input got
    input_storages: list[int]  # the grad-requiring inputs themselves
    start: int  # where the template's forward ops begin in the capture's ops
    verify_inputs: list[int] = field(default_factory=list)  # the same of the second block
    verify_start: int = 0


@dataclass
class Marker:
    """Where a replayed block's backward ran, until `expand` puts the template's ops there."""

    template: Any  # replay._Template
    path: str
    mapping: dict[int, int]  # the forward replay's storage map (template -> this block)
    inputs: list[int]  # storages of its grad-requiring inputs
    start: int  # where its forward ops begin in the capture's ops
    received: list[int | None] = field(default_factory=list)
    returned: list[int | None] = field(default_factory=list)
    outputs: tuple = ()  # none: a capture that fails midway leaves markers among its ops


class ReplayedBlock(torch.autograd.Function):
    """Outputs of a replayed block as one autograd node over its grad-requiring tensors."""

    @staticmethod
    def forward(ctx, state: "GradReplay", *tensors: torch.Tensor):
        ctx.set_materialize_grads(False)
        ctx.state = state
        outputs = state.make_outputs()
        ctx.mark_non_differentiable(*(o for o, d in zip(outputs, state.differentiable) if not d))
        return outputs

    @staticmethod
    def backward(ctx, *grads):
        return (None, *ctx.state.backward(grads))


class GradReplay:
    """One replayed block's part in autograd: makes its outputs, records its Marker."""

    def __init__(self, marker: Marker, recorder, ids, outputs: Callable[[], tuple],
                 differentiable: list[bool], inputs: list[torch.Tensor], params: int) -> None:
        """`inputs`: the block's grad-requiring inputs (then `params` parameters follow them
        into the Function; they get no grad)."""
        self.marker = marker
        self.params = params
        self.recorder = recorder
        self.ids = ids
        self._outputs = outputs
        self.differentiable = differentiable
        self.shapes = [(t.size(), t.stride(), t.dtype, t.device) for t in inputs]

    def make_outputs(self) -> tuple:
        return self._outputs()

    def backward(self, grads: tuple) -> list[torch.Tensor | None]:
        marker = self.marker
        marker.received = [None if g is None else self.ids.spec(g).storage for g in grads]
        with self.recorder.paused():
            returned = [torch.empty_strided(size, stride, dtype=dtype, device=device)
                        for size, stride, dtype, device in self.shapes]
        marker.returned = [self.ids.spec(t).storage for t in returned]
        self.recorder.ops.append(marker)
        return returned + [None] * self.params


def hook_storages(tensors: list[torch.Tensor], ids) -> list[int | None]:
    """A list filled, as the backward runs, with the storage of each tensor's grad (None for
    one that does not require grad, or gets none)."""
    seen: list[int | None] = [None] * len(tensors)
    for index, tensor in enumerate(tensors):
        def hook(grad, index=index):
            seen[index] = ids.spec(grad).storage
        if tensor.requires_grad:
            tensor.register_hook(hook)
    return seen


def _in_block(path: str, root: str) -> bool:
    return path == root or path.startswith(root + ".")


def _backward_of(ops: list, root: str) -> list[OpRecord]:
    """The backward ops of the block at `root`; BackwardMismatch unless they ran as one
    contiguous stretch."""
    where = [i for i, op in enumerate(ops)
             if isinstance(op, OpRecord) and op.phase == BACKWARD and _in_block(op.module, root)]
    if where and where[-1] - where[0] + 1 != len(where):
        raise BackwardMismatch(f"the backward of {root} is interleaved with other ops")
    return [ops[i] for i in where]


def expand(ops: list, templates, signature: Callable, remap_ops: Callable) -> list:
    """`ops` with every Marker replaced by its template's backward, rewritten (see module doc)."""
    markers = [op for op in ops if isinstance(op, Marker)]
    if not markers:
        return ops
    _check_inputs_private(ops, templates, markers)
    backward: dict[int, list[OpRecord]] = {}
    for template in templates:
        if template.grads is None or not template.replays:
            continue
        own = _backward_of(ops, template.path)
        second = _backward_of(ops, template.verify_path)
        if signature(own, template.path) != signature(second, template.verify_path):
            raise BackwardMismatch(f"the backward of {template.verify_path} differs from "
                                   f"{template.path}'s")
        backward[id(template)] = own
    expanded: list = []
    for op in ops:
        if isinstance(op, Marker):
            expanded.extend(_marker_ops(op, backward[id(op.template)], remap_ops))
        else:
            expanded.append(op)
    return expanded


def _check_inputs_private(ops: list, templates, markers: list[Marker]) -> None:
    """BackwardMismatch when a grad-requiring input of a block of a replayed group is read in
    the forward, once the block began, outside it: its grad then sums contributions from
    elsewhere (BART's decoder layers share the encoder's output), and the template's grad for
    it is not its own. (Reads before the block are the ops that made the input.)"""
    readers: dict[int, list[tuple[int, str]]] = {}
    for index, op in enumerate(ops):
        if isinstance(op, OpRecord) and op.phase != BACKWARD:
            for spec in op.inputs:
                readers.setdefault(spec.storage, []).append((index, op.module))
    calls = [(m.path, m.inputs, m.start) for m in markers]
    for template in templates:
        if template.grads is not None and template.replays:
            grads = template.grads
            calls += [(template.path, grads.input_storages, grads.start),
                      (template.verify_path, grads.verify_inputs, grads.verify_start)]
    for root, storages, start in calls:
        for storage in storages:
            outside = [m for i, m in readers.get(storage, ()) if i >= start
                       and not _in_block(m, root)]
            if outside:
                raise BackwardMismatch(f"an input of {root} is also read by "
                                       f"{outside[0] or 'the model'}")


def _marker_ops(marker: Marker, own: list[OpRecord], remap_ops: Callable) -> list[OpRecord]:
    """The template's backward `own` as the marker's block ran it."""
    grads = marker.template.grads
    made = {s.storage for op in own for s in op.outputs}
    mapping = dict(marker.mapping)
    if len(marker.received) != len(grads.outputs) or len(marker.returned) != len(grads.inputs):
        raise BackwardMismatch(f"{marker.path}: grads do not line up with the template's")
    for template_storage, storage in zip(grads.outputs, marker.received):
        if (template_storage is None) != (storage is None):
            raise BackwardMismatch(f"{marker.path}: its outputs got other grads than the "
                                   "template's")
        if storage is not None:
            mapping[template_storage] = storage
    for template_storage, storage in zip(grads.inputs, marker.returned):
        if template_storage is None or template_storage not in made:
            raise BackwardMismatch(f"{marker.path}: an input's grad is not the block's own")
        mapping[template_storage] = storage
    return remap_ops(own, mapping, made - set(mapping), marker.template.path, marker.path)
