"""Issue 12: honest, complete, extensible counting."""

import pytest
import torch
from torch import nn

from modellens import profile, register_bytes_formula
from modellens.analysis.flops import looks_like_matmul
from modellens.costing.registry import unregister_bytes_formula
from modellens.tasks.sweep import fit_quadratic, profile_sweep


@pytest.mark.parametrize("spec", ["gpt2", "tv:resnet50", "bert-base-uncased", "t5-small"])
def test_module_totals_add_up_on_real_models(profiled, spec):
    """Inclusive totals: parent = own ops + children, for FLOPs, bytes and params; root = total."""
    result = profiled(spec)
    by_path = {m.path: m for m in result.modules}
    children: dict[str, list] = {}
    for m in result.modules:
        if m.parent is not None:
            children.setdefault(m.parent, []).append(m)
    for path, kids in children.items():
        parent = by_path[path]
        assert parent.params == parent.own_params + sum(k.params for k in kids)
        assert parent.flops == parent.own_flops + sum(k.flops for k in kids)
        assert parent.flops >= sum(k.flops for k in kids)
    root = by_path[""]
    assert root.params == result.params.total
    assert root.flops == result.flops.forward
    assert root.bytes == sum(r.bytes for r in result.ops if r.phase == "forward")


def test_mixtral_active_flops_are_two_of_eight_experts(profiled):
    result = profiled("mistralai/Mixtral-8x7B-v0.1")
    moe = result.moe
    layers, hidden, ffn, experts, top_k, vocab, seq = 32, 4096, 14336, 8, 2, 32000, 128
    kv = 1024  # 8 KV heads × 128
    attention_params = hidden * hidden * 2 + hidden * kv * 2
    expert_params = 3 * hidden * ffn
    router = experts * hidden
    assert moe.num_experts == experts and moe.experts_per_token == top_k
    assert moe.expert_params == layers * experts * expert_params
    norms = (2 * layers + 1) * hidden
    total = layers * (attention_params + router + experts * expert_params) + 2 * vocab * hidden + norms
    assert moe.total_params == total == result.params.total
    active_matmul = layers * (attention_params + router + top_k * expert_params) + vocab * hidden
    attention_scores = 4 * seq * seq * layers * hidden
    assert moe.forward_flops_active == 2 * seq * active_matmul + attention_scores
    every = layers * (attention_params + router + experts * expert_params) + vocab * hidden
    assert moe.forward_flops_all_experts == 2 * seq * every + attention_scores
    assert moe.active_params == total - layers * (experts - top_k) * expert_params


def test_uncounted_matmul_class_op_is_warned():
    assert looks_like_matmul("aten.linalg_matmul_fancy.default")
    assert looks_like_matmul("mylib.fused_gemm.default")
    assert not looks_like_matmul("aten.linalg_eigh.default")

    class Eig(nn.Module):
        def forward(self, x):
            return torch.linalg.eigh(x @ x.T)[0]

    result = profile(Eig(), torch.randn(4, 4))
    [unsupported] = result.unsupported
    assert unsupported.name == "aten._linalg_eigh.default"
    assert unsupported.count == 1 and unsupported.example_shapes == [[4, 4]]
    assert not any(n.startswith("WARNING") for n in result.notes)


def test_custom_bytes_formula_is_used():
    model = nn.Sequential(nn.ReLU())
    x = torch.randn(10, 10)
    before = [r for r in profile(model, x).ops if r.name == "aten.relu.default"][0]
    assert before.bytes_read == before.bytes_written == 400

    @register_bytes_formula("aten.relu")
    def _(inputs, outputs):
        return 1, 2

    try:
        after = [r for r in profile(model, x).ops if r.name == "aten.relu.default"][0]
        assert (after.bytes_read, after.bytes_written) == (1, 2)
    finally:
        unregister_bytes_formula("aten.relu")


def test_sequence_sweep_fits_the_megatron_coefficients():
    """GPT-2 FLOPs(s) = (24·L·h² + 2·h·V)·s + 4·L·h·s²: the fit recovers both terms."""
    sweep = profile_sweep("distilgpt2", seq_lens=[64, 128, 256])
    layers, hidden, vocab = 6, 768, 50257
    fit = next(f for f in sweep.fits if f.quantity == "flops")
    assert fit.b == pytest.approx(24 * layers * hidden**2 + 2 * hidden * vocab, rel=1e-6)
    assert fit.c == pytest.approx(4 * layers * hidden, rel=1e-6)
    assert fit.max_relative_error < 1e-9


def test_fit_of_two_points_is_linear():
    fit = fit_quadratic([1, 3], [5.0, 11.0], "x")
    assert (fit.a, fit.b, fit.c) == pytest.approx((2.0, 3.0, 0.0))
