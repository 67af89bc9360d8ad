"""Op-by-op replay on the CPU and `time_model`'s JSON contract (small modules: fast)."""

import json

import pytest
import torch
from torch import nn

from modellens.capture import FORWARD, SampleInputs, capture
from modellens.capture.records import OpRecord, TensorSpec
from modellens.measure import ops as replay
from modellens.measure.clock import measure


class Repeated(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(16, 16) for _ in range(3))
        self.embed = nn.Embedding(10, 16)

    def forward(self, ids):
        x = self.embed(ids)
        for layer in self.layers:
            x = torch.relu(layer(x))
        return x.half()


def _ops():
    model = Repeated()
    cap = capture(model, lambda: SampleInputs((torch.zeros(2, 4, dtype=torch.long),)),
                  replay_blocks=False)
    return [op for op in cap.ops if op.phase == FORWARD]


def test_unique_configs_count_every_call_once():
    ops = _ops()
    configs = replay.unique_configs(ops)
    assert sum(c.calls for c in configs) == len(ops)
    addmm = [c for c in configs if c.name == "aten.addmm.default"]
    assert len(addmm) == 1 and addmm[0].calls == 3  # three identical Linear layers
    assert configs[0].calls == max(c.calls for c in configs)  # most-called first


def test_every_config_of_a_real_model_materializes_and_matches_its_recorded_output():
    for config in replay.unique_configs(_ops()):
        out = replay.materialize(config, torch.device("cpu"))()
        outs = out if isinstance(out, (tuple, list)) else (out,)
        recorded = config.records[0].outputs
        for tensor, spec in zip([o for o in outs if isinstance(o, torch.Tensor)], recorded):
            assert tuple(tensor.shape) == spec.shape, config.name
            assert str(tensor.dtype).removeprefix("torch.") == spec.dtype, config.name


def test_a_failing_config_is_reported_with_its_error():
    spec = TensorSpec((4,), "float32", 0)
    op = OpRecord("aten.as_strided.default", "", FORWARD, (spec, [8], [1]), {}, (spec,))
    result = replay.time_config(replay.unique_configs([op])[0], torch.device("cpu"))
    assert result.seconds is None
    assert "RuntimeError" in result.error


def test_clock_measures_a_known_sleep_free_op():
    x = torch.ones(1000)
    m = measure(lambda: x.add_(1), torch.device("cpu"), max_s=0.05)
    assert 0 < m.min_s <= m.median_s <= m.max_s < 1e-3
    assert m.calls >= 3


def test_time_model_json_contract_and_cache(tmp_path, monkeypatch):
    from modellens.tasks import time as timing

    monkeypatch.setenv("MODELLENS_CACHE_DIR", str(tmp_path))
    model = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 8))
    result = timing.time_model(model, torch.randn(4, 32), hardware="a100")
    data = json.loads(json.dumps(result.to_dict()))
    assert data["schema_version"] == 1
    assert data["measured"]["end_to_end_s"] > 0
    assert data["measured"]["op_sum_s"] > 0
    assert data["predicted_s"] > 0
    row = data["ops"][0]
    for key in ("name", "shapes", "dtype", "calls", "measured_s", "predicted_s", "flops",
                "bytes"):
        assert key in row
    assert data["configs_measured"] == data["configs_total"] == len(data["ops"])
    op_sum = sum(r["measured_s"] * r["calls"] for r in data["ops"])
    assert data["measured"]["op_sum_s"] == pytest.approx(op_sum)

    def not_again(*args, **kwargs):
        raise AssertionError("cached configurations are not timed again")

    monkeypatch.setattr(timing, "time_config", not_again)
    again = timing.time_model(model, torch.randn(4, 32), hardware="a100", end_to_end=False)
    assert [r.measured_s for r in again.ops] == [r.measured_s for r in result.ops]
    assert again.measured.end_to_end_s is None


def test_time_model_without_a_time_model_says_how_to_get_one(tmp_path, monkeypatch):
    from modellens.tasks.time import time_model

    monkeypatch.setenv("MODELLENS_CACHE_DIR", str(tmp_path))
    result = time_model(nn.Linear(4, 4), torch.randn(1, 4), end_to_end=False)
    assert result.predicted_s is None and result.hardware is None
    assert any("hardware --measure" in note for note in result.notes)


def test_hardware_measure_writes_a_chip_that_hardware_accepts(tmp_path, monkeypatch):
    """`hardware --measure -o cpu.yaml` on a reduced probe set (speed), then the YAML is a chip
    whose time model predicts; it is also kept for `modellens time`."""
    from modellens.cli import main
    from modellens.hardware import load_chips
    from modellens.tasks import characterize

    monkeypatch.setenv("MODELLENS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(characterize, "GEMMS", [(8, 256, 256), (128, 768, 768)])
    monkeypatch.setattr(characterize, "CONVS", [(1, 16, 16, 3, 1, 28, 1)])
    monkeypatch.setattr(characterize, "SIZES", [2**12, 2**16])
    monkeypatch.setattr(characterize, "ATTENTION", [(1, 2, 16, 16)])
    monkeypatch.setattr(characterize, "STREAM_LAYERS", 4)
    monkeypatch.setattr(characterize, "STREAM_SHAPE", (256, 256))
    monkeypatch.setattr(characterize, "STREAM_ROUNDS", 1)
    monkeypatch.setattr(characterize, "PASSES", 1)
    out = tmp_path / "cpu.yaml"
    assert main(["hardware", "--measure", "-o", str(out), "-q"]) == 0
    chip = next(iter(load_chips(str(out)).values()))
    assert chip.id == "measured-cpu" and chip.peak_flops["fp32"] > 1e7
    assert not chip.time_model.is_roofline
    assert {"matmul", "conv"} <= set(chip.time_model.compute)
    # every probe GEMM (the attention probe's Q·Kᵀ among them: 2 heads x 16 rows) and
    # convolution is a point of its class's shape table: (m, n, k, eta)
    assert sorted(p[:3] for p in chip.time_model.shapes["matmul"]) == [
        (8.0, 256.0, 256.0), (32.0, 16.0, 16.0), (128.0, 768.0, 768.0)]
    assert [p[:3] for p in chip.time_model.shapes["conv"]] == [(28.0 * 28, 16.0, 16 * 9.0)]
    assert "weight_stream_bandwidth" in out.read_text() or not chip.time_model.weight_stream_bandwidth
    # a GEMM costs at least its fixed cost plus its FLOPs at the curve's efficiency (timings
    # vary with load, so only the structure is asserted)
    timing = chip.op_time("matmul", 1e9, 1e6, "float32")
    assert timing.time_s >= timing.overhead_s + timing.compute_time_s > 0
    assert list((tmp_path / "cache" / "chips").glob("*.yaml"))
