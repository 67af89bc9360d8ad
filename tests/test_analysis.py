"""`Analysis(capture)`: fvcore-style views of one capture, each computed once, on hand-counted
models."""

import pytest
import torch
from torch import nn

from modellens.analysis import Analysis
from modellens.capture import BACKWARD, FORWARD, SampleInputs, capture


class TwoBlocks(nn.Module):
    """Two Linear(8, 16) -> ReLU -> Linear(16, 8) blocks, a head, and a module never called."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8)) for _ in range(2))
        self.head = nn.Linear(8, 2)
        self.unused = nn.Linear(8, 8)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x)


BATCH = 4
BLOCK_FLOPS = 2 * BATCH * (8 * 16 + 16 * 8)
HEAD_FLOPS = 2 * BATCH * 8 * 2


@pytest.fixture(scope="module")
def analysis():
    cap = capture(TwoBlocks(), lambda: SampleInputs((torch.randn(BATCH, 8),)), backward=True)
    return Analysis(cap)


def test_views_are_computed_once(analysis):
    for view in ("totals", "params", "by_operator", "by_module", "by_module_and_operator",
                 "unsupported_ops", "memory"):
        assert getattr(analysis, view)() is getattr(analysis, view)()
    assert analysis.activations() is analysis.activations((FORWARD,))


def test_totals_and_operators_by_hand(analysis):
    assert analysis.totals().forward == 2 * BLOCK_FLOPS + HEAD_FLOPS
    addmm = next(s for s in analysis.by_operator()
                 if (s.name, s.phase) == ("aten.addmm", FORWARD))
    assert (addmm.count, addmm.flops) == (5, 2 * BLOCK_FLOPS + HEAD_FLOPS)
    assert analysis.params().total == 2 * (8 * 16 + 16 + 16 * 8 + 8) + (8 * 2 + 2) + (8 * 8 + 8)


def test_by_module_and_operator_is_inclusive(analysis):
    table = analysis.by_module_and_operator()
    root = {(s.name, s.phase): (s.count, s.flops, s.bytes) for s in table[""]}
    assert root == {(s.name, s.phase): (s.count, s.flops, s.bytes)
                    for s in analysis.by_operator()}
    block = {(s.name, s.phase): s for s in table["blocks.1"]}
    assert block[("aten.addmm", FORWARD)].count == 2
    assert block[("aten.addmm", FORWARD)].flops == BLOCK_FLOPS
    assert sum(s.flops for s in table["blocks.1"] if s.phase == BACKWARD) == \
        next(m for m in analysis.by_module() if m.path == "blocks.1").backward_flops
    assert table["unused"] == []


def test_uncalled_modules(analysis):
    assert analysis.uncalled_modules() == ["blocks", "unused"]  # a ModuleList is never called


def test_slice_is_one_subtree(analysis):
    block = analysis.slice("blocks.0")
    assert {op.module for op in block.capture.ops} == {"blocks.0.0", "blocks.0.1", "blocks.0.2"}
    assert block.totals().forward == BLOCK_FLOPS
    assert block.params().total == 8 * 16 + 16 + 16 * 8 + 8
    assert set(block.capture.modules) == {"blocks.0", "blocks.0.0", "blocks.0.1", "blocks.0.2"}
    assert [m.path for m in block.by_module()] == list(block.capture.modules)
    rest = analysis.where(lambda path: not path.startswith("blocks.0"))
    assert block.totals().forward + rest.totals().forward == analysis.totals().forward
    assert block.totals().backward + rest.totals().backward == analysis.totals().backward
    assert analysis.slice("").totals() == analysis.totals()


def test_moe_view_counts_expert_paths():
    class Experts(nn.Module):
        def __init__(self):
            super().__init__()
            self.experts = nn.ModuleList(nn.Linear(8, 8, bias=False) for _ in range(4))
            self.router = nn.Linear(8, 4, bias=False)

        def forward(self, x):
            self.router(x)
            return self.experts[0](x) + self.experts[1](x)

    analysis = Analysis(capture(Experts(), lambda: SampleInputs((torch.randn(2, 8),))))
    moe = analysis.moe(4, 2)
    assert (moe.total_params, moe.expert_params) == (5 * 64 - 32, 4 * 64)
    assert moe.active_params == 32 + 2 * 64
    expert_flops = 2 * (2 * 2 * 8 * 8)
    assert moe.forward_flops_all_experts == 2 * 2 * 8 * 4 + expert_flops * 2
    assert analysis.moe(4, 2) is moe
