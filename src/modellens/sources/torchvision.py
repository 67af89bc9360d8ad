"""torchvision models by name (`tv:resnet50`), untrained, with inputs of their native size."""

from __future__ import annotations

import difflib

import torch

from ..capture import SampleInputs
from ..errors import SpecError
from .base import InputOptions, ModelSource

# Detection models resize their input in their own transform: the size they run at is the
# backbone's input. Their heads see as many boxes as earlier stages keep, which depends on the
# weights: module path -> what its first input's leading dimension counts.
_RAN_AT = "backbone"
_KEPT = {"roi_heads.box_head": "proposals kept by the RPN (box head input)",
         "roi_heads.mask_head": "detections kept (mask head input)",
         "roi_heads.keypoint_head": "detections kept (keypoint head input)"}

# Models whose default input differs from a 3x224x224 image.
_IMAGE_SIZE = {"inception_v3": 299}  # vit_h_14 is 224 untrained (518 only with SWAG weights)
_VIDEO_PREFIXES = ("r3d_", "mc3_", "r2plus1d_", "s3d", "mvit_", "swin3d_")


def list_names() -> list[str]:
    import torchvision

    return sorted(torchvision.models.list_models())


def _kind(name: str) -> str:
    import torchvision.models as tvm

    for module, kind in ((tvm.detection, "detection"), (tvm.segmentation, "segmentation"),
                         (tvm.video, "video"), (tvm.optical_flow, "optical_flow"),
                         (tvm.quantization, "quantization")):
        if name in tvm.list_models(module=module):
            return kind
    return "classification"


def source(name: str, options: InputOptions) -> ModelSource:
    try:
        import torchvision
    except ImportError:
        raise SpecError("torchvision models need torchvision: pip install 'modellens[vision]'") from None
    names = list_names()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise SpecError(f"unknown torchvision model {name!r}.{hint}")
    kind = _kind(name)
    batch = options.batch_size
    extra = {"aux_logits": False, "init_weights": False} if name in ("inception_v3", "googlenet") else {}
    if kind in ("detection", "segmentation"):
        extra["weights_backbone"] = None  # its default downloads ImageNet weights
    if kind == "video":
        frames = 16
        size = options.image_size or 112
        if name.startswith(("mvit_", "swin3d_", "s3d")):
            size = options.image_size or 224
        shape = (batch, 3, frames, size, size)
    else:
        size = options.image_size or _IMAGE_SIZE.get(name, 520 if kind == "segmentation" else 224)
        shape = (batch, 3, size, size)

    def build():
        return torchvision.models.get_model(name, weights=None, **extra)

    def make_inputs() -> SampleInputs:
        image = torch.zeros(shape)
        if kind == "detection":
            return SampleInputs(([image[i] for i in range(batch)],))
        if kind == "optical_flow":
            return SampleInputs((image, image))
        return SampleInputs((image,))

    description = "video clip" if kind == "video" else "image"
    return ModelSource(
        name=f"tv:{name}",
        kind="torchvision",
        build=build,
        make_inputs=make_inputs,
        input_description=f"{description} (batch {batch}, {'x'.join(map(str, shape[1:]))})",
        metadata={"task": kind, "image_size": size,
                  **({"ran_at": _RAN_AT, "counts_depend_on": _KEPT} if kind == "detection" else {})},
    )
