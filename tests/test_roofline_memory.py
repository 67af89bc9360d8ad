"""Roofline, hardware table and memory liveness on hand-computed cases."""

import pytest
import torch
from torch import nn

from modellens import profile
from modellens.analysis.roofline import roofline_time
from modellens.errors import HardwareError
from modellens.hardware import get_chip, load_chips


def test_roofline_time_is_the_max_of_compute_and_memory():
    assert roofline_time(1e12, 1e9, 1e12, 1e12) == (1.0, 1.0, 0.001)
    assert roofline_time(1e9, 1e12, 1e12, 1e12) == (1.0, 0.001, 1.0)


def test_every_shipped_chip_is_complete():
    chips = load_chips()
    assert len(chips) >= 20
    for chip in chips.values():
        assert chip.memory_bandwidth > 0 and chip.memory_bytes > 0 and chip.source
        assert chip.peak("bfloat16") > 0 and chip.peak("float32") > 0


def test_chip_lookup_by_alias_and_user_yaml(tmp_path):
    assert get_chip("A100").id == "a100-sxm-80gb"
    assert get_chip("h100").peak("bfloat16") == pytest.approx(989.4e12)
    user = tmp_path / "chip.yaml"
    user.write_text("chips:\n  mychip:\n    peak_flops: {bf16: 1.0e+12}\n    memory_bandwidth: 1.0e+11\n")
    chip = get_chip(str(user))
    assert chip.id == "mychip" and chip.ridge_point("bfloat16") == pytest.approx(10.0)
    with pytest.raises(HardwareError, match="did you mean"):
        get_chip("a10O")


def test_matmul_bound_follows_intensity():
    """A [1, K] x [K, N] matmul (a decode step) is memory-bound; a large square one compute-bound."""
    chip = "h100"
    small = profile(nn.Linear(4096, 4096, bias=False), torch.randn(1, 4096), hardware=chip)
    big = profile(nn.Linear(4096, 4096, bias=False), torch.randn(4096, 4096), hardware=chip)
    [small_mm] = [r for r in small.ops if r.category == "matmul"]
    [big_mm] = [r for r in big.ops if r.category == "matmul"]
    assert small_mm.bound == "memory" and big_mm.bound == "compute"
    weight_bytes = 4096 * 4096 * 4
    assert small_mm.bytes_read == weight_bytes + 4096 * 4
    assert small_mm.time_s == pytest.approx((weight_bytes + 2 * 4096 * 4) / get_chip(chip).memory_bandwidth)


def test_memory_breakdown_of_a_chain():
    """Linear chain: activations are each layer's output; peak is two neighbours alive at once."""
    model = nn.Sequential(nn.Linear(100, 200), nn.ReLU(), nn.Linear(200, 50))
    result = profile(model, torch.randn(10, 100))
    memory = result.memory
    assert memory.weights_bytes == 4 * (100 * 200 + 200 + 200 * 50 + 50)
    assert memory.inputs_bytes == 10 * 100 * 4
    assert memory.outputs_bytes == 10 * 50 * 4
    assert memory.activations_bytes == 4 * (10 * 200 + 10 * 200 + 10 * 50)
    assert memory.peak_activations_bytes == 4 * (10 * 200 + 10 * 200)
