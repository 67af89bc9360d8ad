"""Smoke test of the benchmark adapters on a tiny model counted by hand (benchmarks/)."""

import importlib.util

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from benchmarks.agreement import class_diffs
from benchmarks.models import Model, Subject
from benchmarks.peers import TOOLS, own_from_inclusive

# fc: 2 * 8 tokens * 32 * 64 = 32768; attention over 2 heads of 32: Q.K^T and A.V, each
# 2 * 2 * 8 * 8 * 32 = 8192; proj: 2 * 8 * 64 * 16 = 16384 (bias adds and ReLU not counted)
ATTENTION_FLOPS = 2 * 8192
PROJ_FLOPS = 16384
HAND_COUNT = 32768 + ATTENTION_FLOPS + PROJ_FLOPS


class AddmmProjection(nn.Module):
    """A linear layer computed with torch.addmm, like transformers' GPT-2 Conv1D."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight)
        return flat.view(*x.shape[:-1], -1)


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(32, 64)
        self.act = nn.ReLU()
        self.proj = AddmmProjection(64, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.fc(x))
        heads = h.view(1, 8, 2, 32).transpose(1, 2)
        attended = F.scaled_dot_product_attention(heads, heads, heads)
        return self.proj(attended.transpose(1, 2).reshape(1, 8, 64))


def load_model() -> nn.Module:
    return Tiny()


def get_inputs() -> dict:
    return {"x": torch.randn(1, 8, 32)}  # a keyword input, as HF models take


PARAMS = 32 * 64 + 64 + 64 * 16 + 16
TINY = Model("tiny", f"{__file__}::load_model", "tiny")
# What each tool should report, from its documented rule.
NO_SDPA = HAND_COUNT - ATTENTION_FLOPS  # the fused CPU attention kernel counted as 0
EXPECTED = {
    "modellens": HAND_COUNT,
    "modellens (nn.Module)": HAND_COUNT,
    "FlopCounterMode": NO_SDPA,  # no formula for _scaled_dot_product_flash_attention_for_cpu
    "FlopCounterMode (math SDPA)": HAND_COUNT,  # the math backend runs matmuls torch counts
    "fvcore": NO_SDPA,  # aten::scaled_dot_product_attention is an unsupported op
    "torchprofile": HAND_COUNT,
    "thop": HAND_COUNT - PROJ_FLOPS,  # no rule for torch.addmm: the projection counts 0
    # bias adds, one MAC per output element (8 x 64 + 8 x 16)
    "ptflops (aten)": NO_SDPA + 2 * (8 * 64 + 8 * 16),
    # Linear's bias per output element (512 MACs), ReLU 512 by its module hook and 512 again by
    # the patched F.relu it calls, torch.addmm's bias tensor once (16)
    "ptflops": NO_SDPA + 2 * (512 + 512 + 512 + 16),
    "calflops": NO_SDPA + 512 + 16,  # ReLU 1 flop per element, addmm's bias tensor once
    "torchinfo": 2 * PARAMS,  # macs = batch (1) x params for a non-Conv leaf: tokens are missed
}


def installed(tool: str) -> bool:
    module = {"ultralytics-thop": "thop"}.get(TOOLS[tool].package, TOOLS[tool].package)
    return importlib.util.find_spec(module) is not None


@pytest.fixture(scope="module")
def counts():
    subject = Subject(TINY)
    return {name: tool.count(subject, True) for name, tool in TOOLS.items() if installed(name)}


@pytest.mark.parametrize("tool", list(TOOLS))
def test_adapter_counts_the_tiny_model(tool, counts):
    if tool not in counts:
        pytest.skip(f"{tool} is not installed (pip install -e '.[bench]')")
    count = counts[tool]
    assert count.flops == EXPECTED[tool]
    if count.params is not None:
        assert count.params == PARAMS
    if count.modules is not None:  # own FLOPs per module add up to the tool's total
        assert sum(count.modules.values()) == pytest.approx(count.flops, rel=1e-6)


def test_modules_and_agreement_name_the_missed_class(counts):
    if "thop" not in counts:
        pytest.skip("thop is not installed")
    ours, thop = counts["modellens"], counts["thop"]
    assert ours.modules == {"fc": 2 * 8 * 32 * 64, "": ATTENTION_FLOPS, "proj": PROJ_FLOPS}
    classes = {"": "Tiny", "fc": "Linear", "proj": "AddmmProjection", "act": "ReLU"}
    diffs = class_diffs(
        {"flops": ours.flops, "modules": ours.modules, "classes": ours.extra["classes"],
         "extra": ours.extra},
        {"flops": thop.flops, "modules": thop.modules, "classes": classes},
    )
    assert [(d.class_name, d.peer, d.modellens) for d in diffs] == [
        ("AddmmProjection", 0, PROJ_FLOPS)]
    assert diffs[0].modellens_ops == ("aten.addmm.default",)


def test_own_from_inclusive():
    inclusive = {"": 10, "a": 6, "a.x": 4, "b.y": 3}  # "b" not reported: b.y belongs to the root
    assert own_from_inclusive(inclusive) == {"": 1, "a": 2, "a.x": 4, "b.y": 3}
