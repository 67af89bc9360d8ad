"""What users call an op: the torch-level name of an aten op or of a torch.nn leaf module call.

- A ``torch.nn`` leaf module whose forward is one functional (Linear, Conv2d, BatchNorm2d, ReLU,
  ...) is named after that functional (``torch.nn.functional.linear``, ``torch.conv2d``, ...).
- An aten op takes the name of the public torch function it implements: ``torch.X``, else
  ``torch.nn.functional.X``, else ``torch.Tensor.X`` (``aten.add.Tensor`` -> ``torch.add``,
  ``aten.view`` -> ``torch.Tensor.view``); internal aten names (``_softmax``,
  ``native_layer_norm``, ``convolution``, the SDPA kernels, ...) are mapped explicitly.

Names follow torch.fx's (the seed traced with it): ``torch._C._nn.linear`` reads
``torch.nn.functional.linear``.
"""

from __future__ import annotations

import inspect
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..capture import ModuleRecord, OpRecord

# torch.nn leaf modules whose forward is one functional call, by class name.
LEAF_FUNCTIONS = {
    "Linear": "torch.nn.functional.linear",
    "Bilinear": "torch.nn.functional.bilinear",
    "Conv1d": "torch.conv1d", "Conv2d": "torch.conv2d", "Conv3d": "torch.conv3d",
    "ConvTranspose1d": "torch.conv_transpose1d", "ConvTranspose2d": "torch.conv_transpose2d",
    "ConvTranspose3d": "torch.conv_transpose3d",
    "BatchNorm1d": "torch.batch_norm", "BatchNorm2d": "torch.batch_norm",
    "BatchNorm3d": "torch.batch_norm", "SyncBatchNorm": "torch.batch_norm",
    "InstanceNorm1d": "torch.instance_norm", "InstanceNorm2d": "torch.instance_norm",
    "InstanceNorm3d": "torch.instance_norm",
    "LayerNorm": "torch.layer_norm", "GroupNorm": "torch.group_norm", "RMSNorm": "torch.rms_norm",
    "Embedding": "torch.embedding",
    "ReLU": "torch.relu", "ReLU6": "torch.nn.functional.relu6",
    "LeakyReLU": "torch.nn.functional.leaky_relu", "ELU": "torch.nn.functional.elu",
    "SELU": "torch.selu", "CELU": "torch.celu", "GELU": "torch.nn.functional.gelu",
    "SiLU": "torch.nn.functional.silu", "Mish": "torch.nn.functional.mish",
    "Sigmoid": "torch.sigmoid", "Tanh": "torch.tanh", "PReLU": "torch.prelu",
    "Hardswish": "torch.nn.functional.hardswish", "Hardsigmoid": "torch.nn.functional.hardsigmoid",
    "Hardtanh": "torch.nn.functional.hardtanh", "Softplus": "torch.nn.functional.softplus",
    "Softmax": "torch.softmax", "LogSoftmax": "torch.log_softmax",
    "MaxPool1d": "torch.max_pool1d", "MaxPool2d": "torch.max_pool2d",
    "MaxPool3d": "torch.max_pool3d", "AvgPool1d": "torch.avg_pool1d",
    "AvgPool2d": "torch.nn.functional.avg_pool2d", "AvgPool3d": "torch.nn.functional.avg_pool3d",
    "AdaptiveAvgPool1d": "torch.adaptive_avg_pool1d",
    "AdaptiveAvgPool2d": "torch.nn.functional.adaptive_avg_pool2d",
    "AdaptiveAvgPool3d": "torch.nn.functional.adaptive_avg_pool3d",
    "AdaptiveMaxPool2d": "torch.nn.functional.adaptive_max_pool2d",
    "Flatten": "torch.flatten", "Upsample": "torch.nn.functional.interpolate",
    "PixelShuffle": "torch.pixel_shuffle", "ZeroPad2d": "torch.nn.functional.pad",
    "ConstantPad2d": "torch.nn.functional.pad",
    "MultiheadAttention": "torch.nn.functional.multi_head_attention_forward",
}

# aten ops whose name is not the torch function users call.
_ATEN_NAMES = {
    "aten._softmax": "torch.softmax", "aten._safe_softmax": "torch.softmax",
    "aten._log_softmax": "torch.log_softmax",
    "aten.native_layer_norm": "torch.layer_norm", "aten.native_group_norm": "torch.group_norm",
    "aten.native_batch_norm": "torch.batch_norm",
    "aten._native_batch_norm_legit": "torch.batch_norm",
    "aten._native_batch_norm_legit_no_training": "torch.batch_norm",
    "aten._fused_rms_norm": "torch.rms_norm",
    "aten._scaled_dot_product_flash_attention_for_cpu":
        "torch.nn.functional.scaled_dot_product_attention",
    "aten._scaled_dot_product_flash_attention": "torch.nn.functional.scaled_dot_product_attention",
    "aten._scaled_dot_product_efficient_attention":
        "torch.nn.functional.scaled_dot_product_attention",
    "aten._scaled_dot_product_cudnn_attention": "torch.nn.functional.scaled_dot_product_attention",
    "aten._scaled_dot_product_attention_math": "torch.nn.functional.scaled_dot_product_attention",
    "aten._native_multi_head_attention": "torch.nn.functional.multi_head_attention_forward",
    "aten.max_pool2d_with_indices": "torch.max_pool2d",
    "aten.max_pool3d_with_indices": "torch.max_pool3d",
    "aten._adaptive_avg_pool2d": "torch.nn.functional.adaptive_avg_pool2d",
    "aten._adaptive_avg_pool3d": "torch.nn.functional.adaptive_avg_pool3d",
    "aten.upsample_nearest1d": "torch.nn.functional.interpolate",
    "aten.upsample_nearest2d": "torch.nn.functional.interpolate",
    "aten.upsample_nearest3d": "torch.nn.functional.interpolate",
    "aten.upsample_bilinear2d": "torch.nn.functional.interpolate",
    "aten.upsample_bicubic2d": "torch.nn.functional.interpolate",
    "aten._unsafe_view": "torch.reshape", "aten._to_copy": "torch.Tensor.to",
    "aten.slice": "torch.Tensor.__getitem__", "aten.index": "torch.Tensor.__getitem__",
    "aten.index_put": "torch.Tensor.__setitem__", "aten.index_put_": "torch.Tensor.__setitem__",
    "aten.split_with_sizes": "torch.split", "aten._local_scalar_dense": "torch.Tensor.item",
}
# Dispatcher bookkeeping no user calls: left out of the torch level (kept in the aten level).
INTERNAL = frozenset({"aten.detach", "aten.alias", "aten.lift_fresh", "aten.lift_fresh_copy"})
_CONVOLUTIONS = frozenset({"aten.convolution", "aten._convolution"})


def leaf_function(record: ModuleRecord) -> str | None:
    """The functional a torch.nn leaf module's forward calls, or None for other modules."""
    if not record.type_name.startswith("torch.nn.modules."):
        return None
    return LEAF_FUNCTIONS.get(record.class_name)


def torch_name(op: OpRecord) -> tuple[str, bool]:
    """(user-level name, whether it differs from the aten op's own name)."""
    if op.packet in _CONVOLUTIONS:
        weight = op.inputs[1] if len(op.inputs) > 1 else None
        dims = len(weight.shape) - 2 if weight is not None else 2
        transposed = bool(op.attributes().get("transposed", False))
        return f"torch.conv{'_transpose' if transposed else ''}{dims}d", True
    if op.packet in _ATEN_NAMES:
        return _ATEN_NAMES[op.packet], True
    return public_name(op.packet.partition(".")[2]), False


@lru_cache(maxsize=None)
def public_name(function: str) -> str:
    """'add' -> 'torch.add', 'gelu' -> 'torch.nn.functional.gelu', 'view' -> 'torch.Tensor.view';
    names torch does not expose stay aten names."""
    import torch

    if not function.startswith("_"):
        if hasattr(torch, function):
            return f"torch.{function}"
        if hasattr(torch.nn.functional, function):
            return f"torch.nn.functional.{function}"
        if hasattr(torch.Tensor, function):
            return f"torch.Tensor.{function}"
    return f"aten.{function}"


@lru_cache(maxsize=None)
def signature_names(function: str) -> frozenset[str] | None:
    """Argument names of a public torch function given by dotted name, None if unknown or
    variadic."""
    import torch

    obj: Any = torch
    for part in function.split(".")[1:]:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    target = _overrides().get(obj, obj) if callable(obj) else None
    try:
        parameters = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters):
        return None
    return frozenset(p.name for p in parameters)


@lru_cache(maxsize=1)
def _overrides() -> dict:
    from torch.overrides import get_testing_overrides

    return get_testing_overrides()
