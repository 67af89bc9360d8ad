"""Roofline, hardware table and memory liveness on hand-computed cases."""

import pytest
import torch
from torch import nn

from modellens import profile
from modellens.analysis.roofline import roofline_time
from modellens.errors import HardwareError
from modellens.hardware import get_chip, load_chips
from modellens.hardware.timemodel import OpTime


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
    small = profile(nn.Linear(4096, 4096, bias=False), torch.randn(1, 4096), hardware=chip,
                    time_model="roofline")
    big = profile(nn.Linear(4096, 4096, bias=False), torch.randn(4096, 4096), hardware=chip,
                  time_model="roofline")
    [small_mm] = [r for r in small.ops if r.category == "matmul"]
    [big_mm] = [r for r in big.ops if r.category == "matmul"]
    assert small_mm.bound == "memory" and big_mm.bound == "compute"
    weight_bytes = 4096 * 4096 * 4
    assert small_mm.bytes_read == weight_bytes + 4096 * 4
    roofline = (weight_bytes + 2 * 4096 * 4) / get_chip(chip).memory_bandwidth
    assert small_mm.time_s == pytest.approx(roofline)
    # calibrated (the default): the same op under H100's measured curves, never below the roof
    calibrated = profile(nn.Linear(4096, 4096, bias=False), torch.randn(1, 4096), hardware=chip)
    [mm] = [r for r in calibrated.ops if r.category == "matmul"]
    expected = get_chip(chip).op_time("matmul", mm.flops_all, mm.bytes, "float32", (1, 4096))
    assert mm.time_s == pytest.approx(expected.time_s) and mm.time_s > roofline
    assert calibrated.bottleneck.roofline_time_s == pytest.approx(roofline)
    assert calibrated.bottleneck.time_model == "calibrated"


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


# ---------------------------------------------------------------- one per-op time function


def test_every_time_figure_goes_through_kernel_time(monkeypatch):
    """Replace the one per-kernel time function: profile's bottleneck and per-op times, an LLM
    step cost and the report's per-chip totals and op groups all follow it."""
    from modellens.analysis import kernels
    from modellens.analysis.inference import step_cost
    from modellens.report import html, view

    def one_microsecond(kernel, chip, *args, **kwargs):
        return OpTime(1e-6, 1e-6, 0.0, 0.0)

    monkeypatch.setattr(kernels.Kernel, "time", one_microsecond)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 8))
    result = profile(model, torch.randn(4, 64), backward=True, hardware=["h100", "l4"])
    forward = [r for r in result.ops if r.phase == "forward"]
    assert {r.time_s for r in result.ops} == {1e-6}
    assert result.bottleneck.predicted_time_s == pytest.approx(len(forward) * 1e-6)
    assert result.bottleneck.compute_bound_time_share == 1.0
    assert result.backward_bottleneck.predicted_time_s == pytest.approx(
        (len(result.ops) - len(forward)) * 1e-6)
    assert step_cost(result.analysis, get_chip("a100")).time_s == pytest.approx(len(forward) * 1e-6)
    for chip in (get_chip("h100"), get_chip("l4")):
        totals = view.chip_totals(result, chip, "forward")
        assert totals.time_s == result.bottleneck.predicted_time_s
        assert {result.timing(g.first, chip).time_s for g in view.op_groups(result, chip)} == {1e-6}
    groups = html.report_data(result, [get_chip("h100"), get_chip("l4")])["op_groups"]
    assert {t for g in groups for t in g["t"]} == {1e-6}


def test_chips_are_resolved_once_at_the_edge(monkeypatch):
    """Chip objects pass through every layer; names are looked up once each."""
    from modellens.analysis import roofline
    from modellens.tasks import pipeline

    chips = [get_chip("h100"), get_chip("a100")]
    monkeypatch.setattr(pipeline, "get_chip", lambda name: pytest.fail(f"resolved {name!r}"))
    result = profile(nn.Linear(8, 8), torch.randn(2, 8), hardware=chips + [get_chip("h100-sxm5")])
    assert result.hardware is chips[0] and result.bottleneck.hardware == "h100-sxm"
    # every chip asked for was timed by the task; renderers only read the timings
    monkeypatch.setattr(roofline, "time_ops", lambda *_: pytest.fail("timed again"))
    assert result.roofline(chips[1]).chip.id == chips[1].id


def test_a_chip_is_timed_once_per_analysis():
    result = profile(nn.Linear(8, 8), torch.randn(2, 8))
    chip = get_chip("l4")
    assert result.roofline(chip) is result.roofline(chip)
    lower = result.analysis.lower_bound(result.hardware)
    assert result.roofline(result.hardware).bottleneck(lower_bound=lower) == result.bottleneck


def test_views_cost_the_chips_dispatch_overhead():
    """A chip whose time model gives a view a fixed cost (a CPU: dispatch) adds it per view op
    to the phase's predicted time; the plain roofline gives views nothing."""
    from modellens.hardware.timemodel import TimeModel

    chip = get_chip("l4").with_time_model(TimeModel(overhead_s={"view": 1e-3}))
    model = nn.Sequential(nn.Linear(8, 8), nn.Flatten(0))
    result = profile(model, torch.randn(2, 8), hardware=chip)
    views = sum(1 for op, cost in result.analysis.items("forward")
                if not (cost.flops_all or cost.bytes))
    assert views >= 1
    rows = sum(r.time_s for r in result.ops if r.phase == "forward")
    assert result.bottleneck.predicted_time_s == pytest.approx(rows + views * 1e-3)
    assert result.bottleneck.roofline_time_s == pytest.approx(rows)
