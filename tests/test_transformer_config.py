"""Seed 001: transformer profiler from a JSON config — FLOPs against hand counts, parameter counts
against published figures, the seed's .txt format, config errors, timing on a tiny config."""

import json
import re
import statistics
from functools import lru_cache
from pathlib import Path

import pytest

from modellens.errors import ConfigError, ModellensError
from modellens.tasks.transformer import profile_transformer_config

CONFIGS = Path(__file__).resolve().parent.parent / "examples" / "configs"
# GPT-3's capture with autograd runs 96 blocks of fake ops (~10 s of CPU): slow.
EXAMPLES = ["vit-b-16", "bert-base", "gpt2-small", "t5-small-like",
            pytest.param("gpt3-175b", marks=pytest.mark.slow)]
SEED_DEFAULTS = dict(embed_dim=768, num_heads=12, ff_dim=3072, seq_len=197, memory_seq_len=0,
                     num_encoder_blocks=12, num_decoder_blocks=0, vocab_size=0)
TINY = dict(embed_dim=32, num_heads=4, ff_dim=64, seq_len=8, memory_seq_len=6,
            num_encoder_blocks=2, num_decoder_blocks=3)


@lru_cache(maxsize=None)
def counted(name: str, batch_size: int = 1):
    return profile_transformer_config(CONFIGS / f"{name}.json", batch_size=batch_size,
                                      timing=False)


def hand_count(cfg: dict, batch: int) -> tuple[int, int]:
    """(forward, backward) matmul FLOPs written out from the architecture, 1 MAC = 2 FLOPs.

    Backward: every matmul needs an input gradient and a weight gradient (2x forward), attention
    backward also recomputes QKᵀ (torch's SDPA backward convention: 5 matmuls for 2), and inputs
    that need no gradient skip their input-gradient matmul: a raw-embedding model input feeding
    a post-norm block's QKV projection directly, and an external memory's key/value projection.
    """
    c = {**SEED_DEFAULTS, **cfg}
    d, f, v = c["embed_dim"], c["ff_dim"], c["vocab_size"]
    n_enc, n_dec, s = c["num_encoder_blocks"], c["num_decoder_blocks"], c["seq_len"]
    l_enc = c["memory_seq_len"] or s
    l_mem = l_enc if n_enc else c["memory_seq_len"]

    def linear(tokens, n_in, n_out):
        return 2 * batch * tokens * n_in * n_out

    def attention_core(lq, lk):  # QKᵀ and AV over all heads
        return 2 * (2 * batch * lq * lk * d)

    def self_attention(tokens):
        return linear(tokens, d, 3 * d) + attention_core(tokens, tokens) + linear(tokens, d, d)

    def ffn(tokens):
        return linear(tokens, d, f) + linear(tokens, f, d)

    def cross_attention(lq, lk):
        return (linear(lq, d, d) + linear(lk, d, 2 * d) + attention_core(lq, lk)
                + linear(lq, d, d))

    enc = self_attention(l_enc) + ffn(l_enc)
    dec = self_attention(s) + ffn(s) + (cross_attention(s, l_mem) if l_mem else 0)
    out_tokens = s if n_dec else l_enc
    head = linear(out_tokens, d, v) if v else 0
    forward = n_enc * enc + n_dec * dec + head

    attentions = [(l_enc, l_enc)] * n_enc + [(s, s)] * n_dec
    attentions += [(s, l_mem)] * n_dec if l_mem else []
    recompute = sum(attention_core(lq, lk) // 2 for lq, lk in attentions)
    skipped = 0
    if not v and not c.get("norm_first"):  # pre-norm: the LayerNorm output needs a gradient
        skipped += (linear(l_enc, d, 3 * d) if n_enc else 0) + (linear(s, d, 3 * d) if n_dec else 0)
    if l_mem and not n_enc:  # an external memory needs no gradient in any decoder block
        skipped += n_dec * linear(l_mem, d, 2 * d)
    return forward, 2 * forward + recompute - skipped


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_flops_equal_hand_count(name):
    cfg = json.loads((CONFIGS / f"{name}.json").read_text())
    result = counted(name)
    forward, backward = hand_count(cfg, batch=1)
    assert result.flops.forward == forward
    assert result.flops.backward == backward
    # backward ≈ 2x forward: the rest is the QKᵀ recompute minus the skipped input gradients
    assert abs(result.flops.backward / result.flops.forward - 2) < 0.07
    assert result.backward_flops == result.flops.backward  # the .txt uses the measured value


def test_batch_size_scales_flops():
    assert profile_transformer_config(TINY, batch_size=3, timing=False).flops.forward == \
        hand_count(TINY, batch=3)[0]


@pytest.mark.parametrize("name, published, not_modelled", [
    # HF/torchvision totals minus what the config does not describe
    ("gpt2-small", 124_439_808, 1024 * 768 + 2 * 768),  # position embeddings, final LayerNorm
    ("bert-base", 109_482_240, 768 * 768 + 768 + 512 * 768 + 2 * 768 + 2 * 768),  # pooler,
    # position and token-type embeddings, embedding LayerNorm
    ("vit-b-16", 86_567_656, 768 * 1000 + 1000 + 768 * 3 * 16 * 16 + 768 + 768 + 197 * 768
     + 2 * 768),  # head, patch embedding, class token, positions, final LayerNorm
])
def test_params_match_published_counts(name, published, not_modelled):
    result = counted(name)
    assert result.params == published - not_modelled
    assert result.model_size_bytes == 4 * result.params
    assert result.to_dict()["model_size_bytes_by_dtype"]["int8"] == result.params


@pytest.mark.slow
def test_gpt3_params_and_flops_at_published_scale():
    result = counted("gpt3-175b")
    assert 174e9 < result.params < 175.5e9  # 175 B in the paper (with positions and biases)
    # ~2 FLOPs per parameter per token plus attention (Kaplan et al.): 2 N T + 4 L T² d
    assert result.flops.forward == pytest.approx(2 * result.params * 2048
                                                 + 4 * 96 * 2048**2 * 12288, rel=1e-3)


@pytest.mark.parametrize("name", ["vit-b-16", "t5-small-like"])
def test_profile_spec_path_counts_the_same(name):
    """`modellens profile configs/x.json` (forward-only capture: fused fast paths, block replay)."""
    from modellens import profile

    cfg = json.loads((CONFIGS / f"{name}.json").read_text())
    assert profile(str(CONFIGS / f"{name}.json")).flops.forward == hand_count(cfg, 1)[0]


def hand_params(cfg: dict) -> int:
    """Linears (+ biases), LayerNorms (weight [+ bias]), tied embedding."""
    c = {**SEED_DEFAULTS, "bias": True, **cfg}
    d, f, b = c["embed_dim"], c["ff_dim"], int(c["bias"])
    attention = 4 * d * d + b * 4 * d
    norm = d + b * d
    ffn = 2 * d * f + b * (f + d)
    encoder = attention + ffn + 2 * norm
    cross = c["num_encoder_blocks"] > 0 or c["memory_seq_len"] > 0
    decoder = encoder + (attention + norm if cross else 0)
    return (c["num_encoder_blocks"] * encoder + c["num_decoder_blocks"] * decoder
            + c["vocab_size"] * d)


def test_seed_txt_and_json(tmp_path):
    result = profile_transformer_config(TINY, timing=False, scale_bwd_flops=2.0,
                                        out_dir=tmp_path, name="tiny")
    text = (tmp_path / "tiny.txt").read_text()
    lines = text.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "Forward Flops", "Backward Flops", "Model Size (Bytes)", "Average Forward Time (s)",
        "Average Backward Time (s)"]
    assert re.fullmatch(r"Forward Flops:\d+\nBackward Flops:\d+\nModel Size \(Bytes\):\d+\n"
                        r"Average Forward Time \(s\):nan\nAverage Backward Time \(s\):nan\n", text)
    forward, backward = hand_count(TINY, 1)
    assert lines[0] == f"Forward Flops:{forward}"
    assert lines[1] == f"Backward Flops:{2 * forward}"  # scaled, as asked
    assert lines[2] == f"Model Size (Bytes):{4 * hand_params(TINY)}"
    data = json.loads((tmp_path / "tiny.json").read_text())
    assert data["schema_version"] == 1
    assert data["flops"]["backward_reported_source"] == "scaled"
    assert data["flops"]["backward_measured"] == result.flops.backward == backward
    blocks = {b["kind"]: b for b in data["blocks"]}
    assert (blocks["encoder_block"]["count"], blocks["decoder_block"]["count"]) == (2, 3)
    assert (2 * blocks["encoder_block"]["forward_flops"]
            + 3 * blocks["decoder_block"]["forward_flops"]) == forward
    assert sum(o["flops"] for o in data["flops_by_op"] if o["phase"] == "forward") == forward
    assert data["timing"] is None
    assert data["files"] == [str(tmp_path / "tiny.json"), str(tmp_path / "tiny.txt")]


@pytest.mark.parametrize("cfg", [TINY, {**TINY, "bias": False, "norm_first": True},
                                 {**TINY, "num_encoder_blocks": 0, "vocab_size": 50}])
def test_params_match_hand_count(cfg):
    result = profile_transformer_config(cfg, timing=False)
    assert result.params == hand_params(cfg)
    forward, backward = hand_count(cfg, 1)
    assert (result.flops.forward, result.flops.backward) == (forward, backward)


@pytest.mark.parametrize("content, needles", [
    ("{not json", ["not valid JSON"]),
    ('["embed_dim", 768]', ["expected a JSON object"]),
    ('{"embed_dimm": 768}', ["unknown field 'embed_dimm'", "did you mean 'embed_dim'"]),
    ('{"num_heads": -2}', ["num_heads must be positive"]),
    ('{"ff_dim": 0}', ["ff_dim must be positive"]),
    ('{"memory_seq_len": -1}', ["memory_seq_len must be >= 0"]),
    ('{"embed_dim": 100}', ["embed_dim (100) must be divisible by num_heads (12)"]),
    ('{"num_encoder_blocks": 0}', ["num_encoder_blocks and num_decoder_blocks are both 0"]),
    ('{"seq_len": 12.5}', ["seq_len must be int"]),
    ('{"seq_len": true}', ["seq_len must be int"]),
    ('{"activation": "swish"}', ["activation must be one of relu, gelu"]),
])
def test_bad_config_is_one_clear_error_and_writes_nothing(tmp_path, content, needles):
    path = tmp_path / "bad.json"
    path.write_text(content)
    out = tmp_path / "out"
    with pytest.raises(ConfigError) as info:
        profile_transformer_config(path, out_dir=out)
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message
    assert not out.exists()


def test_missing_file_and_bad_settings():
    with pytest.raises(ConfigError, match="config file not found"):
        profile_transformer_config("no/such/config.json")
    with pytest.raises(ConfigError, match="dtype must be one of"):
        profile_transformer_config(TINY, dtype="float8")
    with pytest.raises(ConfigError, match="scale_bwd_flops must be a positive number"):
        profile_transformer_config(TINY, scale_bwd_flops=-1.0, timing=False)


def test_timing_tiny_config(tmp_path):
    result = profile_transformer_config(TINY, batch_size=2, repeats=3, warmup=1,
                                        out_dir=tmp_path, name="tiny")
    timing = result.timing
    assert [b.name for b in timing.blocks] == ["encoder_block", "decoder_block"]
    for block in timing.blocks:
        assert len(block.forward.samples_s) == 3
        assert block.forward.median_s == statistics.median(block.forward.samples_s)
        assert 0 < block.forward.min_s <= block.forward.median_s <= block.forward.max_s
    # the seed's method: per-block average × number of blocks, encoder and decoder separately
    enc, dec = timing.blocks
    assert timing.forward_s == pytest.approx(2 * enc.forward.median_s + 3 * dec.forward.median_s)
    assert timing.backward_s == pytest.approx(2 * enc.backward.median_s
                                              + 3 * dec.backward.median_s)
    assert timing.whole is not None and timing.whole.backward is not None
    lines = (tmp_path / "tiny.txt").read_text().splitlines()
    assert float(lines[3].split(":")[1]) == pytest.approx(timing.forward_s, rel=1e-5)
    assert float(lines[4].split(":")[1]) == pytest.approx(timing.backward_s, rel=1e-5)
    data = json.loads((tmp_path / "tiny.json").read_text())
    assert data["timing"]["whole_model"]["forward"]["repeats"] == 3


def test_int8_times_forward_with_quantized_linear(tmp_path):
    result = profile_transformer_config({**TINY, "num_decoder_blocks": 0}, dtype="int8",
                                        repeats=2, warmup=0, out_dir=tmp_path, name="q")
    assert result.model_size_bytes == result.params
    assert result.timing.backward_s is None
    assert "quantize_dynamic" in result.timing.method
    lines = (tmp_path / "q.txt").read_text().splitlines()
    assert lines[3] != "Average Forward Time (s):nan"
    assert lines[4] == "Average Backward Time (s):nan"


def test_timing_refused_when_memory_is_short(tmp_path, monkeypatch):
    from modellens.measure import timing

    monkeypatch.setattr(timing, "available_bytes", lambda device: 64 * 2**20)
    with pytest.raises(ModellensError, match="--no-timing"):
        profile_transformer_config(TINY, out_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_cli_writes_seed_files_and_json(tmp_path, capsys):
    from modellens.cli import main

    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY))
    out = tmp_path / "stats"
    assert main(["transformer", str(config), "--no-timing", "--out-dir", str(out),
                 "--format", "json", "-q"]) == 0
    assert (out / "tiny.txt").read_text().startswith(
        f"Forward Flops:{hand_count(TINY, 1)[0]}\n")
    assert json.loads((out / "tiny.json").read_text())["config"]["num_decoder_blocks"] == 3


def test_cli_bad_config_is_one_line(tmp_path):
    import subprocess
    import sys

    config = tmp_path / "bad.json"
    config.write_text('{"num_heads": 7}')
    proc = subprocess.run([sys.executable, "-m", "modellens.cli", "transformer", str(config),
                           "--out-dir", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0
    assert "embed_dim (768) must be divisible by num_heads (7)" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_time_parts_skips_a_whole_model_that_does_not_fit():
    import torch
    from torch import nn

    from modellens.capture import SampleInputs
    from modellens.measure.timing import TimedPart, time_parts

    def part(name, count, needed):
        return TimedPart(name, count, lambda: nn.Linear(8, 8),
                         lambda: SampleInputs((torch.randn(4, 8, requires_grad=True),)), needed)

    report = time_parts([part("block", 5, 2**20)], part("model", 1, 2**50), repeats=2, warmup=0)
    assert report.whole is None
    assert "whole model not timed" in report.notes[0]
    assert report.forward_s == pytest.approx(5 * report.blocks[0].forward.median_s)
    # 1 PiB x 1.25 headroom (+ 512 MiB) = 1280 TiB
    with pytest.raises(ModellensError, match="timing one block on cpu needs about 1280.00 TiB"):
        time_parts([part("block", 5, 2**50)], None, repeats=1, warmup=0)
