"""Block replay: identical results with and without it; refused where blocks differ."""

import pytest
import torch
from torch import nn

from modellens.analysis import Analysis
from modellens.capture import SampleInputs, capture
from modellens.sources import resolve
from modellens.sources.base import build_model


def summary(cap):
    analysis = Analysis(cap)
    modules = [(m.path, m.calls, m.flops, m.bytes, m.input_shapes, m.output_shapes)
               for m in analysis.by_module()]
    ops = [(op.name, op.module, [s.shape for s in op.inputs]) for op in cap.ops]
    return ops, modules, sum(c.bytes for c in analysis.costs), analysis.activations()


@pytest.mark.parametrize("spec", ["gpt2", "tv:resnet50", "yolo:yolov8n"])
def test_replay_gives_identical_records(spec):
    source = resolve(spec)
    model, _ = build_model(source)
    full = capture(model, source.make_inputs, replay_blocks=False)
    replayed = capture(model, source.make_inputs, replay_blocks=True)
    assert any("replayed" in note for note in replayed.notes)
    assert summary(full) == summary(replayed)


class Block(nn.Module):
    def __init__(self, index: int, width: int = 16):
        super().__init__()
        self.layer_idx = index
        self.fc = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width)

    def forward(self, x):
        if self.layer_idx % 2:  # odd layers do extra work: replay must notice
            x = self.fc(x)
        return self.norm(self.fc(x))


def test_blocks_whose_ops_differ_are_never_replayed():
    model = nn.Sequential(*[Block(i) for i in range(6)])
    cap = capture(model, lambda: SampleInputs((torch.randn(2, 16),)))
    assert not any("replayed" in note for note in cap.notes)
    mms = [op for op in cap.ops if op.packet == "aten.addmm"]
    assert len(mms) == 3 * 1 + 3 * 2


def test_identical_blocks_are_replayed_with_exact_counts():
    model = nn.Sequential(*[Block(0) for _ in range(5)])
    cap = capture(model, lambda: SampleInputs((torch.randn(2, 16),)))
    assert any("5 identical Block blocks" in note for note in cap.notes)
    mms = [op for op in cap.ops if op.packet == "aten.addmm"]
    assert [op.module for op in mms] == [f"{i}.fc" for i in range(5)]
    assert cap.modules["4.fc"].calls == 1 and cap.modules["4.norm"].input_specs[0].shape == (2, 16)


class SharedActBlock(nn.Module):
    """Like ultralytics' Conv: every instance calls one activation module shared by all."""

    act = nn.SiLU()

    def __init__(self, width: int = 16):
        super().__init__()
        self.fc = nn.Linear(width, width)

    def forward(self, x):
        return self.act(self.fc(x))


class SharedActModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.act = SharedActBlock.act  # the shared module's one path; the root never calls it
        self.blocks = nn.ModuleList(SharedActBlock() for _ in range(4))

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x


def test_replayed_ops_of_a_shared_module_keep_its_own_path():
    model = SharedActModel()
    make_inputs = lambda: SampleInputs((torch.randn(2, 16),))
    full = capture(model, make_inputs, replay_blocks=False)
    replayed = capture(model, make_inputs, replay_blocks=True)
    assert any("replayed" in note for note in replayed.notes)
    assert summary(full) == summary(replayed)
    silus = [op.module for op in replayed.ops if op.packet == "aten.silu"]
    assert silus == ["act"] * 4
    assert replayed.modules["act"].calls == 4


# ---------------------------------------------------------------- one structural signature


def _partition(keys: dict) -> set[frozenset]:
    groups: dict = {}
    for item, key in keys.items():
        groups.setdefault(key, set()).add(item)
    return {frozenset(g) for g in groups.values()}


@pytest.mark.parametrize("spec", ["gpt2", "tv:resnet50"])
def test_live_and_recorded_signatures_are_the_same_rule(spec):
    """Replay's signature (live modules) and the capture's (records) group modules alike."""
    from modellens.capture.structure import module_signatures, structural_signatures

    source = resolve(spec)
    model, _ = build_model(source)
    cap = capture(model, source.make_inputs)
    names = {module: path for path, module in model.named_modules()}
    live = structural_signatures(model, lambda m: cap.modules[names[m]].attributes)
    assert _partition({names[m]: key for m, key in live.items()}) == \
        _partition(module_signatures(cap))


def test_place_attributes_are_ignored_and_config_is_not():
    from modellens.capture.structure import module_signatures

    class Named(nn.Linear):
        def __init__(self, name, eps):
            super().__init__(4, 4)
            self.name, self.layer_idx, self.eps = name, len(name), eps

    model = nn.Sequential(Named("a", 1e-5), Named("bb", 1e-5), Named("ccc", 1e-6))
    cap = capture(model, lambda: SampleInputs((torch.randn(2, 4),)))
    keys = module_signatures(cap)
    assert keys["0"] == keys["1"] != keys["2"]
