"""Per-element FLOP conventions and the categories of non-matmul ops, as registered data.

  elementwise  pointwise arithmetic and activations: 1 FLOP per output element
  reduction    sum/mean/max/var/...: 1 FLOP per input element
  softmax      5 FLOPs per element forward (max, subtract, exp, sum, divide), 4 backward
  norm         layer/group/batch norm: 5 FLOPs per element (+2 with affine weight and bias),
               batch norm in eval (`training=False`, running statistics) 2 (+2): subtract the
               mean, multiply by 1/sqrt(var + eps), then scale and shift -- per-channel
               constants are not counted, so eval BatchNorm2d with affine is 4 per element (2x
               fvcore's 2, which counts one multiply-add as one; torch's FlopCounterMode counts
               no norm); rms norm 4 (+1); backward 10 per element
  pool         1 FLOP per input element read by the window (max or average); bilinear,
               bicubic, linear and trilinear upsamples 4 per output element
  memory       moves or creates data, no arithmetic (copy, cat, index, embedding, fill, ...)
  view         aliases its input: no FLOPs and no bytes moved
Ops torch tags pointwise or reduction follow their category's convention without being listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..capture.records import TensorSpec
from .registry import (
    ELEMENTWISE,
    MEMORY,
    NORM,
    POOL,
    REDUCTION,
    SOFTMAX,
    VIEW,
    register_category_convention,
    register_op,
)

if TYPE_CHECKING:
    from ..capture import OpRecord

INPUT, OUTPUT = "input", "output"


@dataclass(frozen=True, slots=True)
class PerElement:
    """`flops` FLOPs per element of the op's first input or output (`of`), plus `optional` more
    when positional argument `optional_arg` is a tensor (a norm's affine weight, a bias)."""

    flops: int
    of: Literal["input", "output"] = OUTPUT
    optional_arg: int | None = None
    optional: int = 0

    def __call__(self, op: OpRecord) -> int:
        specs = op.inputs if self.of == INPUT else op.outputs
        per_element = self.flops
        arg = self.optional_arg
        if arg is not None and len(op.args) > arg and isinstance(op.args[arg], TensorSpec):
            per_element += self.optional
        return per_element * specs[0].numel if specs else 0


register_category_convention(ELEMENTWISE, PerElement(1, OUTPUT))
register_category_convention(REDUCTION, PerElement(1, INPUT))

register_op(["aten._softmax", "aten.softmax", "aten._safe_softmax", "aten._log_softmax",
             "aten.log_softmax"], category=SOFTMAX, per_element=PerElement(5))
register_op(["aten._softmax_backward_data", "aten._log_softmax_backward_data"], category=SOFTMAX,
            per_element=PerElement(4))

# norms: per element of the input; the affine weight's position differs between ops
register_op(["aten.native_layer_norm", "aten.layer_norm", "aten.group_norm"], category=NORM,
            per_element=PerElement(5, INPUT, optional_arg=2, optional=2))
@dataclass(frozen=True, slots=True)
class BatchNorm:
    """Batch norm's convention by its `training` argument: `train` when it computes batch
    statistics, `infer` when it reads running ones (eval mode)."""

    train: PerElement
    infer: PerElement

    def __call__(self, op: OpRecord) -> int:
        return (self.train if op.attributes().get("training", True) else self.infer)(op)


_NORM_TRAIN, _NORM_EVAL = PerElement(5, INPUT, 1, 2), PerElement(2, INPUT, 1, 2)
register_op("aten.native_group_norm", category=NORM, per_element=_NORM_TRAIN)
register_op(["aten.native_batch_norm", "aten._native_batch_norm_legit",
             "aten._native_batch_norm_legit_functional", "aten.batch_norm"], category=NORM,
            per_element=BatchNorm(_NORM_TRAIN, _NORM_EVAL))
register_op("aten._native_batch_norm_legit_no_training", category=NORM, per_element=_NORM_EVAL)
register_op(["aten._fused_rms_norm", "aten.rms_norm"], category=NORM,
            per_element=PerElement(4, INPUT, optional_arg=2, optional=1))
register_op(["aten.native_layer_norm_backward", "aten.native_group_norm_backward",
             "aten.native_batch_norm_backward", "aten._fused_rms_norm_backward"], category=NORM,
            per_element=PerElement(10, INPUT))

register_op(["aten.max_pool2d_with_indices", "aten.max_pool3d_with_indices", "aten.avg_pool2d",
             "aten.avg_pool3d", "aten.max_pool1d", "aten.avg_pool1d", "aten._adaptive_avg_pool2d",
             "aten._adaptive_avg_pool3d", "aten.adaptive_max_pool2d", "aten.adaptive_max_pool3d",
             "aten.max_pool2d_with_indices_backward", "aten.avg_pool2d_backward",
             "aten._adaptive_avg_pool2d_backward", "aten._upsample_bilinear2d_aa"], category=POOL,
            per_element=PerElement(1, INPUT))
register_op(["aten.upsample_bilinear2d", "aten.upsample_bicubic2d", "aten.upsample_linear1d",
             "aten.upsample_trilinear3d"], category=POOL, per_element=PerElement(4, OUTPUT))

register_op(["aten.amax", "aten.amin", "aten.argmax", "aten.argmin", "aten.var_mean", "aten.var",
             "aten.std", "aten.std_mean", "aten.logsumexp", "aten.cumsum", "aten.cumprod",
             "aten.norm", "aten.linalg_vector_norm", "aten.max", "aten.min", "aten.any",
             "aten.all", "aten.prod", "aten.mean", "aten.sum", "aten.topk", "aten.sort",
             "aten.aminmax", "aten.histc", "aten.bincount", "aten.count_nonzero"],
            category=REDUCTION)
# pointwise arithmetic that torch does not tag as pointwise
register_op(["aten.floor_divide", "aten.floor_divide_", "aten.lerp", "aten.addcmul",
             "aten.addcdiv", "aten._foreach_add", "aten._foreach_mul"], category=ELEMENTWISE)

# pointwise-tagged ops that only copy, cast or select data
register_op(["aten.clone", "aten._to_copy", "aten.copy", "aten.copy_", "aten.fill", "aten.fill_",
             "aten.zero_", "aten.lift_fresh_copy", "aten.masked_fill", "aten.masked_fill_",
             "aten.zeros_like", "aten.ones_like", "aten.full_like", "aten.empty_like",
             "aten.rand_like", "aten.randn_like", "aten.bernoulli", "aten.bernoulli_",
             "aten.uniform_", "aten.normal_", "aten.random_", "aten.exponential_",
             "aten.native_dropout", "aten.native_dropout_backward"], category=MEMORY)
register_op(["aten.cat", "aten.stack", "aten.index", "aten.index_select", "aten.gather",
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
             "aten.upsample_nearest1d", "aten.upsample_nearest3d",
             "aten.upsample_nearest2d_backward", "aten.linspace", "aten.rand", "aten.randn",
             "aten.randint", "aten.randperm", "aten.contiguous", "aten.pixel_shuffle",
             "aten.pixel_unshuffle", "aten.one_hot", "aten.nonzero", "aten.masked_select",
             "aten.repeat_interleave", "aten.unfold_backward", "aten.im2col", "aten.col2im",
             "aten.channel_shuffle", "aten.native_channel_shuffle", "aten.eye", "aten.bucketize",
             "aten.searchsorted", "aten.sym_constrain_range_for_size", "aten._assert_async",
             "aten._local_scalar_dense", "aten.unique_dim", "aten._unique2",
             "aten.grid_sampler_2d", "aten.diagonal_backward", "aten.expand_copy",
             "aten.permute_copy", "aten.view_copy", "aten._unsafe_index", "aten.new_tensor",
             "aten.alias_copy", "aten.rrelu_with_noise", "aten.max_unpool2d", "aten.resize_",
             "aten.set_", "aten.record_stream", "aten.is_nonzero", "aten.equal", "aten.item"],
            category=MEMORY)
# aliases and in-place reshapes: views, whatever their schema says
register_op(["aten._unsafe_view", "aten.alias", "aten.detach", "aten.detach_", "aten.lift_fresh",
             "aten._reshape_alias", "aten.unsqueeze_", "aten.squeeze_", "aten.t_",
             "aten.transpose_", "aten.as_strided_", "aten._conj", "aten._neg_view"],
            category=VIEW)
