"""The benchmark models, and the one way every tool gets them: modellens' own source for the spec,
so peers and modellens see the same architecture, config and sample inputs."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from torch import nn


@dataclass(frozen=True)
class Model:
    key: str
    spec: str
    label: str
    options: tuple[tuple[str, int], ...] = ()  # model_source keywords (seq_len, image_size)
    repeats: int = 5  # timed runs per tool; the median is reported

    @property
    def kwargs(self) -> dict[str, int]:
        return dict(self.options)


MODELS = [
    Model("resnet50", "tv:resnet50", "ResNet-50 (224)"),
    Model("vit_b_16", "tv:vit_b_16", "ViT-B/16 (224)"),
    Model("bert", "bert-base-uncased", "BERT-base (seq 128)", (("seq_len", 128),)),
    Model("gpt2", "gpt2", "GPT-2 (seq 128)", (("seq_len", 128),)),
    Model("yolov8n", "yolo:yolov8n", "YOLOv8n (640)", (("image_size", 640),)),
    Model("gpt_neo_1_3b", "EleutherAI/gpt-neo-1.3B", "GPT-Neo 1.3B (seq 128)",
          (("seq_len", 128),), repeats=3),
]
SEQ_128 = (("seq_len", 128),)
SCALE_MODELS = [
    Model("mistral_7b", "mistralai/Mistral-7B-v0.1", "Mistral-7B (seq 128)", SEQ_128, 3),
    Model("llama2_70b", "meta-llama/Llama-2-70b-hf", "Llama-2-70B (seq 128)", SEQ_128, 3),
    Model("mixtral", "mistralai/Mixtral-8x7B-v0.1", "Mixtral-8x7B (seq 128)", SEQ_128, 3),
]
BY_KEY = {m.key: m for m in MODELS + SCALE_MODELS}


class Subject:
    """One model as every tool receives it: the spec (modellens), or the module built from that
    spec's source with real random CPU weights (or on meta) plus its sample inputs (peers)."""

    def __init__(self, model: Model, device: str = "cpu") -> None:
        self.model_info = model
        self.device = device

    @cached_property
    def source(self):
        from modellens.sources import resolve

        return resolve(self.model_info.spec, **self.model_info.kwargs)

    @cached_property
    def module(self) -> nn.Module:
        import torch

        with torch.device(self.device):
            return self.source.build().eval()

    @cached_property
    def inputs(self):
        import torch

        with torch.device(self.device):
            return self.source.make_inputs()

    def class_names(self) -> dict[str, str]:
        return {path: type(m).__name__ for path, m in self.module.named_modules()}

