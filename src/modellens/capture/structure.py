"""THE structural signature of a module: its class, its plain config attributes other than those
that only say where it sits (`IGNORED_ATTRIBUTES`), its own parameters and buffers (local name,
shape, dtype, requires_grad), and the same for every submodule by local name. Block replay (from
live modules), unique modules and the report's tree merge (from a Capture's records) all decide
"same module" with it; the latter two add per-module facts of their own (call shapes, figures)
through `extra`, applied at every level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterable

from ..dtypes import dtype_name

if TYPE_CHECKING:
    from torch import nn

    from .records import Capture, ModuleRecord, ParamRecord

# Attributes that name a module's place, not its computation: equal blocks differ only in these.
# Code that branches on them is caught by replay's verification.
IGNORED_ATTRIBUTES = frozenset({
    "layer_idx", "layer_id", "layer_index", "layer_number", "layer_num", "block_idx",
    "block_id", "block_index", "stage_idx", "idx", "index", "name", "name_or_path",
    "gradient_checkpointing", "loss_type", "kernel_config",
})

Tensor = tuple[str, tuple[int, ...], str, bool]  # local name, shape, dtype, requires_grad


def configuration(attributes: dict[str, Any]) -> dict[str, Any]:
    """A module's config attributes without those that only say where it sits."""
    return {k: v for k, v in attributes.items() if k not in IGNORED_ATTRIBUTES}


def signature_key(type_name: str, attributes: dict[str, Any], tensors: Iterable[Tensor],
                  children: Iterable[tuple[str, int]], extra: Hashable = None) -> tuple:
    """THE rule: what makes two modules the same, given their children's signatures."""
    config = tuple(sorted((k, repr(v)) for k, v in configuration(attributes).items()))
    return (type_name, config, tuple(tensors), tuple(children), extra)


def type_name(module: nn.Module) -> str:
    """Fully qualified class name, as ModuleRecord.type_name has it."""
    return f"{type(module).__module__}.{type(module).__qualname__}"


def structural_signatures(model: nn.Module,
                          attributes: Callable[[nn.Module], dict]) -> dict[nn.Module, int]:
    """Live module -> small int equal exactly for structurally identical modules (block replay)."""
    interned: dict[tuple, int] = {}
    signatures: dict[nn.Module, int] = {}

    def signature(module: nn.Module) -> int:
        if module in signatures:
            return signatures[module]
        tensors = [(name, tuple(t.shape), dtype_name(t.dtype), bool(t.requires_grad))
                   for name, t in [*module._parameters.items(), *module._buffers.items()]
                   if t is not None]
        children = [(name, signature(child)) for name, child in module._modules.items()
                    if child is not None]
        key = signature_key(type_name(module), attributes(module), tensors, children)
        signatures[module] = interned.setdefault(key, len(interned))
        return signatures[module]

    signature(model)
    return signatures


def own_params(capture: Capture) -> dict[str, list[tuple[str, ParamRecord]]]:
    """module path -> [(local name, record)] of the parameters and buffers it holds (tied names
    included at every owner)."""
    owned: dict[str, list[tuple[str, ParamRecord]]] = {}
    for param in capture.params:
        for name in (param.name, *param.aliases):
            owner, _, local = name.rpartition(".")
            owned.setdefault(owner, []).append((local, param))
    return owned


def module_signatures(capture: Capture,
                      extra: Callable[[ModuleRecord], Hashable] | None = None) -> dict[str, int]:
    """Module path -> small int equal exactly for structurally identical modules whose `extra`
    facts (if given) are equal too, at every level of their subtrees."""
    children: dict[str, list[str]] = {}
    for path, record in capture.modules.items():
        if record.parent is not None:
            children.setdefault(record.parent, []).append(path)
    tensors = {path: [(local, p.shape, p.dtype, p.requires_grad) for local, p in owned]
               for path, owned in own_params(capture).items()}
    interned: dict[tuple, int] = {}
    keys: dict[str, int] = {}
    for path in reversed(capture.modules):  # tree order reversed: children before parents
        record = capture.modules[path]
        key = signature_key(
            record.type_name, record.attributes, tensors.get(path, ()),
            [(child.rpartition(".")[2], keys[child]) for child in children.get(path, ())],
            extra(record) if extra is not None else None)
        keys[path] = interned.setdefault(key, len(interned))
    return keys


def call_specs(record: ModuleRecord) -> tuple:
    """What flowed through a module on its first call: input and output shapes and dtypes."""
    return (tuple((s.shape, s.dtype) for s in record.input_specs),
            tuple((s.shape, s.dtype) for s in record.output_specs))
