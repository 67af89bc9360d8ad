"""Cost flat in depth: backward block replay, per-distinct-op analysis, meta builds without
weight initialisation. Every result equals the one computed the long way."""

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from modellens.analysis import Analysis
from modellens.capture import BACKWARD, SampleInputs, capture
from modellens.capture.opkey import op_key
from modellens.capture.records import OpRecord, TensorSpec
from modellens.costing.cost import op_cost
from modellens.sources import meta_init, resolve
from modellens.sources.base import build_model


def summary(cap):
    """What every analysis reads: ops in order (name, module, phase, shapes), per-module
    totals, bytes, activation peaks, memory."""
    analysis = Analysis(cap)
    modules = [(m.path, m.calls, m.flops, m.bytes, m.backward_flops, m.input_shapes,
                m.output_shapes) for m in analysis.by_module()]
    ops = [(op.name, op.module, op.phase, [s.shape for s in op.inputs]) for op in cap.ops]
    return (ops, modules, sum(c.bytes for c in analysis.costs),
            analysis.activations((BACKWARD,)), analysis.memory())


@pytest.mark.parametrize("spec", ["gpt2", "tv:resnet50"])
def test_backward_replay_gives_identical_records(spec):
    source = resolve(spec)
    model, _ = build_model(source)
    full = capture(model, source.make_inputs, replay_blocks=False, backward=True)
    replayed = capture(model, source.make_inputs, replay_blocks=True, backward=True)
    assert any("replayed the rest" in note for note in replayed.notes)
    assert len(replayed.backward_ops()) == len(full.backward_ops()) > 0
    assert summary(full) == summary(replayed)


class Shared(nn.Module):
    """Every block also reads one tensor the root made (as a decoder reads the encoder)."""

    def __init__(self, blocks: int = 5, width: int = 8):
        super().__init__()
        self.memory = nn.Linear(width, width)
        self.blocks = nn.ModuleList(Cross(width) for _ in range(blocks))

    def forward(self, x):
        memory = self.memory(x)
        for block in self.blocks:
            x = block(x, memory)
        return x


class Cross(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.q, self.k = nn.Linear(width, width), nn.Linear(width, width)

    def forward(self, x, memory):
        return self.q(x) * self.k(memory)


def test_backward_replay_refuses_a_grad_input_shared_between_blocks():
    model = Shared()
    make_inputs = lambda: SampleInputs((torch.randn(2, 8),))
    full = capture(model, make_inputs, replay_blocks=False, backward=True)
    replayed = capture(model, make_inputs, replay_blocks=True, backward=True)
    assert any("block replay not used" in note and "also read by" in note
               for note in replayed.notes)
    assert summary(full) == summary(replayed)


def _gpt2(tmp_path, layers: int):
    catalog = Path(__file__).parent.parent / "src" / "modellens" / "sources" / "catalog"
    config = json.loads((catalog / "gpt2.json").read_text())
    path = tmp_path / f"gpt2-{layers}" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps({**config, "n_layer": layers}))
    return str(path)


@pytest.mark.slow
def test_flops_grow_exactly_linearly_in_depth(tmp_path):
    """12 → 96 GPT-2 layers: every count grows by 84 times one layer's (blocks replayed), and
    one layer's is the difference of the 12- and 13-layer models (captured in full)."""
    from modellens.tasks.profile import profile

    counts = {}
    for layers, replay in ((12, True), (13, False), (96, True)):
        result = profile(_gpt2(tmp_path, layers), backward=True, replay_blocks=replay)
        counts[layers] = (result.flops.forward, result.flops.backward, result.params.total)
    layer = [b - a for a, b in zip(counts[12], counts[13])]
    assert layer[0] > 0 and layer[1] > layer[0]
    assert list(counts[96]) == [a + 84 * d for a, d in zip(counts[12], layer)]


def test_cached_costs_equal_costs_computed_per_op():
    source = resolve("gpt2")
    model, _ = build_model(source)
    cap = capture(model, source.make_inputs, backward=True)
    assert Analysis(cap).costs == [op_cost(op) for op in cap.ops]


def test_op_key_tells_storage_sharing_apart():
    """x + x reads one tensor (its bytes count once); x + y reads two of the same shape."""
    same = OpRecord("aten.add.Tensor", "", "forward",
                    (TensorSpec((4, 4), "float32", 1), TensorSpec((4, 4), "float32", 1)), {},
                    (TensorSpec((4, 4), "float32", 2),))
    other = OpRecord("aten.add.Tensor", "x", "backward",
                     (TensorSpec((4, 4), "float32", 5), TensorSpec((4, 4), "float32", 6)), {},
                     (TensorSpec((4, 4), "float32", 7),))
    moved = OpRecord("aten.add.Tensor", "y", "forward",
                     (TensorSpec((4, 4), "float32", 8), TensorSpec((4, 4), "float32", 8)), {},
                     (TensorSpec((4, 4), "float32", 9),))
    assert op_key(same) == op_key(moved) != op_key(other)
    assert op_cost(same).bytes_read == 64 and op_cost(other).bytes_read == 128


def test_meta_build_skips_random_init_and_keeps_shapes():
    calls = []

    class Probe(nn.Linear):
        def reset_parameters(self):
            calls.append(self.weight.device.type)
            nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)
            nn.init.normal_(tensor=self.bias)  # by keyword, as nn.Embedding passes it

    with torch.device("meta"), meta_init.skipped():
        probe = Probe(3, 5)
        torch.nn.init.trunc_normal_(probe.weight)
    assert calls == ["meta"] and probe.weight.shape == (5, 3) and probe.weight.is_meta
    real = torch.zeros(4)
    with meta_init.skipped():
        nn.init.normal_(real)  # off the meta device the fill runs
    assert real.abs().sum() > 0


def test_cached_kernel_times_equal_times_computed_per_kernel():
    from modellens.hardware import get_chip

    source = resolve("gpt2")
    model, _ = build_model(source)
    analysis = Analysis(capture(model, source.make_inputs))
    chip = get_chip("h100")
    timings = analysis.roofline(chip).timings
    kernels = [k for phase, _ in analysis.kernels().values() for k in phase]
    assert len({k.members for k in kernels}) > 10 * len({k.time(chip) for k in kernels})
    for kernel in kernels:
        assert timings[kernel.members[0]] == kernel.time(chip)
