"""Ultralytics YOLO models built untrained from their yaml (`yolo:yolov8n`, `yolo:yolo11s-seg`).

Nothing is downloaded: the architecture yaml ships inside the ultralytics package.
"""

from __future__ import annotations

import functools
import os
import re

import torch

from ..capture import SampleInputs
from ..errors import SpecError
from .base import InputOptions, ModelSource

_NAME = re.compile(r"^(yolov5|yolov8|yolo11|yolov6|yolov9|yolov10|yolo12)([nsmlxtcec]?)(u?)(-[a-z]+)?$")


def yaml_name(name: str) -> str:
    """'yolov5n' -> 'yolov5nu.yaml' (ultralytics' anchor-free v5), else NAME.yaml."""
    name = name.removesuffix(".yaml").removesuffix(".pt").lower()
    match = _NAME.match(name)
    if not match:
        raise SpecError(
            f"unknown YOLO model {name!r}: expected e.g. yolov8n, yolov5su, yolo11m-seg, yolov8x-pose"
        )
    family, scale, u, task = match.groups()
    if family == "yolov5":
        u = "u"
    return f"{family}{scale}{u}{task or ''}.yaml"


def source(name: str, options: InputOptions) -> ModelSource:
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    try:
        from ultralytics.nn import tasks
    except ImportError:
        raise SpecError("YOLO models need ultralytics: pip install 'modellens[yolo]'") from None
    cfg = yaml_name(name)
    try:
        task, layout = _parsed(cfg)
    except (FileNotFoundError, SyntaxError) as exc:
        raise SpecError(f"unknown YOLO model {name!r}: ultralytics has no {cfg} ({exc})") from None
    model_cls = {
        "detect": tasks.DetectionModel,
        "segment": tasks.SegmentationModel,
        "pose": tasks.PoseModel,
        "obb": tasks.OBBModel,
        "classify": tasks.ClassificationModel,
    }[task]
    size = options.image_size or (224 if task == "classify" else 640)
    shape = (options.batch_size, 3, size, size)

    def build():
        from .meta_init import plain_data_on_cpu

        with plain_data_on_cpu():  # its strides come back as a CPU tensor (see there)
            return model_cls(cfg, verbose=False)

    return ModelSource(
        name=f"yolo:{name}",
        kind="yolo",
        build=build,
        make_inputs=lambda: SampleInputs((torch.zeros(shape),)),
        input_description=f"image (batch {shape[0]}, 3x{size}x{size})",
        metadata={"task": task, "yaml": cfg, "image_size": size, "stages": stages(layout)},
    )


@functools.lru_cache(maxsize=64)
def _parsed(cfg: str) -> tuple[str, dict]:
    """(task, layout) of an architecture yaml; parsing it takes ~7 ms, so once per process.
    The layout is only read."""
    from ultralytics.nn import tasks

    return tasks.guess_model_task(cfg), tasks.yaml_model_load(cfg)


def stages(layout: dict) -> dict[str, list[int]]:
    """Layer-index ranges [first, last + 1) of the yaml's stages: its 'backbone' section, then
    the 'head' section split into the neck and the final detect/segment/pose layer."""
    backbone = len(layout.get("backbone", []))
    total = backbone + len(layout.get("head", []))
    return {"backbone": [0, backbone], "neck": [backbone, total - 1], "head": [total - 1, total]}
