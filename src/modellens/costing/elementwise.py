"""What kind of work each aten op does, and its per-element FLOP convention.

Categories:
  matmul       mm/bmm/addmm/conv/attention: counted by `formulas` (the headline `forward`)
  elementwise  pointwise arithmetic and activations: 1 FLOP per output element
  reduction    sum/mean/max/var/...: 1 FLOP per input element
  softmax      5 FLOPs per element forward (max, subtract, exp, sum, divide), 4 backward
  norm         layer/group/batch norm: 5 FLOPs per element (+2 with affine weight and bias),
               batch norm in eval 2 (+2); rms norm 4 (+1); backward 10 per element
  pool         1 FLOP per input element read by the window (max or average)
  memory       moves or creates data, no arithmetic (copy, cat, index, embedding, fill, ...)
  view         aliases its input: no FLOPs and no bytes moved
  unsupported  anything else: listed in results, never silently counted as zero
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import torch

from ..capture.records import TensorSpec
from ..capture.schema import resolve
from . import registry as formulas

if TYPE_CHECKING:
    from ..capture import OpRecord

MATMUL = "matmul"
ELEMENTWISE = "elementwise"
REDUCTION = "reduction"
SOFTMAX = "softmax"
NORM = "norm"
POOL = "pool"
MEMORY = "memory"
VIEW = "view"
UNSUPPORTED = "unsupported"

ARITHMETIC = (MATMUL, ELEMENTWISE, REDUCTION, SOFTMAX, NORM, POOL)

_SOFTMAX = {"aten._softmax", "aten.softmax", "aten._safe_softmax", "aten._log_softmax",
            "aten.log_softmax"}
_SOFTMAX_BACKWARD = {"aten._softmax_backward_data", "aten._log_softmax_backward_data"}
_NORM = {"aten.native_layer_norm", "aten.native_group_norm", "aten.native_batch_norm",
         "aten._native_batch_norm_legit", "aten._native_batch_norm_legit_functional",
         "aten.layer_norm", "aten.group_norm", "aten.batch_norm"}
_NORM_EVAL = {"aten._native_batch_norm_legit_no_training"}
_RMS_NORM = {"aten._fused_rms_norm", "aten.rms_norm"}
_NORM_BACKWARD = {"aten.native_layer_norm_backward", "aten.native_group_norm_backward",
                  "aten.native_batch_norm_backward", "aten._fused_rms_norm_backward"}
_POOL = {"aten.max_pool2d_with_indices", "aten.max_pool3d_with_indices", "aten.avg_pool2d",
         "aten.avg_pool3d", "aten.max_pool1d", "aten.avg_pool1d", "aten._adaptive_avg_pool2d",
         "aten._adaptive_avg_pool3d", "aten.adaptive_max_pool2d", "aten.adaptive_max_pool3d",
         "aten.max_pool2d_with_indices_backward", "aten.avg_pool2d_backward",
         "aten._adaptive_avg_pool2d_backward", "aten.upsample_bilinear2d",
         "aten.upsample_bicubic2d", "aten.upsample_linear1d", "aten.upsample_trilinear3d",
         "aten._upsample_bilinear2d_aa"}
_REDUCTION = {"aten.amax", "aten.amin", "aten.argmax", "aten.argmin", "aten.var_mean",
              "aten.var", "aten.std", "aten.std_mean", "aten.logsumexp", "aten.cumsum",
              "aten.cumprod", "aten.norm", "aten.linalg_vector_norm", "aten.max", "aten.min",
              "aten.any", "aten.all", "aten.prod", "aten.mean", "aten.sum", "aten.topk",
              "aten.sort", "aten.aminmax", "aten.histc", "aten.bincount", "aten.count_nonzero"}
# Pointwise arithmetic that torch does not tag as pointwise.
_ELEMENTWISE = {"aten.floor_divide", "aten.floor_divide_", "aten.lerp", "aten.addcmul",
                "aten.addcdiv", "aten._foreach_add", "aten._foreach_mul"}
# Pointwise-tagged ops that only copy, cast or select data.
_POINTWISE_MEMORY = {"aten.clone", "aten._to_copy", "aten.copy", "aten.copy_", "aten.fill",
                     "aten.fill_", "aten.zero_", "aten.lift_fresh_copy", "aten.masked_fill",
                     "aten.masked_fill_", "aten.zeros_like", "aten.ones_like", "aten.full_like",
                     "aten.empty_like", "aten.rand_like", "aten.randn_like", "aten.bernoulli",
                     "aten.bernoulli_", "aten.uniform_", "aten.normal_", "aten.random_",
                     "aten.exponential_", "aten.native_dropout", "aten.native_dropout_backward"}
_MEMORY = {"aten.cat", "aten.stack", "aten.index", "aten.index_select", "aten.gather",
           "aten.scatter", "aten.scatter_", "aten.scatter_add", "aten.scatter_add_",
           "aten.index_put", "aten.index_put_", "aten.index_add", "aten.index_add_",
           "aten.embedding", "aten.embedding_dense_backward", "aten.constant_pad_nd",
           "aten.reflection_pad2d", "aten.replication_pad2d", "aten.pad", "aten.zeros",
           "aten.ones", "aten.empty", "aten.empty_strided", "aten.new_empty",
           "aten.new_empty_strided", "aten.new_zeros", "aten.new_ones", "aten.full",
           "aten.new_full", "aten.arange", "aten.scalar_tensor", "aten.repeat", "aten.roll",
           "aten.flip", "aten.tril", "aten.triu", "aten.tril_", "aten.triu_",
           "aten.slice_scatter", "aten.select_scatter", "aten.select_backward",
           "aten.slice_backward", "aten.as_strided_scatter", "aten.upsample_nearest2d",
           "aten.upsample_nearest1d", "aten.upsample_nearest3d", "aten.upsample_nearest2d_backward",
           "aten.linspace", "aten.rand", "aten.randn", "aten.randint", "aten.randperm",
           "aten.contiguous", "aten.pixel_shuffle", "aten.pixel_unshuffle", "aten.one_hot",
           "aten.nonzero", "aten.masked_select", "aten.repeat_interleave", "aten.unfold_backward",
           "aten.im2col", "aten.col2im", "aten.channel_shuffle", "aten.native_channel_shuffle",
           "aten.eye", "aten.bucketize", "aten.searchsorted", "aten.sym_constrain_range_for_size",
           "aten._assert_async", "aten._local_scalar_dense", "aten.lift_fresh", "aten.unique_dim",
           "aten._unique2", "aten.grid_sampler_2d", "aten.diagonal_backward", "aten.expand_copy",
           "aten.permute_copy", "aten.view_copy", "aten._unsafe_index", "aten.new_tensor",
           "aten.alias_copy", "aten.rrelu_with_noise", "aten.max_unpool2d", "aten.resize_",
           "aten.set_", "aten.record_stream", "aten.is_nonzero", "aten.equal", "aten.item"}
_VIEW_LIKE = {"aten._unsafe_view", "aten.alias", "aten.detach", "aten.detach_",
              "aten.lift_fresh", "aten._reshape_alias", "aten.unsqueeze_", "aten.squeeze_",
              "aten.t_", "aten.transpose_", "aten.as_strided_", "aten._conj", "aten._neg_view"}


def category(name: str) -> str:
    """Category of an op overload name like 'aten.add.Tensor'."""
    if formulas.has_formula(name.rsplit(".", 1)[0]):  # registrations may change at run time
        return MATMUL
    return _fixed_category(name)


@lru_cache(maxsize=None)
def _fixed_category(name: str) -> str:
    packet = name.rsplit(".", 1)[0]
    if packet in _VIEW_LIKE:
        return VIEW
    if packet in _SOFTMAX or packet in _SOFTMAX_BACKWARD:
        return SOFTMAX
    if packet in _NORM or packet in _NORM_EVAL or packet in _RMS_NORM or packet in _NORM_BACKWARD:
        return NORM
    if packet in _POOL:
        return POOL
    if packet in _POINTWISE_MEMORY or packet in _MEMORY:
        return MEMORY
    if packet in _REDUCTION:
        return REDUCTION
    if packet in _ELEMENTWISE:
        return ELEMENTWISE
    op = resolve(name)
    if op is None:
        return UNSUPPORTED
    if op.is_view:
        return VIEW
    if torch.Tag.pointwise in op.tags:
        return ELEMENTWISE
    if torch.Tag.reduction in op.tags:
        return REDUCTION
    if torch.Tag.nondeterministic_seeded in op.tags:
        return MEMORY
    return UNSUPPORTED


def _numel(specs: tuple[TensorSpec, ...]) -> int:
    return specs[0].numel if specs else 0


def elementwise_flops(op: OpRecord, cat: str) -> int:
    """FLOPs of a non-matmul op under the per-element conventions above."""
    packet = op.packet
    first_in, first_out = _numel(op.inputs), _numel(op.outputs)
    if cat == ELEMENTWISE:
        return first_out
    if cat == REDUCTION:
        return first_in
    if cat == SOFTMAX:
        return (4 if packet in _SOFTMAX_BACKWARD else 5) * first_out
    if cat == NORM:
        return first_in * _norm_cost_per_element(op)
    if cat == POOL:
        return 4 * first_out if packet.startswith("aten.upsample") else first_in
    return 0


def _norm_cost_per_element(op: OpRecord) -> int:
    packet = op.packet
    if packet in _NORM_BACKWARD:
        return 10
    weight_index = 2 if ("layer_norm" in packet or "rms_norm" in packet) else 1
    affine = len(op.args) > weight_index and isinstance(op.args[weight_index], TensorSpec)
    if packet in _RMS_NORM:
        return 4 + (1 if affine else 0)
    if packet in _NORM_EVAL:
        return 2 + (2 if affine else 0)
    return 5 + (2 if affine else 0)


def bias_add_flops(op: OpRecord) -> int:
    """The bias add that matmul formulas leave out (addmm's `self`, a conv's bias)."""
    if not op.outputs:
        return 0
    if op.packet in ("aten.addmm", "aten.baddbmm", "aten.addbmm", "aten.addmv"):
        return op.outputs[0].numel
    if op.packet == "aten.convolution" and len(op.args) > 2 and isinstance(op.args[2], TensorSpec):
        return op.outputs[0].numel
    return 0
