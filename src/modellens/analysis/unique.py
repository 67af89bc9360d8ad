"""Unique modules and unique ops of one capture: what a compiler or new-hardware team must support.

Modules. Two modules are the same kernel when they have the same structural signature
(`capture.structure`: class, configuration -- `parameters`, the module's plain attributes minus
identity bookkeeping such as HF's `layer_idx` --, own weight shapes and dtypes, children by name)
and the same input and output shapes and dtypes (first call), at every level of their subtrees.
Every level is kept, containers included.

Ops. The capture records aten ops. The ``torch`` level names them as users call them (see
`op_names`): a call of a ``torch.nn`` leaf module whose forward is one functional (Linear,
Conv2d, BatchNorm2d, ReLU, ...) becomes that one call (``torch.nn.functional.linear``,
``torch.conv2d``) with the module's config as attributes, whatever aten ops it lowered to; every
other aten op takes the name of the public torch function it implements (``torch.add``,
``torch.Tensor.view``). Composite calls in model code (``x @ w``, ``einsum``, ``F.interpolate``,
a custom autograd.Function) show as the call itself when the capture recorded torch-level calls
(`analysis.torch_calls`), else as the ops they lower to.
The ``aten`` level keeps every forward aten op under its overload name. An op is unique by name,
attributes and input/output shapes and dtypes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..capture import Capture, ModuleRecord, OpRecord
from ..capture.records import TensorSpec
from ..capture.structure import call_specs, configuration, module_signatures, own_params
from ..io import JsonRecord, to_jsonable
from .op_names import INTERNAL, leaf_function, signature_names, torch_name
from .torch_calls import function_call

LEVELS = ("torch", "aten")
ROOT = "(root)"

_TENSOR_ARGUMENTS = frozenset({"input", "weight", "bias", "running_mean", "running_var"})


# --------------------------------------------------------------------------------------------
# Modules


@dataclass
class UniqueModule(JsonRecord):
    """One distinct module kernel and every path where it occurs (seed-002 `modules` entry)."""

    id: str
    class_name: str
    module_path: str  # first occurrence, "(root)" for the root
    parent: str | None  # None for the root, "(root)" for top-level modules
    input_shapes: list[str]
    output_shapes: list[str]
    input_dtypes: list[str]
    output_dtypes: list[str]
    parameters: dict[str, Any]
    occurrences: list[str]
    type_name: str = ""  # fully qualified class
    weights: dict[str, dict[str, str]] = field(default_factory=dict)  # own params and buffers


def display_path(path: str) -> str:
    """Capture path -> seed path: '' is '(root)'."""
    return path or ROOT


def own_weights(capture: Capture) -> dict[str, list[tuple[str, TensorSpec]]]:
    """module path -> [(local name, spec)] of the parameters and buffers it holds (tied names
    included at every owner)."""
    return {path: [(local, p.spec) for local, p in owned]
            for path, owned in own_params(capture).items()}


def unique_modules(capture: Capture) -> list[UniqueModule]:
    """Distinct modules in tree order of first occurrence; ids mod_000, mod_001, ..."""
    keys = module_signatures(capture, call_specs)
    weights = own_weights(capture)
    by_key: dict[int, UniqueModule] = {}
    for path, record in capture.modules.items():
        entry = by_key.get(keys[path])
        if entry is not None:
            entry.occurrences.append(display_path(path))
            continue
        by_key[keys[path]] = UniqueModule(
            id=f"mod_{len(by_key):03d}",
            class_name=record.class_name,
            module_path=display_path(path),
            parent=None if record.parent is None else display_path(record.parent),
            input_shapes=[s.shape_str() for s in record.input_specs],
            output_shapes=[s.shape_str() for s in record.output_specs],
            input_dtypes=[s.dtype for s in record.input_specs],
            output_dtypes=[s.dtype for s in record.output_specs],
            parameters=configuration(record.attributes),
            occurrences=[display_path(path)],
            type_name=record.type_name,
            weights={n: spec_dict(s) for n, s in weights.get(path, [])},
        )
    return list(by_key.values())


# --------------------------------------------------------------------------------------------
# Op calls at the torch or aten level


@dataclass(frozen=True)
class OpCall:
    """One op call of the forward pass, at the chosen level."""

    name: str
    module: str  # innermost module path
    attributes: dict[str, Any]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    aten: tuple[str, ...]  # the aten ops it ran as


def op_calls(capture: Capture, level: str = "torch") -> list[OpCall]:
    """The forward pass as a list of op calls at `level` ("torch" or "aten")."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    ops = capture.forward_ops()
    if level == "aten":
        return [OpCall(op.name, op.module, op.attributes(), op.inputs, op.outputs, (op.name,))
                for op in ops]
    weights = own_weights(capture)
    parents = {r.parent for r in capture.modules.values()}
    called: set[str] = set()
    calls: list[OpCall] = []
    i = 0
    while i < len(ops):
        record = capture.modules.get(ops[i].module)
        function = leaf_function(record) if record is not None else None
        if function is None and ops[i].call is not None:  # a recorded torch-level call
            end = i
            while (end < len(ops) and ops[end].call is ops[i].call
                   and ops[end].module == ops[i].module):
                end += 1
            calls.append(function_call(ops[i].call, ops[i].module, ops[i:end]))
            i = end
            continue
        if function is None:
            call = torch_call(ops[i])
            if call is not None:
                calls.append(call)
            i += 1
            continue
        end = i
        while end < len(ops) and ops[end].module == ops[i].module:
            end += 1
        first = record.path not in called
        called.add(record.path)
        used = _weights_used_by(record.path, weights, parents)
        calls.append(_leaf_call(function, record, ops[i:end], used, first))
        i = end
    return calls


def _weights_used_by(path: str, weights: dict[str, list[tuple[str, TensorSpec]]],
                     parents: set[str | None]) -> list[tuple[str, TensorSpec]]:
    """A module's own weights, then its descendants' (MultiheadAttention reads out_proj's)."""
    if path not in parents:
        return weights.get(path, [])
    prefix = path + "."
    return [w for owner, ws in weights.items() if owner == path or owner.startswith(prefix)
            for w in ws]


def _leaf_call(function: str, record: ModuleRecord, ops: list[OpRecord],
               weights: list[tuple[str, TensorSpec]], first_call: bool) -> OpCall:
    """One call of a functional leaf module: its tensor arguments, then the weights it used in
    definition order; its final output; its config as attributes. The first call's arguments
    are the module's recorded inputs; a later call's are the tensors its ops read that none of
    them produced."""
    external: list[TensorSpec] = []
    seen: set[int] = set()
    for op in ops:
        for spec in op.inputs:
            if spec.storage not in seen:
                seen.add(spec.storage)
                external.append(spec)
        seen.update(s.storage for s in op.outputs)
    used: list[TensorSpec] = []
    for _, spec in weights:
        match = next((s for s in external if (s.shape, s.dtype) == (spec.shape, spec.dtype)), None)
        if match is not None:
            external.remove(match)
            used.append(match)
    if first_call:
        external = list(record.input_specs)
    names = signature_names(function) or ()
    attributes = {k: v for k, v in record.attributes.items()
                  if k in names and k not in _TENSOR_ARGUMENTS}
    return OpCall(function, record.path, attributes, tuple(external + used),
                  ops[-1].outputs[:1], tuple(dict.fromkeys(op.name for op in ops)))


def torch_call(op: OpRecord) -> OpCall | None:
    """An aten op outside functional leaves, under its torch name (None for bookkeeping ops)."""
    if op.packet in INTERNAL:
        return None
    name, renamed = torch_name(op)
    attributes = op.attributes()
    outputs = op.outputs
    if renamed:
        names = signature_names(name)
        if names is not None:
            attributes = {k: v for k, v in attributes.items() if k in names}
        outputs = outputs[:1]
    return OpCall(name, op.module, attributes, op.inputs, outputs, (op.name,))


# --------------------------------------------------------------------------------------------
# Unique ops


@dataclass
class UniqueOp(JsonRecord):
    """One distinct op (name, attributes, tensor types) and where it runs (seed-002 `ops` entry)."""

    id: str
    op_name: str
    source_module_id: str
    source_module_class: str
    attributes: dict[str, Any]
    tensor_types: dict[str, Any]
    occurrences: list[dict[str, str]]
    aten_ops: list[str] = field(default_factory=list)  # what it runs as


def unique_ops(calls: list[OpCall], module_ids: dict[str, str],
               module_classes: dict[str, str]) -> list[UniqueOp]:
    """Distinct op calls in order of first call. `module_ids` maps a module path to its unique
    module id, `module_classes` to its class name. Node names follow torch.fx: conv2d, conv2d_1."""
    by_key: dict[str, UniqueOp] = {}
    counters: dict[str, int] = {}
    for call in calls:
        short = node_base(call.name)
        count = counters.get(short, 0)
        counters[short] = count + 1
        occurrence = {"source_module_id": module_ids[call.module],
                      "node_name": short if count == 0 else f"{short}_{count}",
                      "module_path": display_path(call.module)}
        types = tensor_types(call)
        attributes = to_jsonable(call.attributes)
        key = json.dumps([call.name, attributes, types], sort_keys=True)
        entry = by_key.get(key)
        if entry is None:
            entry = by_key[key] = UniqueOp(
                id=f"op_{len(by_key):03d}",
                op_name=call.name,
                source_module_id=module_ids[call.module],
                source_module_class=module_classes[call.module],
                attributes=attributes,
                tensor_types=types,
                occurrences=[],
                aten_ops=list(call.aten),
            )
        entry.occurrences.append(occurrence)
    return list(by_key.values())


def node_base(name: str) -> str:
    """'torch.conv2d' -> 'conv2d', 'aten.add.Tensor' -> 'add', 'torch.Tensor.__getitem__' ->
    'getitem' (torch.fx's node names)."""
    function = name.split(".")[1] if name.startswith("aten.") else name.rpartition(".")[2]
    return function.strip("_") or function


def tensor_types(call: OpCall) -> dict[str, Any]:
    """{"inputs": [...], "output": first output or None} (+ "outputs" when there are several)."""
    types: dict[str, Any] = {
        "inputs": [spec_dict(s) for s in call.inputs],
        "output": spec_dict(call.outputs[0]) if call.outputs else None,
    }
    if len(call.outputs) > 1:
        types["outputs"] = [spec_dict(s) for s in call.outputs]
    return types


def spec_dict(spec: TensorSpec) -> dict[str, str]:
    return {"shape": spec.shape_str(), "dtype": spec.dtype}


# --------------------------------------------------------------------------------------------
# Backend support


@dataclass
class MissingOp(JsonRecord):
    """An op name a backend lacks: its variants, how often it runs and which modules use it."""

    op_name: str
    op_ids: list[str]
    occurrences: int
    missing_aten_ops: list[str]
    modules: list[dict[str, str]]  # {"id", "class_name"} of every unique module that calls it


def normalize_op_name(name: str) -> str:
    """'aten::addmm' -> 'aten.addmm'; surrounding space dropped."""
    return name.strip().replace("::", ".")


def is_supported(name: str, supported: frozenset[str]) -> bool:
    """Listed under its full name, or for an aten overload ('aten.add.Tensor') its packet."""
    if name in supported:
        return True
    return name.startswith("aten.") and name.count(".") >= 2 and name.rsplit(".", 1)[0] in supported


def missing_ops(ops: list[UniqueOp], supported: Iterable[str],
                module_classes: dict[str, str]) -> list[MissingOp]:
    """Unique ops a backend lacks, by op name, most frequent first. An op is supported when its
    name is listed or every aten op it runs as is listed (so aten-level lists work for both
    levels). `module_classes` maps a unique module id to its class name."""
    listed = frozenset(normalize_op_name(s) for s in supported)
    missing: dict[str, MissingOp] = {}
    for op in ops:
        absent_aten = [a for a in op.aten_ops if not is_supported(a, listed)]
        if is_supported(op.op_name, listed) or not absent_aten:
            continue
        entry = missing.setdefault(op.op_name, MissingOp(op.op_name, [], 0, [], []))
        entry.op_ids.append(op.id)
        entry.occurrences += len(op.occurrences)
        for name in absent_aten:
            if name not in entry.missing_aten_ops:
                entry.missing_aten_ops.append(name)
        known = {m["id"] for m in entry.modules}
        for module_id in dict.fromkeys(o["source_module_id"] for o in op.occurrences):
            if module_id not in known:
                entry.modules.append({"id": module_id, "class_name": module_classes[module_id]})
    return sorted(missing.values(), key=lambda m: -m.occurrences)
