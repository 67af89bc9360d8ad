"""The capture: module attribution, backward as autograd does it, no side effects."""

import pytest
import torch
from torch import nn

from modellens import profile
from modellens.analysis import Analysis
from modellens.capture import BACKWARD, FORWARD, SampleInputs, capture


def linear_stack(widths=(32, 64, 48, 16)):
    return nn.Sequential(*[nn.Linear(a, b) for a, b in zip(widths, widths[1:])])


def test_backward_of_linear_stack_is_exactly_what_autograd_does():
    """Input needs no grad: the first layer computes only its weight gradient."""
    widths, batch = (32, 64, 48, 16), 8
    result = profile(linear_stack(widths), torch.randn(batch, widths[0]), backward=True)
    layer = [2 * batch * a * b for a, b in zip(widths, widths[1:])]
    assert result.flops.forward == sum(layer)
    weight_grads = sum(layer)
    input_grads = sum(layer[1:])
    assert result.flops.backward == weight_grads + input_grads
    assert 1.5 < result.flops.backward / result.flops.forward <= 2.0


def test_backward_ops_are_attributed_to_their_modules():
    model = linear_stack()
    cap = capture(model, lambda: SampleInputs((torch.randn(4, 32),)), backward=True)
    backward_mm = [op.module for op in cap.ops if op.phase == BACKWARD and op.packet == "aten.mm"]
    assert set(backward_mm) == {"0", "1", "2"}
    forward_addmm = [op.module for op in cap.ops if op.phase == FORWARD and op.packet == "aten.addmm"]
    assert forward_addmm == ["0", "1", "2"]


def test_capture_has_no_side_effects():
    model = linear_stack()
    model.train()
    keys = list(model.state_dict())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    capture(model, lambda: SampleInputs((torch.randn(4, 32),)), backward=True)
    assert list(model.state_dict()) == keys
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.training
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert all(p.grad is None for p in model.parameters())


def test_no_side_effects_when_capture_fails_midway():
    class Breaks(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)

        def forward(self, x):
            self.a(x)
            raise RuntimeError("fails after a submodule ran")

    model = Breaks()
    try:
        capture(model, lambda: SampleInputs((torch.randn(2, 4),)))
    except Exception as exc:
        assert "fails after a submodule ran" in str(exc)
    assert not model.a._forward_hooks and not model.a._forward_pre_hooks
    assert model.training


def test_tied_weights_count_once_but_flops_at_every_use():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(100, 16)
            self.head = nn.Linear(16, 100, bias=False)
            self.head.weight = self.embed.weight

        def forward(self, ids):
            return self.head(self.embed(ids))

    result = profile(Tied(), torch.zeros(1, 5, dtype=torch.long))
    assert result.params.total == 100 * 16
    assert result.flops.forward == 2 * 5 * 16 * 100


def test_module_totals_add_up():
    """Inclusive: each parent's FLOPs = own ops + sum over its children (property over models)."""
    model = nn.Sequential(nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8)), nn.Linear(8, 2))
    cap = capture(model, lambda: SampleInputs((torch.randn(3, 8),)))
    stats = {m.path: m for m in Analysis(cap).by_module()}
    for path, entry in stats.items():
        children = [c for c in stats.values() if c.parent == path]
        if children:
            assert entry.flops == entry.own_flops + sum(c.flops for c in children)
            own_params = entry.own_params
            assert entry.params == own_params + sum(c.params for c in children)
    assert stats[""].flops == 2 * 3 * 8 * 8 * 2 + 2 * 3 * 8 * 2


def test_module_calls_and_shapes_recorded():
    model = linear_stack()
    cap = capture(model, lambda: SampleInputs((torch.randn(4, 32),)))
    assert cap.modules["1"].calls == 1
    assert cap.modules["1"].input_specs[0].shape == (4, 64)
    assert cap.modules["1"].output_specs[0].shape == (4, 48)
    assert cap.method == "fake"


class _StridedHead(nn.Module):
    """Reads a plain tensor attribute with .item() to size its output, as YOLO's head does."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 8)
        self.stride = torch.tensor([2, 4])  # not a parameter or buffer

    def forward(self, x):
        rows = [x.new_full((int(s.item()), 8), 1.0) for s in self.stride]
        return self.proj(torch.cat([x, *rows]))


def test_small_tensor_attributes_keep_their_values_on_fake_tensors():
    result = profile(_StridedHead(), torch.ones(2, 8))
    assert result.capture_method == "fake"
    assert result.flops.forward == 2 * (2 + 2 + 4) * 8 * 8


class _WindowedTower(nn.Module):
    """Selects rows by an index it builds itself, as Qwen-VL's vision tower builds its window
    index (arange, pad with -100, keep what is not -100): a boolean-mask select whose size is
    data-dependent, but only on tensors the forward created."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        index = torch.nn.functional.pad(torch.arange(x.shape[0]), (0, 3), value=-100)
        return self.proj(x[index[index != -100]])


def test_data_dependent_on_created_tensors_stays_fake():
    result = profile(_WindowedTower(), torch.ones(5, 8))
    assert result.capture_method == "fake"
    assert result.flops.forward == 2 * 5 * 8 * 8
    assert any("created tensors kept concrete (a data-dependent aten.nonzero" in note
               for note in result.notes)


def test_data_dependent_model_falls_back_to_real_tensors():
    from tests.data.tiny_model import get_small_inputs, load_data_dependent

    result = profile(load_data_dependent(), get_small_inputs)
    assert result.capture_method == "real"
    assert result.flops.forward == 2 * 2 * 8 * 8
    assert any("fake" in note for note in result.notes)


class _CachingHead(nn.Module):
    """Caches a tensor on `self` during forward, as YOLO's Detect caches its anchors."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 8)
        self.shape = None

    def forward(self, x):
        if self.shape != x.shape:
            self.anchors, self.shape = torch.ones_like(x), x.shape
        return self.proj(x + self.anchors)


def test_attributes_a_forward_assigns_are_undone():
    model = _CachingHead()
    before = dict(vars(model))
    first = capture(model, lambda: SampleInputs((torch.ones(2, 8),)))
    assert vars(model) == before and not hasattr(model, "anchors")
    second = capture(model, lambda: SampleInputs((torch.ones(2, 8),)))
    assert [op.name for op in first.ops] == [op.name for op in second.ops]


@pytest.mark.parametrize("backward", [False, True])
def test_fake_batch_norm_records_what_the_real_kernel_returns(backward):
    """Inference batch norm skips torch's slow fake kernel; its records (ops, input and output
    shapes and dtypes, forward and backward) equal a real-tensor capture's."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.BatchNorm2d(4))

    def inputs() -> SampleInputs:
        return SampleInputs(args=(torch.ones(2, 3, 8, 8),))

    def records(method: str) -> list:
        ops = capture(model, inputs, methods=(method,), backward=backward).ops
        return [(op.name, op.module, op.phase,
                 [(s.shape, s.dtype) for s in op.inputs + op.outputs])
                for op in ops]

    fake = records("fake")
    assert [name for name, *_ in fake].count("aten.native_batch_norm.default") == 2
    assert backward == any(name == "aten.native_batch_norm_backward.default" for name, *_ in fake)
    assert fake == records("real")
