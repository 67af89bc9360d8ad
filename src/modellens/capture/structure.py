"""THE structural signature of a module: class, parameter shapes and dtypes, plain config
attributes other than a layer index, and the same for every submodule. Block replay, unique
modules and the report's tree merge all decide "same module" with it."""

from __future__ import annotations

from typing import Any, Callable

from torch import nn

# Attributes that only number a layer; code that branches on them is caught by verification.
INDEX_ATTRIBUTES = {"layer_idx", "layer_id", "layer_index", "layer_number", "block_idx", "idx"}


def structural_signatures(model: nn.Module, attributes: Callable[[nn.Module], dict]) -> dict:
    """Module -> hashable signature of its structure (recursively)."""
    signatures: dict[nn.Module, Any] = {}

    def signature(module: nn.Module):
        if module in signatures:
            return signatures[module]
        tensors = tuple(
            (name, tuple(t.shape), str(t.dtype), bool(t.requires_grad))
            for name, t in list(module._parameters.items()) + list(module._buffers.items())
            if t is not None
        )
        attrs = tuple(sorted(
            (k, repr(v)) for k, v in attributes(module).items() if k not in INDEX_ATTRIBUTES
        ))
        children = tuple((name, signature(child)) for name, child in module._modules.items()
                         if child is not None)
        signatures[module] = hash((type(module), tensors, attrs, children))
        return signatures[module]

    signature(model)
    return signatures
