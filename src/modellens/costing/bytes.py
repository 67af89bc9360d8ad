"""Bytes formulas for ops that do not move their distinct inputs plus their outputs."""

from __future__ import annotations

from ..capture.records import TensorSpec
from .registry import register_bytes_formula


def distinct_bytes(specs: tuple[TensorSpec, ...]) -> int:
    """Bytes of the tensors in `specs`, each storage view counted once."""
    seen: set[tuple] = set()
    total = 0
    for spec in specs:
        key = (spec.storage, spec.shape)
        if key not in seen:
            seen.add(key)
            total += spec.nbytes
    return total


def default_bytes(inputs: tuple[TensorSpec, ...], outputs: tuple[TensorSpec, ...]
                  ) -> tuple[int, int]:
    """Every distinct input read once, every output written once."""
    return distinct_bytes(inputs), sum(o.nbytes for o in outputs)


@register_bytes_formula(["aten.embedding", "aten.index_select", "aten.index", "aten.gather",
                         "aten._unsafe_index"])
def _gather_bytes(inputs, outputs):
    """A gather reads the rows it returns and its indices, not the whole table."""
    written = sum(o.nbytes for o in outputs)
    return written + distinct_bytes(inputs[1:]), written


@register_bytes_formula(["aten.empty", "aten.empty_like", "aten.empty_strided", "aten.new_empty",
                         "aten.new_empty_strided", "aten.resize_", "aten.set_"])
def _allocation_bytes(inputs, outputs):
    """Allocating memory moves none."""
    return 0, 0


@register_bytes_formula(["aten.index_copy_", "aten.index_copy", "aten.index_put_",
                         "aten.index_put", "aten.index_add_", "aten.scatter_", "aten.scatter",
                         "aten.scatter_add_", "aten.scatter_add", "aten.slice_scatter",
                         "aten.select_scatter"])
def _partial_write_bytes(inputs, outputs):
    """Writing some rows of a tensor (a KV-cache append) moves those rows and their indices,
    not the whole destination."""
    source = inputs[-1].nbytes if len(inputs) > 1 else 0
    return distinct_bytes(inputs[1:]), source


@register_bytes_formula("aten._grouped_mm")
def _grouped_mm_bytes(inputs, outputs):
    """MoE expert GEMM: rows routed to G experts read at most min(G, rows) experts' weights."""
    a, b = inputs[0], inputs[1]
    written = sum(o.nbytes for o in outputs)
    if len(a.shape) != 2 or len(b.shape) != 3 or not b.shape[0]:
        return distinct_bytes(inputs), written
    experts_read = min(b.shape[0], a.shape[0])
    return a.nbytes + b.nbytes * experts_read // b.shape[0] + distinct_bytes(inputs[2:]), written
