"""The matmul-class FLOP formula registry: one dict from aten op packet name to formula.

It starts from `torch.utils.flop_counter`'s formulas (mm, bmm, addmm, convolution, SDPA, ...)
and adds the ones torch lacks (CPU flash attention, fused multi-head attention, grouped mm,
vector products). Formulas follow torch's convention: they receive the op's arguments with
tensors replaced by shapes, plus ``out_shape``; they return FLOPs (1 MAC = 2 FLOPs).

Register your own with `register_flop_formula`:

    @modellens.register_flop_formula("mylib.fused_gemm")
    def fused_gemm(a_shape, b_shape, *args, out_shape=None, **kwargs):
        return 2 * a_shape[0] * a_shape[1] * b_shape[1]
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Callable

import torch
import torch.utils.flop_counter as torch_flops
from torch.utils._pytree import tree_map

from ..capture.records import TensorSpec

Formula = Callable[..., int]

_FORMULAS: dict[str, tuple[Formula, bool]] = {}  # packet name -> (formula, takes_shapes)


def _packet_name(op: Any) -> str:
    """Accept 'aten.mm', 'aten::mm', torch.ops.aten.mm, torch.ops.aten.mm.default, or a
    higher-order operator (recorded as 'higher_order.<name>')."""
    if isinstance(op, str):
        return op.replace("::", ".")
    if isinstance(op, torch._ops.OpOverload):
        return str(op.overloadpacket)
    if isinstance(op, torch._ops.HigherOrderOperator):
        return f"higher_order.{op.name()}"
    return str(op)


def register_flop_formula(
    ops: Any, *, replace: bool = False
) -> Callable[[Formula], Formula]:
    """Decorator: register `formula(*shapes, out_shape=..., **kwargs) -> FLOPs` for op(s).

    `ops` is an op or a list of ops (name strings like "aten.mm" / "mylib::my_op", packets or
    overloads). Registering an op twice is an error unless `replace=True`.
    """
    targets = ops if isinstance(ops, (list, tuple)) else [ops]

    def decorate(formula: Formula) -> Formula:
        for op in targets:
            name = _packet_name(op)
            if name in _FORMULAS and not replace:
                raise ValueError(f"a FLOP formula for {name} is already registered")
            _FORMULAS[name] = (formula, True)
        return formula

    return decorate


def unregister_flop_formula(op: Any) -> None:
    _FORMULAS.pop(_packet_name(op), None)


def has_formula(packet: str) -> bool:
    return packet in _FORMULAS


def matmul_flops(packet: str, args: tuple, kwargs: dict, outputs: tuple[TensorSpec, ...]) -> int:
    """FLOPs of one matmul-class op call (0 when the op has no formula)."""
    entry = _FORMULAS.get(packet)
    if entry is None:
        return 0
    formula, takes_shapes = entry
    if takes_shapes:
        to_shape = lambda v: v.shape if isinstance(v, TensorSpec) else v
        out = tuple(o.shape for o in outputs)
        args, kwargs = tree_map(to_shape, (args, kwargs))
    else:
        to_meta = lambda v: _meta(v.shape, v.dtype) if isinstance(v, TensorSpec) else v
        out = tuple(_meta(o.shape, o.dtype) for o in outputs)
        args, kwargs = tree_map(to_meta, (args, kwargs))
    if packet == "aten.convolution_backward":  # outputs absent from output_mask are None
        filled = iter(out)
        out = tuple(next(filled) if wanted else None for wanted in args[10])
    out_value = out[0] if len(out) == 1 else out
    return int(formula(*args, out_shape=out_value, **kwargs) if takes_shapes else formula(
        *args, out_val=out_value, **kwargs
    ))


@lru_cache(maxsize=4096)
def _meta(shape: tuple[int, ...], dtype: str) -> torch.Tensor:
    return torch.empty(shape, dtype=getattr(torch, dtype, torch.float32), device="meta")


def _load_torch_formulas() -> None:
    """Take torch's formulas; shape-wrapped ones are called with shapes, raw ones with meta
    tensors."""
    for op, formula in torch_flops.flop_registry.items():
        name = _packet_name(op)
        inner = getattr(formula, "__wrapped__", None)
        _FORMULAS[name] = (inner, True) if inner is not None else (formula, False)


_load_torch_formulas()


# --- formulas torch lacks ------------------------------------------------------------------


@register_flop_formula("aten._scaled_dot_product_flash_attention_for_cpu")
def _cpu_flash_attention(query, key, value, *args, out_shape=None, **kwargs) -> int:
    """CPU SDPA kernel; torch counts it as 0 (so GPT-2 on CPU loses its attention FLOPs)."""
    return torch_flops.sdpa_flop_count(query, key, value)


@register_flop_formula(
    [
        "aten._scaled_dot_product_flash_attention_for_cpu_backward",
    ]
)
def _cpu_flash_attention_backward(grad_out, query, key, value, *args, out_shape=None, **kwargs):
    return torch_flops.sdpa_backward_flop_count(grad_out, query, key, value)


@register_flop_formula("aten._scaled_dot_product_fused_attention_overrideable")
def _overrideable_attention(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return torch_flops.sdpa_flop_count(query, key, value)


@register_flop_formula("aten._scaled_dot_product_fused_attention_overrideable_backward")
def _overrideable_attention_backward(grad_out, query, key, value, *args, out_shape=None, **kw):
    return torch_flops.sdpa_backward_flop_count(grad_out, query, key, value)


def _attention_core(batch: int, q_len: int, k_len: int, embed: int) -> int:
    """QKᵀ and AV of multi-head attention with total width `embed` (heads × head dim)."""
    return 2 * (2 * batch * q_len * k_len * embed)


@register_flop_formula("aten._native_multi_head_attention")
def _fused_mha(query, key, value, embed_dim, num_heads, *args, out_shape=None, **kwargs) -> int:
    """nn.MultiheadAttention's eval fast path: q/k/v projections, attention, out projection."""
    batched = len(query) == 3
    batch = query[0] if batched else 1
    q_len, k_len = query[-2], key[-2]
    projections = 2 * batch * embed_dim * embed_dim * (q_len + 2 * k_len)
    out_projection = 2 * batch * q_len * embed_dim * embed_dim
    return projections + _attention_core(batch, q_len, k_len, embed_dim) + out_projection


@register_flop_formula("aten._transformer_encoder_layer_fwd")
def _fused_encoder_layer(src, embed_dim, num_heads, qkv_weight, qkv_bias, proj_weight, proj_bias,
                         use_gelu, norm_first, eps, norm_weight_1, norm_bias_1, norm_weight_2,
                         norm_bias_2, ffn_weight_1, ffn_bias_1, ffn_weight_2, *args,
                         out_shape=None, **kwargs) -> int:
    """nn.TransformerEncoderLayer's eval fast path: self-attention block plus the FFN."""
    batch = src[0] if len(src) == 3 else 1
    tokens = src[-2]
    ff_dim = ffn_weight_1[0]
    attention = _fused_mha(src, src, src, embed_dim, num_heads)
    ffn = 2 * 2 * batch * tokens * embed_dim * ff_dim
    return attention + ffn


@register_flop_formula("aten._grouped_mm")
def _grouped_mm(a, b, *args, out_shape=None, **kwargs) -> int:
    """MoE expert GEMMs: a [tokens, K] or [groups, M, K] against b [groups, K, N]."""
    n = b[-1]
    if len(a) == 2 and len(b) == 3:
        return 2 * a[0] * a[1] * n
    if len(a) == 3:
        return 2 * a[0] * a[1] * a[2] * n
    return 2 * math.prod(out_shape) * a[-1]


@register_flop_formula(["aten.mv", "aten.addmv"])
def _matrix_vector(*shapes, out_shape=None, **kwargs) -> int:
    matrix = next(s for s in shapes if isinstance(s, (tuple, torch.Size)) and len(s) == 2)
    return 2 * matrix[0] * matrix[1]


@register_flop_formula(["aten.dot", "aten.vdot"])
def _dot(a, b, *args, out_shape=None, **kwargs) -> int:
    return 2 * a[0]


@register_flop_formula("aten.addbmm")
def _addbmm(self_shape, a, b, *args, out_shape=None, **kwargs) -> int:
    return 2 * a[0] * a[1] * a[2] * b[2]


@register_flop_formula(["aten._int_mm", "aten._weight_int8pack_mm"])
def _int_mm(a, b, *args, out_shape=None, **kwargs) -> int:
    return 2 * a[0] * a[1] * out_shape[-1]


@register_flop_formula("aten._addmm_activation")
def _addmm_activation(self_shape, a, b, *args, out_shape=None, **kwargs) -> int:
    return 2 * a[0] * a[1] * b[1]
