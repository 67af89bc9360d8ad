"""Matmul-class FLOP formulas: torch's (`torch.utils.flop_counter`) plus the ones it lacks.

Formulas follow torch's convention: they receive the op's arguments with tensors replaced by
shapes, plus ``out_shape``, and return FLOPs. Each op declares its kind: "matmul" (mm, bmm,
addmm, grouped and vector products, the fused encoder layer), "conv" (convolutions and their
backward) or "attention" (SDPA variants, flash/efficient/cudnn/CPU-flash attention, fused
multi-head attention, flex attention). The bias adds the formulas leave out are per-element
conventions, declared here.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
import torch.utils.flop_counter as torch_flops

from .cost import FLOPS_PER_MAC
from .elementwise import OUTPUT, PerElement
from .registry import (
    ATTENTION,
    CONV,
    MATMUL,
    FlopFormula,
    packet_name,
    register_formula,
    register_op,
)

_TORCH_CONV = {"aten.convolution", "aten._convolution", "aten.cudnn_convolution",
               "aten.convolution_overrideable", "aten._slow_conv2d_forward",
               "aten.convolution_backward"}
_TORCH_ATTENTION = {
    "aten._scaled_dot_product_efficient_attention", "aten._scaled_dot_product_flash_attention",
    "aten._scaled_dot_product_cudnn_attention",
    "aten._scaled_dot_product_efficient_attention_backward",
    "aten._scaled_dot_product_flash_attention_backward",
    "aten._scaled_dot_product_cudnn_attention_backward", "aten._flash_attention_forward",
    "aten._efficient_attention_forward", "aten._flash_attention_backward",
    "aten._efficient_attention_backward", "higher_order.flex_attention",
    "higher_order.flex_attention_backward"}


def _load_torch_formulas() -> None:
    """Take torch's formulas; shape-wrapped ones are called with shapes, raw ones with meta
    tensors. Ops outside the conv and attention lists are plain matmuls (mm, bmm, addmm, ...)."""
    for op, formula in torch_flops.flop_registry.items():
        name = packet_name(op)
        inner = getattr(formula, "__wrapped__", None)
        kind = CONV if name in _TORCH_CONV else ATTENTION if name in _TORCH_ATTENTION else MATMUL
        register_op(name, category=MATMUL, kind=kind, flops=inner or formula,
                    flops_on_meta=inner is None)


def _conv_backward(grad_out, x_shape, w_shape, bias_sizes, stride, padding, dilation,
                   transposed, output_padding, groups, output_mask, *args, out_shape=None,
                   **kwargs) -> int:
    """convolution_backward, right for grouped and depthwise convolutions: grad-input and
    grad-weight each cost one forward's MACs (the forward's MACs already divide by `groups`
    through the weight's in-channels). torch's `conv_backward_flop` computes grad-weight as an
    ungrouped convolution over all input channels, `groups` times too much (ConvNeXt-T's
    backward 68.6 G instead of 17.8 G). The bias gradient (a sum over grad_out) is a
    per-element convention, not matmul-class work."""
    forward = torch_flops.conv_flop_count(x_shape, w_shape, grad_out, transposed)
    return forward * (int(bool(output_mask[0])) + int(bool(output_mask[1])))


def _bias_gradient(op: Any) -> int:
    """flops_all of convolution_backward: 1 FLOP per grad_out element for the bias gradient."""
    mask = op.args[10] if len(op.args) > 10 else ()
    return op.inputs[0].numel if len(mask) > 2 and mask[2] and op.inputs else 0


_load_torch_formulas()
register_op("aten.convolution_backward", replace=True, flops=_conv_backward,
            per_element=_bias_gradient)


# --- formulas torch lacks ------------------------------------------------------------------


def _matmul_class(ops: Any, kind: str) -> Callable[[FlopFormula], FlopFormula]:
    """Decorator: the matmul-class FLOP formula of op(s), of `kind`."""
    return register_formula("flops", ops, category=MATMUL, kind=kind)


@_matmul_class(["aten._scaled_dot_product_flash_attention_for_cpu",
                "aten._scaled_dot_product_fused_attention_overrideable"], ATTENTION)
def _sdpa(query, key, value, *args, out_shape=None, **kwargs) -> int:
    """SDPA kernels torch has no formula for: it counts the CPU one as 0 (so GPT-2 on CPU loses
    its attention FLOPs)."""
    return torch_flops.sdpa_flop_count(query, key, value)


@_matmul_class(["aten._scaled_dot_product_flash_attention_for_cpu_backward",
                "aten._scaled_dot_product_fused_attention_overrideable_backward"], ATTENTION)
def _sdpa_backward(grad_out, query, key, value, *args, out_shape=None, **kwargs) -> int:
    return torch_flops.sdpa_backward_flop_count(grad_out, query, key, value)


def _attention_core(batch: int, q_len: int, k_len: int, embed: int) -> int:
    """QKᵀ and AV of multi-head attention with total width `embed` (heads × head dim): two
    products of batch·q_len·k_len·embed MACs each."""
    return FLOPS_PER_MAC * 2 * batch * q_len * k_len * embed


@_matmul_class("aten._native_multi_head_attention", ATTENTION)
def _fused_mha(query, key, value, embed_dim, num_heads, *args, out_shape=None, **kwargs) -> int:
    """nn.MultiheadAttention's eval fast path: q/k/v projections, attention, out projection."""
    batched = len(query) == 3
    batch = query[0] if batched else 1
    q_len, k_len = query[-2], key[-2]
    projections = FLOPS_PER_MAC * batch * embed_dim * embed_dim * (q_len + 2 * k_len)
    out_projection = FLOPS_PER_MAC * batch * q_len * embed_dim * embed_dim
    return projections + _attention_core(batch, q_len, k_len, embed_dim) + out_projection


@_matmul_class("aten._transformer_encoder_layer_fwd", MATMUL)
def _fused_encoder_layer(src, embed_dim, num_heads, qkv_weight, qkv_bias, proj_weight, proj_bias,
                         use_gelu, norm_first, eps, norm_weight_1, norm_bias_1, norm_weight_2,
                         norm_bias_2, ffn_weight_1, ffn_bias_1, ffn_weight_2, *args,
                         out_shape=None, **kwargs) -> int:
    """nn.TransformerEncoderLayer's eval fast path: self-attention block plus the FFN's two
    linears (kind "matmul": its projections and FFN outweigh the attention core)."""
    batch = src[0] if len(src) == 3 else 1
    tokens = src[-2]
    ff_dim = ffn_weight_1[0]
    attention = _fused_mha(src, src, src, embed_dim, num_heads)
    ffn = FLOPS_PER_MAC * 2 * batch * tokens * embed_dim * ff_dim
    return attention + ffn


@_matmul_class("aten._grouped_mm", MATMUL)
def _grouped_mm(a, b, *args, out_shape=None, **kwargs) -> int:
    """MoE expert GEMMs: a [tokens, K] or [groups, M, K] against b [groups, K, N]."""
    n = b[-1]
    if len(a) == 2 and len(b) == 3:
        return FLOPS_PER_MAC * a[0] * a[1] * n
    if len(a) == 3:
        return FLOPS_PER_MAC * a[0] * a[1] * a[2] * n
    return FLOPS_PER_MAC * math.prod(out_shape) * a[-1]


@_matmul_class(["aten.mv", "aten.addmv"], MATMUL)
def _matrix_vector(*shapes, out_shape=None, **kwargs) -> int:
    matrix = next(s for s in shapes if isinstance(s, (tuple, torch.Size)) and len(s) == 2)
    return FLOPS_PER_MAC * matrix[0] * matrix[1]


@_matmul_class(["aten.dot", "aten.vdot"], MATMUL)
def _dot(a, b, *args, out_shape=None, **kwargs) -> int:
    return FLOPS_PER_MAC * a[0]


@_matmul_class("aten.addbmm", MATMUL)
def _addbmm(self_shape, a, b, *args, out_shape=None, **kwargs) -> int:
    return FLOPS_PER_MAC * a[0] * a[1] * a[2] * b[2]


@_matmul_class(["aten._int_mm", "aten._weight_int8pack_mm"], MATMUL)
def _int_mm(a, b, *args, out_shape=None, **kwargs) -> int:
    return FLOPS_PER_MAC * a[0] * a[1] * out_shape[-1]


@_matmul_class("aten._addmm_activation", MATMUL)
def _addmm_activation(self_shape, a, b, *args, out_shape=None, **kwargs) -> int:
    return FLOPS_PER_MAC * a[0] * a[1] * b[1]


# --- bias adds (flops_all): 1 FLOP per output element ----------------------------------------

register_op(["aten.addmm", "aten.baddbmm", "aten.addbmm", "aten.addmv"], per_element=PerElement(1))
register_op("aten.convolution", per_element=PerElement(0, OUTPUT, optional_arg=2, optional=1))
