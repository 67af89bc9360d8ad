"""FLOP formulas against hand counts and against torch.utils.flop_counter on real tensors."""

import pytest
import torch
import torch.nn.functional as F
import torch.utils.flop_counter as torch_flops
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from modellens import profile, register_bytes_formula
from modellens.costing import registry
from modellens.costing import registry as formulas
from modellens.costing.cost import matmul_flops, op_cost
from modellens.costing.elementwise import PerElement
from modellens.costing.registry import (
    ELEMENTWISE,
    MATMUL,
    MEMORY,
    NORM,
    SOFTMAX,
    UNSUPPORTED,
    VIEW,
    category,
    kind,
)


def torch_count(model, *args):
    with FlopCounterMode(display=False) as counter:
        model(*args)
    return counter.get_total_flops()


def test_mm_and_addmm_follow_two_flops_per_mac():
    from modellens.capture.records import TensorSpec as S

    a, b = S((4, 5), "float32"), S((5, 6), "float32")
    assert matmul_flops("aten.mm", (a, b), {}, (S((4, 6), "float32"),)) == 2 * 4 * 5 * 6
    bias = S((6,), "float32")
    assert matmul_flops("aten.addmm", (bias, a, b), {}, (S((4, 6), "float32"),)) == 240


def test_cpu_flash_attention_is_counted():
    """torch counts this CPU kernel as 0; QKᵀ and AV are 2·B·H·S·S·D each."""
    from modellens.capture.records import TensorSpec as S

    q = S((2, 4, 16, 8), "float32")
    out = S((2, 4, 16, 8), "float32")
    flops = matmul_flops(
        "aten._scaled_dot_product_flash_attention_for_cpu", (q, q, q, 0.0, False), {}, (out,)
    )
    assert flops == 2 * (2 * 2 * 4 * 16 * 16 * 8)


def test_cnn_matches_flop_counter_on_real_tensors():
    model = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, groups=2),
                          nn.Flatten(), nn.Linear(32 * 14 * 14, 10)).eval()
    x = torch.randn(2, 3, 32, 32)
    expected = torch_count(model, x)
    result = profile(model, x)
    assert result.flops.forward == expected
    conv1 = 2 * (2 * 16 * 16 * 16) * (3 * 3 * 3)
    assert expected > conv1 > 0


def test_functional_matmuls_einsum_and_sdpa_are_counted_exactly():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(16, 32))
            self.v = nn.Parameter(torch.randn(32, 16))

        def forward(self, x):  # x [2, 8, 16]
            a = torch.matmul(x, self.w)  # 2*2*8*16*32
            b = a @ self.v  # 2*2*8*32*16
            c = torch.einsum("bsd,de->bse", b, self.w)  # 2*2*8*16*32
            d = F.linear(c, self.v.t())  # [2,8,32] x [32,16]^T... weight [16,32]: 2*2*8*32*16
            q = d.view(2, 2, 8, 8)
            e = F.scaled_dot_product_attention(q, q, q)  # 2 * (2*2*2*8*8*8)
            return e

    x = torch.randn(2, 8, 16)
    hand = 4 * (2 * 2 * 8 * 16 * 32) + 2 * (2 * 2 * 2 * 8 * 8 * 8)
    assert profile(Functional(), x).flops.forward == hand


def test_fused_multihead_attention_fast_path_is_counted():
    """nn.MultiheadAttention in eval takes aten._native_multi_head_attention; peers miss it."""
    embed, heads, batch, seq = 64, 4, 2, 10
    mha = nn.MultiheadAttention(embed, heads, batch_first=True).eval()
    x = torch.randn(batch, seq, embed)
    result = profile(mha, (x, x, x))
    projections = 4 * (2 * batch * seq * embed * embed)
    attention = 2 * (2 * batch * seq * seq * embed)
    assert result.flops.forward == projections + attention


def test_categories():
    assert category("aten.mm.default") == MATMUL
    assert category("aten.add.Tensor") == ELEMENTWISE
    assert category("aten.view.default") == VIEW
    assert category("aten._softmax.default") == SOFTMAX
    assert category("aten.cat.default") == MEMORY
    assert category("aten.clone.default") == MEMORY
    assert category("aten.linalg_eigh.default") == UNSUPPORTED


def test_registered_custom_formula_is_used_and_unregistered_is_reported():
    lib = torch.library.Library("modellens_test", "DEF")
    lib.define("fused_gemm(Tensor a, Tensor b) -> Tensor")

    @torch.library.impl(lib, "fused_gemm", "CompositeExplicitAutograd")
    def fused_gemm(a, b):
        return a @ b

    @torch.library.register_fake("modellens_test::fused_gemm", lib=lib)
    def fused_gemm_fake(a, b):
        return a.new_empty(a.shape[0], b.shape[1])

    class UsesCustom(nn.Module):
        def forward(self, a, b):
            return torch.ops.modellens_test.fused_gemm(a, b)

    a, b = torch.randn(4, 8), torch.randn(8, 3)
    before = profile(UsesCustom(), (a, b))
    assert before.flops.forward == 0
    assert [u.name for u in before.unsupported] == ["modellens_test.fused_gemm.default"]

    @formulas.register_flop_formula("modellens_test::fused_gemm")
    def _(a_shape, b_shape, *args, out_shape=None, **kwargs):
        return 2 * a_shape[0] * a_shape[1] * b_shape[1]

    try:
        after = profile(UsesCustom(), (a, b))
        assert after.flops.forward == 2 * 4 * 8 * 3
        assert after.unsupported == []
    finally:
        formulas.unregister_flop_formula("modellens_test::fused_gemm")


def test_conv_backward_matches_flop_counter():
    """convolution_backward returns None for gradients it is not asked for."""
    for bias in (True, False):
        model = nn.Sequential(nn.Conv2d(3, 8, 3, bias=bias), nn.ReLU(), nn.Conv2d(8, 4, 3, bias=bias))
        x = torch.randn(2, 3, 16, 16)
        with FlopCounterMode(display=False) as counter:
            model(x).sum().backward()
        result = profile(model, x, backward=True)
        assert result.flops.forward + result.flops.backward == counter.get_total_flops()


# --- the registry: per-element conventions, duplicates, kinds ----------------------------------


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def own_flops_all(model, x, backward=False) -> dict[tuple[str, str], int]:
    """flops_all per (op name, phase), each op's own count."""
    counts: dict[tuple[str, str], int] = {}
    for op in profile(model, x, backward=backward).ops:
        counts[op.name, op.phase] = counts.get((op.name, op.phase), 0) + op.flops_all
    return counts


@pytest.mark.parametrize("model, shape, op, expected", [
    (Fn(lambda x: x.softmax(-1)), (4, 10), "aten._softmax.default", 5 * 40),
    (nn.LayerNorm(10), (4, 10), "aten.native_layer_norm.default", (5 + 2) * 40),
    (nn.LayerNorm(10, elementwise_affine=False), (4, 10), "aten.native_layer_norm.default", 5 * 40),
    # eval mode (the capture's): (x - mean) * invstd, then * weight + bias, per element
    (nn.BatchNorm2d(3), (2, 3, 4, 4), "aten.native_batch_norm.default", (2 + 2) * 96),
    (nn.BatchNorm2d(3, affine=False), (2, 3, 4, 4), "aten.native_batch_norm.default", 2 * 96),
    # batch statistics (training=True): mean, var, normalise = 5 per element, no affine here
    (Fn(lambda x: torch.nn.functional.batch_norm(x, None, None, training=True)), (2, 3, 4, 4),
     "aten.native_batch_norm.default", 5 * 96),
    (nn.GroupNorm(1, 3, affine=False), (2, 3, 4, 4), "aten.native_group_norm.default", 5 * 96),
    (nn.MaxPool2d(2), (1, 3, 8, 8), "aten.max_pool2d_with_indices.default", 1 * 192),
    (nn.Upsample(scale_factor=2, mode="bilinear"), (1, 3, 4, 4), "aten.upsample_bilinear2d.default",
     4 * 192),
    (nn.Upsample(scale_factor=2, mode="nearest"), (1, 3, 4, 4), "aten.upsample_nearest2d.default",
     0),
    (nn.ReLU(), (4, 10), "aten.relu.default", 40),
    (Fn(lambda x: x.sum(-1)), (4, 10), "aten.sum.dim_IntList", 40),
    (nn.Linear(10, 6), (4, 10), "aten.addmm.default", 2 * 4 * 10 * 6 + 4 * 6),
    (nn.Conv2d(3, 2, 3), (1, 3, 6, 6), "aten.convolution.default", 2 * 2 * 16 * 27 + 2 * 16),
    (nn.Conv2d(3, 2, 3, bias=False), (1, 3, 6, 6), "aten.convolution.default", 2 * 2 * 16 * 27),
])
def test_per_element_conventions_match_hand_counts(model, shape, op, expected):
    assert own_flops_all(model, torch.randn(*shape))[op, "forward"] == expected


def test_softmax_backward_is_four_flops_per_element():
    model = nn.Sequential(nn.Linear(10, 10), Fn(lambda x: x.softmax(-1)))
    counts = own_flops_all(model, torch.randn(4, 10), backward=True)
    assert counts["aten._softmax_backward_data.default", "backward"] == 4 * 40


@pytest.mark.parametrize("name, args, expected_per_element", [
    ("aten._native_batch_norm_legit_no_training.default", "weight", 2 + 2),
    ("aten._native_batch_norm_legit_no_training.default", None, 2),
    ("aten._fused_rms_norm.default", "weight", 4 + 1),
    ("aten._fused_rms_norm.default", None, 4),
    ("aten.native_layer_norm_backward.default", None, 10),
])
def test_norm_conventions_cpu_captures_do_not_reach(name, args, expected_per_element):
    from modellens.capture.records import OpRecord
    from modellens.capture.records import TensorSpec as S

    x, w = S((2, 3, 4), "float32"), S((3,), "float32")
    weight = w if args == "weight" else None
    call = (x, weight, None, 1e-5) if "batch_norm" in name else (x, [4], weight, 1e-5)
    cost = op_cost(OpRecord(name, "", "forward", call, {}, (x,)))
    assert (cost.category, cost.flops, cost.flops_all) == (NORM, 0, expected_per_element * 24)


def test_user_overrides_a_per_element_convention_and_restores_it():
    model, x = Fn(lambda x: x.softmax(-1)), torch.randn(4, 10)
    saved = registry.entry("aten._softmax").per_element
    registry.register_op("aten._softmax", per_element=PerElement(6), replace=True)
    try:
        assert profile(model, x).flops.forward_all == 6 * 40
    finally:
        registry.register_op("aten._softmax", per_element=saved, replace=True)
    assert profile(model, x).flops.forward_all == 5 * 40


def test_registering_a_duplicate_raises_and_changes_nothing():
    before = {op: registry.entry(op) for op in ("aten.mm", "aten.embedding", "aten._softmax",
                                                "aten.cat", "mylib.new_op")}
    with pytest.raises(ValueError, match="a FLOP formula for aten.mm is already registered"):
        formulas.register_flop_formula("aten::mm")(lambda *shapes, **kwargs: 0)
    with pytest.raises(ValueError, match="a bytes formula for aten.embedding is already"):
        register_bytes_formula(torch.ops.aten.embedding.default)(lambda inputs, outputs: (0, 0))
    with pytest.raises(ValueError, match="a per-element convention for aten._softmax is already"):
        registry.register_op("aten._softmax", per_element=PerElement(6))
    with pytest.raises(ValueError, match="a category for aten.cat is already registered"):
        registry.register_op(["mylib.new_op", "aten.cat"], category=ELEMENTWISE)
    with pytest.raises(ValueError, match="category elementwise is already registered"):
        registry.register_category_convention(ELEMENTWISE, PerElement(2))
    with pytest.raises(ValueError, match="FLOP formula goes with category 'matmul'"):
        registry.register_op("mylib.new_op", category=MATMUL)  # a matmul without a formula
    assert {op: registry.entry(op) for op in before} == before


def test_kind_names_the_matmul_class_and_category_stays_matmul():
    assert kind("aten.mm") == kind("aten.mm.default") == kind(torch.ops.aten.mm.default) == MATMUL
    assert kind(torch.ops.aten.addmm) == kind("aten::_grouped_mm") == MATMUL
    assert kind("aten.convolution.default") == kind("aten.convolution_backward") == "conv"
    assert kind(torch.ops.aten._scaled_dot_product_flash_attention_for_cpu) == "attention"
    assert kind("aten._scaled_dot_product_efficient_attention.default") == "attention"
    assert kind("aten._native_multi_head_attention.default") == "attention"
    assert kind("higher_order.flex_attention") == "attention"
    assert kind("aten.add.Tensor") == kind("aten.add") == kind(torch.ops.aten.add) == ELEMENTWISE
    assert kind("aten.cat.default") == MEMORY
    assert kind("aten.linalg_eigh.default") == UNSUPPORTED
    for name in ("aten.convolution.default", "aten._scaled_dot_product_flash_attention.default"):
        assert category(name) == MATMUL
    conv = profile(nn.Conv2d(3, 2, 3), torch.randn(1, 3, 6, 6))
    assert [op.category for op in conv.ops] == [MATMUL]


def test_every_torch_formula_has_the_kind_its_name_says():
    """Guards a newer torch adding, say, a conv variant: it must not pass as a plain matmul."""
    for op in torch_flops.flop_registry:
        name = str(op) if not isinstance(op, torch._ops.HigherOrderOperator) else op.name()
        expected = "conv" if "conv" in name else "attention" if "attention" in name else MATMUL
        assert kind(op) == expected, name


# --- grouped convolution backward, input gradients (issue 19) ------------------------------


def test_depthwise_conv_backward_is_two_forwards_without_bias():
    """grad-input and grad-weight each cost one forward's MACs; torch's conv_backward_flop
    multiplies grad-weight by `groups` (it would say 65 forwards here)."""
    conv = nn.Conv2d(64, 64, 7, padding=3, groups=64)
    x = torch.randn(1, 64, 56, 56, requires_grad=True)
    result = profile(conv, x, backward=True)
    forward = 2 * 64 * 56 * 56 * 7 * 7  # hand count: 1 input channel per output channel
    assert result.flops.forward == forward
    assert result.flops.backward == 2 * forward
    # the bias gradient (one add per grad_out element) is per-element work, in flops_all only
    assert result.flops.backward_all - result.flops.backward == 64 * 56 * 56


@pytest.mark.parametrize("groups,transposed", [(4, False), (8, False), (4, True)])
def test_grouped_conv_backward_equals_the_layer_split_into_groups(groups, transposed):
    """The same layer as `groups` separate ungrouped convolutions (where torch is right),
    counted by FlopCounterMode on real tensors."""
    cin, cout, k = 16, 32, 3
    make = nn.ConvTranspose2d if transposed else nn.Conv2d
    grouped = make(cin, cout, k, padding=1, groups=groups, bias=False)
    x = torch.randn(2, cin, 12, 12, requires_grad=True)
    result = profile(grouped, x, backward=True)
    parts = [make(cin // groups, cout // groups, k, padding=1, bias=False) for _ in range(groups)]
    xs = [torch.randn(2, cin // groups, 12, 12, requires_grad=True) for _ in range(groups)]
    with FlopCounterMode(display=False) as counter:
        sum(part(xi).sum() for part, xi in zip(parts, xs)).backward()
    assert result.flops.forward + result.flops.backward == counter.get_total_flops()
    assert result.flops.backward == 2 * result.flops.forward


def test_input_that_requires_grad_gets_its_gradient_like_torch_counts_it():
    """resnet18 on an input with requires_grad: the first conv's grad-input is counted, and
    forward + backward equal FlopCounterMode on real tensors (no grouped convs there)."""
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.resnet18()
    x = torch.randn(1, 3, 224, 224, requires_grad=True)
    with FlopCounterMode(display=False) as counter:
        model(x).sum().backward()
    model.zero_grad(set_to_none=True)
    x.grad = None
    with_grad = profile(model, x, backward=True)
    assert with_grad.flops.forward + with_grad.flops.backward == counter.get_total_flops()
    assert x.grad is None  # the capture differentiates its own leaf, not the user's tensor
    without = profile(model, x.detach(), backward=True)
    first_conv = 2 * 64 * 112 * 112 * 3 * 7 * 7  # conv1's forward MACs x 2 = its grad-input
    assert with_grad.flops.backward - without.flops.backward == first_conv
    assert profile(model, x.detach(), backward=True, input_grad=True).flops.backward == \
        with_grad.flops.backward
