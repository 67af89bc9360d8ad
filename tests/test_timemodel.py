"""The calibrated op-time model, its fit, the interconnect, and the shipped GPU curves."""

import subprocess
import sys
from pathlib import Path

import pytest

from modellens.hardware import Interconnect, chips_yaml, get_chip, load_chips
from modellens.hardware.fit import Sample, errors, fit_time_model, mape
from modellens.hardware.timemodel import TimeModel, interpolate, parse_time_model, wave_efficiency

ROOT = Path(__file__).parents[1]


def test_interpolation_is_linear_in_log_size_and_flat_beyond_the_ends():
    curve = ((1e3, 0.2), (1e5, 0.6))
    assert interpolate(curve, 1e4) == pytest.approx(0.4)
    assert interpolate(curve, 10) == 0.2
    assert interpolate(curve, 1e9) == 0.6
    assert interpolate((), 123) == 1.0


def test_wave_quantization_of_a_gemm():
    # 108 SMs, 128x128 tiles: a 4096x4096 output is 1024 tiles = 9.48 waves -> 10 waves
    assert wave_efficiency(4096, 4096, (128, 128), 108) == pytest.approx(1024 / 1080)
    # one row more pads a whole row of tiles: 33 x 32 tiles, 1056 / 1080, times 4097/4224 rows
    assert wave_efficiency(4097, 4096, (128, 128), 108) == pytest.approx(
        (4097 / (33 * 128)) * 1056 / 1080)
    assert wave_efficiency(1, 4096, (128, 128), 108) == pytest.approx(1 / 128 * 32 / 108)


def test_op_time_is_overhead_plus_the_slower_side():
    model = TimeModel(compute={"matmul": ((1e9, 0.5),)}, memory={"default": ((1e6, 0.25),)},
                      overhead_s={"default": 2e-6, "view": 1e-6})
    # compute: 1e9 / (1e12 * 0.5) = 2 ms; memory: 1e6 / (1e9 * 0.25) = 4 ms
    timing = model.op_time("matmul", 1e9, 1e6, peak=1e12, bandwidth=1e9)
    assert timing.compute_time_s == pytest.approx(2e-3)
    assert timing.memory_time_s == pytest.approx(4e-3)
    assert timing.time_s == pytest.approx(4e-3 + 2e-6)
    assert timing.bound == "memory"
    assert model.op_time("view", 0, 0, 1e12, 1e9).time_s == 1e-6
    roofline = TimeModel.ROOFLINE.op_time("matmul", 1e9, 2e6, peak=1e12, bandwidth=1e9)
    assert roofline.time_s == pytest.approx(2e-3) and roofline.bound == "memory"


def test_chip_uses_matrix_peak_for_matrix_classes_only():
    chip = get_chip("a100").with_time_model(TimeModel.ROOFLINE)
    assert chip.op_time("matmul", 312e12, 0, "bfloat16").time_s == pytest.approx(1.0)
    assert chip.op_time("conv", 312e12, 0, "bfloat16").time_s == pytest.approx(1.0)
    assert chip.op_time("elementwise", 19.5e12, 0, "bfloat16").time_s == pytest.approx(1.0)
    assert chip.ridge_point("bfloat16") == pytest.approx(312e12 / 2.039e12)


def _synthetic(model: TimeModel, op_class: str, sizes, peak=1e12, bandwidth=1e11):
    samples = []
    for flops, nbytes in sizes:
        seconds = model.op_time(op_class, flops, nbytes, peak, bandwidth).time_s
        samples.append(Sample(op_class, flops, nbytes, peak, bandwidth, seconds))
    return samples


def test_fit_recovers_a_known_model_on_held_out_sizes():
    truth = TimeModel(compute={"matmul": ((1e6, 0.1), (1e9, 0.6), (1e12, 0.9))},
                      memory={"elementwise": ((1e3, 0.05), (1e6, 0.5), (1e9, 0.8))},
                      overhead_s={"default": 3e-6})
    grid = [10 ** (e / 4) for e in range(24, 49)]
    train = (_synthetic(truth, "matmul", [(f, f / 1000) for f in grid[::2]])
             + _synthetic(truth, "elementwise", [(b / 8, b) for b in [g / 1e3 for g in grid[::2]]]))
    held_out = (_synthetic(truth, "matmul", [(f, f / 1000) for f in grid[1::2]])
                + _synthetic(truth, "elementwise", [(b / 8, b) for b in [g / 1e3 for g in grid[1::2]]]))
    fitted = fit_time_model(train, overhead_s={"default": 3e-6}, points_per_decade=4)
    assert mape(fitted, held_out) < 0.05
    assert mape(TimeModel.ROOFLINE, held_out) > 0.3  # the plain roofline is far off


def test_time_model_round_trips_through_yaml(tmp_path):
    chip = get_chip("h100")
    assert not chip.time_model.is_roofline
    path = tmp_path / "chip.yaml"
    path.write_text(chips_yaml([chip]))
    loaded = next(iter(load_chips(str(path)).values()))
    assert loaded.time_model == chip.time_model
    assert loaded.interconnect == chip.interconnect


def test_bad_time_model_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown op class 'gemm'"):
        parse_time_model({"compute": {"gemm": [[1, 0.5]]}}, "x")
    with pytest.raises(ValueError, match="efficiencies"):
        parse_time_model({"memory": {"norm": [[1, 0]]}}, "x")


def test_ring_all_reduce_time():
    link = Interconnect("nvlink", bus_bandwidth=100e9, latency_s=10e-6)
    # 2 (n - 1) / n of the bytes cross each link: 4 GPUs, 100 MB -> 1.5 ms + latency
    assert link.all_reduce_time(100e6, 4) == pytest.approx(10e-6 + 1.5 * 100e6 / 100e9)
    assert link.all_reduce_time(100e6, 1) == 0.0


def test_shipped_gpu_curves_are_what_the_public_measurements_fit():
    """The A100/H100 curves are regenerated from benchmarks/calibration/data and match the
    shipped file; the script also prints the validation errors (docs/validation.md)."""
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks/calibration/fit_gpu.py"),
                          "--check"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    matmul = [line for line in run.stdout.splitlines() if " matmul " in line]
    assert len(matmul) == 2
    for line in matmul:  # validation (held-out models) MAPE of GEMMs
        assert float(line.split("MAPE")[1].split("%")[0]) <= 10.0


def test_calibrated_gemm_times_on_shipped_chips_are_near_measured_ones():
    """Held-out vidur rows (Llama-2-70B shapes on A100, fp16 kernel times)."""
    a100 = get_chip("a100")
    up_proj = a100.op_time("matmul", 2 * 4096 * 57344 * 8192,
                           2 * (4096 * 8192 + 8192 * 57344 + 4096 * 57344), "float16",
                           (4096, 57344))
    assert up_proj.time_s == pytest.approx(0.0159, rel=0.1)  # measured 15.9 ms
    decode = a100.op_time("matmul", 2 * 1 * 57344 * 8192,
                          2 * (8192 + 8192 * 57344 + 57344), "float16", (1, 57344))
    assert decode.bound == "memory"
    assert decode.time_s == pytest.approx(580e-6, rel=0.1)  # measured 0.58 ms (1.6 TB/s)


def test_errors_are_signed_relative():
    sample = Sample("matmul", 1e12, 0, 1e12, 1e9, 2.0)
    assert errors(TimeModel.ROOFLINE, [sample]) == [pytest.approx(-0.5)]


def test_cold_weights_add_their_stream_time_to_the_ops_that_read_them():
    model = TimeModel(overhead_s={"default": 1e-6}, weight_stream_bandwidth=2e10)
    hot = model.op_time("matmul", 1e9, 1e6, 1e12, 1e11)
    cold = model.op_time("matmul", 1e9, 1e6, 1e12, 1e11, weight_bytes=4e6)
    assert cold.time_s - hot.time_s == pytest.approx(4e6 / 2e10)
    assert cold.memory_time_s - hot.memory_time_s == pytest.approx(4e6 / 2e10)
    assert not model.is_roofline
    parsed = parse_time_model(model.to_dict(), "chip")
    assert parsed.weight_stream_bandwidth == 2e10
    with pytest.raises(ValueError, match="weight_stream_bandwidth"):
        parse_time_model({"weight_stream_bandwidth": -1}, "chip")


def test_a_model_pays_the_stream_of_exactly_its_matmul_weights():
    import dataclasses

    import torch
    from torch import nn

    from modellens.analysis import Analysis
    from modellens.capture import FORWARD, SampleInputs, capture

    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 32, bias=False))
    analysis = Analysis(capture(model, lambda: SampleInputs((torch.randn(8, 64),))))
    chip = get_chip("a100")
    streaming = chip.with_time_model(dataclasses.replace(chip.time_model,
                                                         weight_stream_bandwidth=1e9))
    extra = (analysis.roofline(streaming).phase(FORWARD).time_s
             - analysis.roofline(chip).phase(FORWARD).time_s)
    weights = (64 * 128 + 128 + 128 * 32) * 4  # fp32 weights and the bias, read once
    assert extra == pytest.approx(weights / 1e9, rel=1e-9)


def test_depthwise_convolutions_are_their_own_class_and_fall_back_to_conv():
    import torch
    from torch import nn

    from modellens.analysis import Analysis
    from modellens.analysis.timeclass import time_class
    from modellens.capture import SampleInputs, capture

    def conv_class(conv: nn.Conv2d) -> str:
        analysis = Analysis(capture(conv, lambda: SampleInputs((torch.randn(1, 64, 14, 14),))))
        return next(time_class(op, cost) for op, cost in analysis.items()
                    if op.packet == "aten.convolution")

    assert conv_class(nn.Conv2d(64, 64, 7, padding=3, groups=64)) == "conv_depthwise"
    assert conv_class(nn.Conv2d(64, 64, 3, padding=1)) == "conv"
    assert conv_class(nn.Conv2d(64, 64, 3, padding=1, groups=2)) == "conv"
    model = TimeModel(compute={"conv": ((1e6, 0.5),)})
    assert model.eta_compute("conv_depthwise", 1e6) == 0.5
    model = TimeModel(compute={"conv": ((1e6, 0.5),), "conv_depthwise": ((1e6, 0.1),)})
    assert model.eta_compute("conv_depthwise", 1e6) == 0.1


def test_shape_table_returns_an_exact_probe_and_blends_the_nearest_by_inverse_distance():
    from modellens.hardware.timemodel import shape_eta

    table = ((128.0, 768.0, 768.0, 0.8), (128.0, 3072.0, 768.0, 0.2), (1.0, 768.0, 768.0, 0.05),
             (2048.0, 4096.0, 4096.0, 0.9))
    assert shape_eta(table, 128, 768, 768) == 0.8
    # halfway in log(n) between the first two: equal weights, the geometric mean 0.4; the
    # third and fourth are farther and pull it by their (smaller) weights
    import math
    point = (math.log(128), math.log(1536), math.log(768))
    distances = [math.dist(point, tuple(map(math.log, p[:3]))) for p in table]
    nearest = sorted(zip(distances, (p[3] for p in table)))[:3]
    weights = [1 / d for d, _ in nearest]
    expected = math.exp(sum(w * math.log(e) for w, (_, e) in zip(weights, nearest)) / sum(weights))
    assert shape_eta(table, 128, 1536, 768) == pytest.approx(expected)
    assert 0.2 < expected < 0.8


def test_a_shape_table_times_gemms_and_convs_by_their_shape_not_their_flops():
    table = ((128.0, 3072.0, 768.0, 0.8), (3072.0, 128.0, 768.0, 0.2))
    model = TimeModel(compute={"matmul": ((1e6, 1.0),)}, overhead_s={"default": 1e-6},
                      shapes={"matmul": table, "conv": table})
    flops = 2 * 128 * 3072 * 768  # the same work, two shapes
    wide = model.op_time("matmul", flops, 1e3, peak=1e12, bandwidth=1e12, gemm=(128, 3072))
    tall = model.op_time("matmul", flops, 1e3, peak=1e12, bandwidth=1e12, gemm=(3072, 128))
    assert wide.time_s == pytest.approx(1e-6 + flops / (1e12 * 0.8))
    assert tall.time_s == pytest.approx(1e-6 + flops / (1e12 * 0.2))
    # conv_depthwise falls back to conv's table; without dims the FLOPs curve is used
    assert model.op_time("conv_depthwise", flops, 1e3, 1e12, 1e12, (128, 3072)).time_s == \
        pytest.approx(wide.time_s)
    assert model.op_time("matmul", flops, 1e3, 1e12, 1e12).time_s == \
        pytest.approx(1e-6 + flops / 1e12)


def test_fit_builds_shape_tables_that_reproduce_their_probes():
    peak = 1e11
    samples = [Sample("matmul", 2 * m * n * k, 1e3, peak, 1e12, 1e-6 + 2 * m * n * k / (peak * eta),
                      (m, n)) for m, n, k, eta in ((128, 768, 768, 0.7), (1, 768, 768, 0.05))]
    samples.append(Sample("conv", 2 * 3136 * 64 * 576, 1e3, peak, 1e12,
                          1e-6 + 2 * 3136 * 64 * 576 / (peak * 0.9), (3136, 64)))
    model = fit_time_model(samples, overhead_s={"default": 1e-6}, shape_tables=True)
    assert model.shapes["matmul"] == ((1.0, 768.0, 768.0, 0.05), (128.0, 768.0, 768.0, 0.7))
    assert model.shapes["conv"] == ((3136.0, 64.0, 576.0, 0.9),)
    assert mape(model, samples) < 1e-3
    assert not fit_time_model(samples, overhead_s={"default": 1e-6}).shapes


def test_shape_tables_round_trip_and_bad_ones_are_clear_errors():
    model = TimeModel(shapes={"matmul": ((1.0, 768.0, 768.0, 0.05),)})
    assert parse_time_model(model.to_dict(), "x") == model
    with pytest.raises(ValueError, match="shape table is for"):
        parse_time_model({"shapes": {"norm": [[1, 1, 1, 0.5]]}}, "x")
    with pytest.raises(ValueError, match=r"\[m, n, k, eta\]"):
        parse_time_model({"shapes": {"matmul": [[1, 1, 0.5]]}}, "x")


def test_a_convolution_is_timed_as_its_implicit_gemm():
    import torch
    from torch import nn

    from modellens.analysis import Analysis
    from modellens.analysis.timeclass import gemm_dims, time_class
    from modellens.capture import SampleInputs, capture

    conv = nn.Conv2d(64, 128, 3, stride=2, padding=1)
    analysis = Analysis(capture(conv, lambda: SampleInputs((torch.randn(2, 64, 56, 56),))))
    op, cost = next((op, cost) for op, cost in analysis.items() if op.packet == "aten.convolution")
    m, n = gemm_dims(op, time_class(op, cost))
    assert (m, n) == (2 * 28 * 28, 128)
    assert cost.flops / (2 * m * n) == 64 * 9  # k: input channels x kernel


def test_a_chip_peak_takes_the_short_dtype_names_of_its_table():
    chip = get_chip("a100")
    assert chip.peak("bf16") == chip.peak("bfloat16") == chip.peak_flops["bf16"]
    assert chip.peak("fp16") == chip.peak("float16")
    assert chip.peak("fp32") == chip.peak("float32")
    assert chip.peak("bf16") > 10 * chip.peak("fp32")  # matrix bf16, not the fp32 rate


def test_weight_stream_bandwidth_is_one_over_the_median_extra_seconds_per_byte(monkeypatch):
    """Chain (cold) against one layer called as often (hot), per row count: the extra time per
    weight byte of each, its median, inverted; a chain no faster counts as no extra."""
    import torch

    from modellens.measure import clock
    from modellens.tasks import characterize

    monkeypatch.setattr(characterize, "STREAM_LAYERS", 2)
    monkeypatch.setattr(characterize, "STREAM_SHAPE", (8, 4))
    monkeypatch.setattr(characterize, "STREAM_ROUNDS", 1)
    weight = 8 * 4 * 4  # one fp32 layer
    # (cold, hot) seconds for the chain per row count: extra per layer 2e-6, -1e-6 (-> 0), 6e-6
    pairs = iter([(10e-6, 6e-6), (4e-6, 6e-6), (20e-6, 8e-6)])
    answers = iter(seconds for pair in pairs for seconds in pair)
    monkeypatch.setattr(clock, "measure",
                        lambda fn, device, **kw: clock.Measurement(1.0, next(answers), 1.0, 1))
    extra_per_byte = sorted([2e-6 / weight, 0.0, 6e-6 / weight])[1]
    assert characterize.weight_stream_bandwidth(torch.device("cpu"), torch.float32) == \
        pytest.approx(1 / extra_per_byte)
