"""Figures pinned against independent values (datasheets, hand counts, brute force), so that a
deliberate break of any of them fails a test (docs/DEVELOPING.md, "Mutation testing")."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
import torch
from rich.console import Console
from torch import nn

import modellens
from modellens.analysis.roofline import roofline_time
from modellens.analysis.training import tokens_per_day
from modellens.hardware import get_chip
from modellens.report.console.profile import compute_rows, module_table

A100_BF16, A100_FP32, A100_BW = 312e12, 19.5e12, 2.039e12  # NVIDIA A100 80GB SXM datasheet


def test_vector_and_matrix_peaks_are_the_datasheets():
    a100 = get_chip("a100")
    assert a100.peak("bfloat16") == A100_BF16  # tensor cores
    assert a100.peak("bfloat16", matmul=False) == A100_FP32  # vector units: the fp32 rate
    assert a100.peak("float32") == A100_FP32  # plain fp32, not TF32 (opt-in in torch)
    assert a100.peak("float32", matmul=False) == A100_FP32
    h100 = get_chip("h100")
    assert h100.peak("bfloat16", matmul=False) == 66.9e12  # H100 SXM fp32 (vector)


def test_ridge_point_is_peak_over_bandwidth():
    a100 = get_chip("a100")
    assert a100.ridge_point("bfloat16") == pytest.approx(153.02, abs=0.01)  # 312e12 / 2.039e12
    assert a100.ridge_point("float32") == pytest.approx(9.563, abs=0.001)  # 19.5e12 / 2.039e12


def test_roofline_time_by_hand():
    # 1 GFLOP and 1 MB on a 1 TFLOP/s, 1 GB/s chip: compute 1 ms, memory 1 ms -> 1 ms
    assert roofline_time(1e9, 1e6, 1e12, 1e9) == (pytest.approx(1e-3),) * 3
    assert roofline_time(4e9, 1e6, 1e12, 1e9) == pytest.approx((4e-3, 4e-3, 1e-3))
    assert roofline_time(1e9, 3e6, 1e12, 1e9) == pytest.approx((3e-3, 1e-3, 3e-3))


def test_tokens_per_day_by_hand():
    # 40 % MFU of 8 × 312 TFLOP/s at 6 × 7e9 FLOPs per token: 23,771.4 tokens/s
    assert tokens_per_day(42e9, A100_BF16, 8, 0.4) == pytest.approx(2_053_851_428.6, rel=1e-9)
    assert tokens_per_day(42e9, A100_BF16, 1, 1.0) == pytest.approx(312e12 / 42e9 * 86_400)


def _brute_force(limit: int, cost_of) -> int:
    """The largest n >= 0 with cost_of(n) <= limit, by counting up."""
    n = 0
    while cost_of(n + 1) <= limit:
        n += 1
    return n


def test_max_batch_and_context_against_a_brute_force_search():
    from modellens.tasks.llm import MEMORY_HEADROOM, _fit

    kv, peak, weights, batch, prompt, gen = 1_000, 64_000, 5_000_000, 4, 32, 8
    prefill = SimpleNamespace(kv_per_token=kv, peak_activations=peak, weights_bytes=weights)
    chip = SimpleNamespace(memory_bytes=10_000_000)
    fit = _fit(prefill, batch, prompt, gen, chip, gpus=1)
    available = int(10_000_000 * MEMORY_HEADROOM)
    context = prompt + gen
    assert (fit.available, fit.kv_cache_bytes) == (available, kv * batch * context)
    assert fit.needed == weights + kv * batch * context + peak
    # b sequences of the full context, each with its share of the prefill activations
    assert fit.max_batch == _brute_force(
        available, lambda b: weights + b * (kv * context + peak // batch))
    # c tokens of context for the batch, activations growing with the prompt's per-token share
    assert fit.max_context == _brute_force(
        available, lambda c: weights + c * (kv * batch + peak // prompt))
    # (9e6 - 5e6) // (1e3 · 40 + 64e3 / 4) and // (1e3 · 4 + 64e3 / 32)
    assert (fit.max_batch, fit.max_context) == (71, 666)


def _linear_profile():
    return modellens.profile(nn.Sequential(nn.Linear(10, 6)), torch.randn(4, 10))


def test_the_macs_column_is_half_the_flops():
    result = _linear_profile()
    macs = 4 * 10 * 6  # hand count of the linear's multiply-adds
    assert (result.flops.forward, result.macs, result.flops.forward_macs) == (2 * macs, macs, macs)
    rows = dict(compute_rows(result, "macs"))
    assert rows["Forward MACs (matmul-class)"].endswith(f"({macs:,})")
    assert dict(compute_rows(result))["Forward MACs"].endswith(f"({macs:,})")
    console = Console(file=io.StringIO(), width=200)
    console.print(module_table(result, unit="macs"))
    table = console.file.getvalue()
    assert "MACs" in table and "(matmul)" in table and "240" in table and "480" not in table
    assert result.to_dict()["macs"]["forward"] == macs
    costs = [cost for op, cost in result.analysis.items() if op.packet == "aten.addmm"]
    assert [cost.macs for cost in costs] == [macs]  # OpCost.macs, the per-op figure


@pytest.mark.parametrize("model, shape, backward_op, per_element", [
    (nn.LayerNorm(10), (4, 10), "aten.native_layer_norm_backward.default", 10),
    (nn.Softmax(-1), (4, 10), "aten._softmax_backward_data.default", 4),
])
def test_backward_per_element_conventions(model, shape, backward_op, per_element):
    net = nn.Sequential(nn.Linear(10, 10), model)
    result = modellens.profile(net, torch.randn(*shape), backward=True)
    counted = [op.flops_all for op in result.ops if op.name == backward_op]
    assert counted == [per_element * 40]


def test_ring_all_reduce_edges():
    from modellens.hardware import Interconnect

    link = Interconnect("link", bus_bandwidth=100e9, latency_s=10e-6)
    assert link.all_reduce_time(100e6, 2) == pytest.approx(10e-6 + 1.0 * 100e6 / 100e9)
    assert link.all_reduce_time(0, 4) == 0.0  # nothing to reduce: no latency either
    assert link.all_reduce_time(1, 4) == pytest.approx(10e-6 + 1.5 / 100e9)


def test_wave_efficiency_with_a_rectangular_tile():
    from modellens.hardware.timemodel import wave_efficiency

    # 300 × 128 useful in two 256 × 128 tiles, one wave on two units: 300 / 512
    assert wave_efficiency(300, 128, (256, 128), 2) == pytest.approx(300 / 512)
    # three tiles on two units: two waves, the second half empty
    assert wave_efficiency(600, 128, (256, 128), 2) == pytest.approx(600 / 768 * 3 / 4)


@pytest.mark.parametrize("name, matmul_like", [
    ("mylib.my_gemm.default", True), ("custom.conv_thing.default", True),
    ("torchvision.roi_align.default", False), ("aten.relu.default", False),
    ("conv.relu.default", False),  # the namespace is not the op's name
    ("aten.relu.mm", False),  # nor is the overload
    ("mylib.fused_attn.default", True), ("mylib.bmm.out", True),
])
def test_looks_like_matmul(name, matmul_like):
    from modellens.analysis.flops import looks_like_matmul

    assert looks_like_matmul(name) is matmul_like


@pytest.mark.parametrize("op, kind_name", [
    ("aten.mm", "matmul"), ("aten.addmm", "matmul"), ("aten.bmm", "matmul"),
    ("aten.convolution", "conv"), ("aten.convolution_backward", "conv"),
    ("aten._scaled_dot_product_efficient_attention", "attention"),
    ("aten._scaled_dot_product_flash_attention_for_cpu", "attention"),
    ("aten._native_multi_head_attention", "attention"), ("aten._grouped_mm", "matmul"),
])
def test_kinds_of_matmul_class_ops(op, kind_name):
    from modellens.costing.registry import kind

    assert kind(op) == kind_name
