"""Capture each structurally identical block once; replay its records for the others.

An 80-layer LLM repeats one decoder block. Blocks are candidates when they share a structural
signature (class, parameter shapes and dtypes, plain config attributes other than their index,
and the same for every submodule) with at least two others. The first call of a signature is
recorded as a template; the second is run too and its ops compared with the template's
(names, shapes, dtypes, attributes, relative module paths) — only when they match is equality
considered proven, and later calls with the same input signature are replayed: the template's
records are copied with module paths and tensor identities rewritten, and the block returns
fresh fake tensors of the template's output shapes. Layers that differ (sliding-window vs global
attention, dense vs MoE) have different signatures or fail verification and run normally.

With a backward, a replayed block is one autograd node whose backward is the template's, copied
in after the backward ran (see `modellens.capture.replay_grad`); fake captures only.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn
from torch.utils._pytree import tree_flatten, tree_map, tree_unflatten

from . import replay_grad
from .records import OpRecord, TensorSpec, iter_tensors, map_specs
from .recorder import _tag_autograd_graph
from .structure import structural_signatures

MIN_REPEATS = 3
# The note a replayed run of blocks leaves (how the capture was made, shown with --verbose).
NOTE = "{count} identical {cls} blocks: captured {path} once, verified on a second, replayed the rest"
_NOTE = re.compile(r"\d+ identical \S+ blocks: captured \S+ once, verified on a second, "
                   r"replayed the rest")


def is_replay_note(note: str) -> bool:
    """Whether `note` is one `summary()` wrote (a fact about the capture, not the model)."""
    return _NOTE.fullmatch(note) is not None
# Objects a block may receive and still be replayed: the same object is passed to every layer,
# and each layer only reads and writes its own slot of it (a KV cache). Matched by class name
# along the MRO, so transformers need not be imported.
STATEFUL_ARGUMENTS = {"transformers.cache_utils.Cache"}


def _is_stateful_argument(value: Any) -> bool:
    return any(f"{c.__module__}.{c.__qualname__}" in STATEFUL_ARGUMENTS for c in type(value).__mro__)


def call_signature(args: tuple, kwargs: dict) -> tuple | None:
    """Shapes/dtypes of tensor arguments and values of plain ones; None when an argument is an
    object whose state we cannot compare (then the call is never replayed)."""
    leaves, spec = tree_flatten((args, kwargs))
    key: list[Any] = [str(spec)]
    for leaf in leaves:
        if isinstance(leaf, torch.Tensor):
            key.append((tuple(leaf.shape), leaf.dtype, leaf.requires_grad))
        elif leaf is None or isinstance(leaf, (bool, int, float, str, torch.dtype)):
            key.append(leaf)
        elif _is_stateful_argument(leaf):
            key.append(("state", id(leaf)))
        else:
            return None
    return tuple(key)


@dataclass
class _Template:
    path: str
    ops: list
    input_storages: list[int]
    param_storages: list[int]
    output: Any
    submodules: dict[str, tuple[int, tuple, tuple]]  # relative path -> (calls, inputs, outputs)
    shared_calls: dict[str, int]  # modules outside the block it calls (shared ones) -> calls
    verified: bool = False
    rejected: bool = False
    replays: int = 0
    signature: list = field(default_factory=list)
    verify_path: str = ""
    grads: replay_grad.GradTemplate | None = None  # with a backward: what its backward saw


def _relative(path: str, root: str) -> str | None:
    """`path` relative to the block at `root` ("" or ".sub"); None for a module outside it (a
    module shared between blocks, such as YOLO's one SiLU, keeps its own path)."""
    if path == root or path.startswith(root + "."):
        return path[len(root):]
    return None


def _replayed_path(path: str, template_root: str, root: str) -> str:
    relative = _relative(path, template_root)
    return path if relative is None else root + relative


def _op_signature(ops: list, root: str) -> list:
    return [
        (op.name, _replayed_path(op.module, root, ""), op.phase,
         tuple((s.shape, s.dtype) for s in op.inputs),
         tuple((s.shape, s.dtype) for s in op.outputs),
         repr(op.attributes()))
        for op in ops
    ]


def _block_tensors(module: nn.Module) -> list[torch.Tensor]:
    return [t for _, t in module.named_parameters()] + [t for _, t in module.named_buffers()]


def _remap_ops(ops: list, mapping: dict[int, int], internal: set[int], template_root: str,
               root: str, ids) -> list:
    """The template's `ops` as the block at `root` ran them: module paths moved, storages
    through `mapping`; a storage the template made (`internal`) and not yet mapped gets a fresh
    id, one read from outside the block is kept."""

    def remap(value: TensorSpec) -> TensorSpec:
        storage = mapping.get(value.storage)
        if storage is None:
            if value.storage not in internal:
                return value  # read from outside the block (e.g. a parent's attribute)
            storage = mapping[value.storage] = ids.fresh(like=value.storage)
        return TensorSpec(value.shape, value.dtype, storage)

    return [OpRecord(op.name, _replayed_path(op.module, template_root, root), op.phase,
                     map_specs(op.args, remap), map_specs(op.kwargs, remap),
                     tuple(remap(s) for s in op.outputs), call=op.call)
            for op in ops]


class BlockReplay:
    """Installs per-instance forward wrappers on repeated blocks (removed by `remove`).
    With `backward`, `expand(ops)` after the backward puts the replayed blocks' backward in."""

    def __init__(self, model: nn.Module, tracker, recorder, ids, attributes,
                 backward: bool = False) -> None:
        self.backward = backward
        self.tracker = tracker
        self.recorder = recorder
        self.ids = ids
        self.templates: dict[tuple, _Template] = {}
        self._installed: list[nn.Module] = []
        signatures = structural_signatures(model, attributes)
        counts: dict[Any, int] = {}
        for module in tracker.names:
            counts[signatures[module]] = counts.get(signatures[module], 0) + 1
        chosen: set[str] = set()
        for module, path in tracker.names.items():
            if (counts[signatures[module]] < MIN_REPEATS or not module._modules
                    or not module._parameters and not any(True for _ in module.parameters())
                    or "forward" in vars(module)
                    or any(path.startswith(p + ".") for p in chosen)):
                continue
            chosen.add(path)
            module.forward = self._wrap(module, path, signatures[module], module.forward)
            self._installed.append(module)

    def expand(self, ops: list) -> list:
        """`ops` with each replayed block's backward in place (BackwardMismatch: not provable)."""
        return replay_grad.expand(ops, self.templates.values(), _op_signature,
                                  lambda *a: _remap_ops(*a, self.ids))

    def remove(self) -> None:
        for module in self._installed:
            vars(module).pop("forward", None)
        self._installed.clear()

    @property
    def replayed(self) -> int:
        return sum(t.replays for t in self.templates.values())

    def summary(self) -> list[str]:
        notes = []
        for template in self.templates.values():
            if template.replays:
                cls = self.tracker.records[template.path].class_name
                notes.append(NOTE.format(count=template.replays + 2, cls=cls,
                                         path=template.path))
        return notes

    def _wrap(self, module: nn.Module, path: str, structure: Any, original: Callable):
        def forward(*args, **kwargs):
            call = call_signature(args, kwargs)
            if call is None:
                return original(*args, **kwargs)
            key = (structure, call)
            template = self.templates.get(key)
            if template is not None and template.verified:
                return self._replay(template, module, path, args, kwargs)
            start = len(self.recorder.ops)
            records = self.tracker.records
            calls = {p: r.calls for p, r in records.items()} if template is None else {}
            output = original(*args, **kwargs)
            ops = self.recorder.ops[start:]
            if template is None:
                template = self.templates[key] = self._template(module, path, args, kwargs, ops,
                                                                output, calls)
                if self.backward:
                    self._watch_grads(template, args, kwargs, output, start)
            elif not (template.verified or template.rejected):
                same = _op_signature(ops, path) == template.signature
                template.verified, template.rejected = same, not same
                template.verify_path = path
                if template.grads is not None:
                    template.grads.verify_start = start
                    template.grads.verify_inputs = [self.ids.spec(t).storage for t in
                                                    iter_tensors((args, kwargs)) if t.requires_grad]
            return output

        return forward

    def _template(self, module, path, args, kwargs, ops, output, calls_before) -> _Template:
        records = self.tracker.records
        prefix = path + "."
        submodules = {
            _relative(p, path): (r.calls, r.input_specs, r.output_specs)
            for p, r in records.items() if p.startswith(prefix)
        }
        shared_calls = {p: r.calls - calls_before.get(p, 0) for p, r in records.items()
                        if not p.startswith(prefix) and r.calls != calls_before.get(p, 0)}
        return _Template(
            path=path,
            ops=list(ops),
            input_storages=[self.ids.spec(t).storage for t in iter_tensors((args, kwargs))],
            param_storages=[self.ids.spec(t).storage for t in _block_tensors(module)],
            output=output,
            submodules=submodules,
            shared_calls=shared_calls,
            signature=_op_signature(ops, path),
        )

    def _watch_grads(self, template: _Template, args, kwargs, output, start: int) -> None:
        """Hooks that note the grads the template's backward receives and returns; a block that
        returns one of its grad-requiring inputs is never replayed (its grad bypasses it)."""
        inputs = list(iter_tensors((args, kwargs)))
        leaves = [t for t in tree_flatten(output)[0] if isinstance(t, torch.Tensor)]
        if any(o is i and o.requires_grad for o in leaves for i in inputs):
            template.rejected = True
            return
        made = [o for o in leaves if not any(o is i for i in inputs)]
        grad_inputs = [t for t in inputs if t.requires_grad]
        template.grads = replay_grad.GradTemplate(
            replay_grad.hook_storages(made, self.ids),
            replay_grad.hook_storages(grad_inputs, self.ids),
            [self.ids.spec(t).storage for t in grad_inputs], start)

    def _replay(self, template: _Template, module, path, args, kwargs) -> Any:
        ids = self.ids
        inputs = list(iter_tensors((args, kwargs)))
        params = _block_tensors(module)
        mapping = dict(zip(template.input_storages, (ids.spec(t).storage for t in inputs)))
        mapping.update(zip(template.param_storages, (ids.spec(t).storage for t in params)))
        template_inputs = dict(zip(template.input_storages, inputs))

        def fresh(tensor: Any) -> Any:
            if not isinstance(tensor, torch.Tensor):
                return tensor
            storage = ids.spec(tensor).storage
            same = template_inputs.get(storage)
            if same is not None and same.shape == tensor.shape:
                return same  # the block returned its input
            new = torch.empty_strided(tensor.size(), tensor.stride(), dtype=tensor.dtype,
                                      device=tensor.device)
            mapping[storage] = ids.spec(new).storage
            return new

        if template.grads is not None:
            output = self._with_grad(template, path, fresh, mapping, inputs, params)
        else:
            with self.recorder.paused():
                output = tree_map(fresh, template.output)
        internal = {s.storage for op in template.ops for s in op.outputs} - set(mapping)
        self.recorder.ops.extend(_remap_ops(template.ops, mapping, internal, template.path, path,
                                            ids))
        records = self.tracker.records
        for relative, (calls, in_specs, out_specs) in template.submodules.items():
            target = records[path + relative]
            target.calls += calls
            if not target.input_specs:
                target.input_specs, target.output_specs = in_specs, out_specs
        for shared, calls in template.shared_calls.items():
            records[shared].calls += calls
        template.replays += 1
        return output

    def _with_grad(self, template: _Template, path: str, fresh: Callable, mapping: dict,
                   inputs: list, params: list) -> Any:
        """The replayed block's outputs as one autograd node (`replay_grad.ReplayedBlock`)."""
        leaves, spec = tree_flatten(template.output)
        with self.recorder.paused():
            result = [fresh(leaf) for leaf in leaves]
        made = [i for i, leaf in enumerate(leaves) if isinstance(leaf, torch.Tensor)
                and not any(result[i] is t for t in inputs)]
        grad_inputs = [t for t in inputs if t.requires_grad]
        grad_params = [t for t in params if t.requires_grad]
        marker = replay_grad.Marker(template, path, mapping,
                                    [self.ids.spec(t).storage for t in grad_inputs],
                                    len(self.recorder.ops))
        state = replay_grad.GradReplay(marker, self.recorder,
                                       self.ids, lambda: tuple(result[i] for i in made),
                                       [leaves[i].requires_grad for i in made],
                                       grad_inputs, len(grad_params))
        outputs = replay_grad.ReplayedBlock.apply(state, *grad_inputs, *grad_params)
        for i, tensor in zip(made, outputs):
            result[i] = tensor
        if set(mapping[s] for s in template.param_storages) & set(template.param_storages):
            raise replay_grad.BackwardMismatch(f"{path} shares a parameter with {template.path}")
        _tag_autograd_graph([t for t in outputs if t.requires_grad], path)
        return tree_unflatten(result, spec)


@contextlib.contextmanager
def installed(model, tracker, recorder, ids, attributes, enabled: bool, backward: bool = False):
    """BlockReplay on `model` for the duration of the block (None when disabled)."""
    if not enabled:
        yield None
        return
    replay = BlockReplay(model, tracker, recorder, ids, attributes, backward)
    try:
        yield replay
    finally:
        replay.remove()
