"""GGUF: the validated header reader (gguf_format) and a GGUF file as a model spec."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from modellens.cli import main
from modellens.errors import CheckpointError, ConfigError
from modellens.gguf_format import Array, read_header

gguf = pytest.importorskip("gguf")

H, HEADS, KV, FF, LAYERS, VOCAB = 64, 4, 2, 160, 2, 96  # head_dim 16


def llama_tensors(arch: str, tied: bool, qkv_bias: bool,
                  experts: int = 0) -> dict[str, tuple[int, ...]]:
    """llama.cpp's tensor names and torch-order shapes for a llama-family model, laid out by
    hand from the hyperparameters."""
    hd = H // HEADS
    shapes = {"token_embd.weight": (VOCAB, H), "output_norm.weight": (H,)}
    if not tied:
        shapes["output.weight"] = (VOCAB, H)
    for i in range(LAYERS):
        b = f"blk.{i}."
        shapes.update({b + "attn_norm.weight": (H,), b + "attn_q.weight": (HEADS * hd, H),
                       b + "attn_k.weight": (KV * hd, H), b + "attn_v.weight": (KV * hd, H),
                       b + "attn_output.weight": (H, HEADS * hd), b + "ffn_norm.weight": (H,)})
        if experts:  # llama.cpp stacks the experts: one tensor per projection
            shapes.update({b + "ffn_gate_inp.weight": (experts, H),
                           b + "ffn_gate_exps.weight": (experts, FF, H),
                           b + "ffn_up_exps.weight": (experts, FF, H),
                           b + "ffn_down_exps.weight": (experts, H, FF)})
        else:
            shapes.update({b + "ffn_gate.weight": (FF, H), b + "ffn_up.weight": (FF, H),
                           b + "ffn_down.weight": (H, FF)})
        if qkv_bias:
            shapes.update({b + "attn_q.bias": (HEADS * hd,), b + "attn_k.bias": (KV * hd,),
                           b + "attn_v.bias": (KV * hd,)})
        if arch == "qwen3":
            shapes.update({b + "attn_q_norm.weight": (hd,), b + "attn_k_norm.weight": (hd,)})
    return shapes


def write_model_gguf(path, arch="llama", tied=False, qkv_bias=False, tokens=VOCAB, experts=0):
    writer = gguf.GGUFWriter(str(path), arch)
    if experts:
        writer.add_expert_count(experts)
        writer.add_expert_used_count(2)
    writer.add_block_count(LAYERS)
    writer.add_embedding_length(H)
    writer.add_feed_forward_length(FF)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV)
    writer.add_context_length(256)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_freq_base(500000.0)
    writer.add_token_list([f"t{i}" for i in range(tokens)])
    shapes = llama_tensors(arch, tied, qkv_bias, experts)
    rng = np.random.default_rng(0)
    for name, shape in shapes.items():
        writer.add_tensor(name, rng.standard_normal(shape).astype(np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return shapes


# --- the header reader ------------------------------------------------------------------------

def test_header_matches_the_gguf_package(tmp_path):
    path = tmp_path / "m.gguf"
    write_model_gguf(path)
    header = read_header(path)
    reader = gguf.GGUFReader(str(path))
    assert header.version == 3 and header.data_start == reader.data_offset
    assert header.metadata["llama.block_count"] == LAYERS
    assert header.metadata["llama.rope.freq_base"] == 500000.0
    tokens = header.metadata["tokenizer.ggml.tokens"]
    assert isinstance(tokens, Array) and tokens.length == VOCAB and tokens.items[:2] == ["t0", "t1"]
    theirs = {t.name: (tuple(int(d) for d in t.shape), int(t.tensor_type),
                       int(t.data_offset) - reader.data_offset) for t in reader.tensors}
    assert {t.name: (t.dims, t.ggml_type, t.offset) for t in header.tensors} == theirs


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.gguf"
    write_model_gguf(path)
    return path, path.read_bytes(), read_header(path)


def _bad(tmp_path, data: bytes, name="bad.gguf"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case, expect", [
    ("magic", "not a GGUF file (magic b'GGML'"),
    ("version", "GGUF version 7 is not supported"),
    ("tensor_count", "tensor count 1,152,921,504,606,846,976 cannot fit"),
    ("kv_count", "metadata count 1,152,921,504,606,846,976 cannot fit"),
    ("short", "too short for a GGUF header"),
    ("in_metadata", "truncated or corrupt"),
    ("in_data", "past the end of the file"),
])
def test_malformed_files_get_one_line(tmp_path, good, case, expect):
    _, data, header = good
    if case == "magic":
        data = b"GGML" + data[4:]
    elif case == "version":
        data = data[:4] + struct.pack("<I", 7) + data[8:]
    elif case == "tensor_count":
        data = data[:8] + struct.pack("<Q", 2**60) + data[16:]
    elif case == "kv_count":
        data = data[:16] + struct.pack("<Q", 2**60) + data[24:]
    elif case == "short":
        data = data[:20]
    elif case == "in_metadata":
        data = data[:200]
    elif case == "in_data":
        data = data[:header.data_start + 100]
    path = _bad(tmp_path, data)
    with pytest.raises(CheckpointError) as err:
        read_header(path)
    assert expect in str(err.value) and "\n" not in str(err.value)


def test_absurd_array_and_string_lengths(tmp_path, good):
    """A vocabulary claiming 2⁶⁰ entries, a key claiming a 2⁶⁰-byte string: refused at once
    (the gguf package's reader would loop over empty reads)."""
    _, data, _ = good
    key = b"tokenizer.ggml.tokens"
    at = data.index(key) + len(key) + 4 + 4  # after the key, its type (array), the item type
    path = _bad(tmp_path, data[:at] + struct.pack("<Q", 2**60) + data[at + 8:])
    with pytest.raises(CheckpointError, match="length of 'tokenizer.ggml.tokens' is"):
        read_header(path)
    path = _bad(tmp_path, data[:24] + struct.pack("<Q", 2**60) + data[32:], "key.gguf")
    with pytest.raises(CheckpointError, match="metadata key 0 needs"):
        read_header(path)


def test_info_on_a_truncated_gguf_exits_with_one_line(tmp_path, good, capsys):
    _, data, header = good
    path = _bad(tmp_path, data[:header.data_start + 10])
    assert main(["info", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "past the end of the file" in err


# --- a GGUF file as a model spec --------------------------------------------------------------

@pytest.mark.parametrize("arch, tied, qkv_bias, experts", [
    ("llama", False, False, 0), ("qwen2", True, True, 0), ("qwen3", True, False, 0),
    ("gemma", True, False, 0), ("llama", False, False, 4)])  # the last: mixtral
def test_profile_gguf_params_equal_the_files_tensors(tmp_path, capsys, arch, tied, qkv_bias,
                                                     experts):
    path = tmp_path / f"{arch}.gguf"
    shapes = write_model_gguf(path, arch, tied, qkv_bias, experts=experts)
    in_file = sum(int(t.n_elements) for t in gguf.GGUFReader(str(path)).tensors)
    assert in_file == sum(int(np.prod(s)) for s in shapes.values())
    assert main(["profile", str(path), "--seq-len", "8", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["params"]["total"] == in_file
    assert data["settings"]["metadata"]["origin"] == "GGUF metadata"


def test_gguf_config_fields(tmp_path):
    from modellens.sources.gguf import config_dict

    path = tmp_path / "m.gguf"
    write_model_gguf(path, tokens=90)  # vocabulary list shorter than the embedding: rows win
    config = config_dict(path)
    assert config == {
        "model_type": "llama", "hidden_size": H, "num_hidden_layers": LAYERS,
        "intermediate_size": FF, "num_attention_heads": HEADS, "num_key_value_heads": KV,
        "max_position_embeddings": 256, "rms_norm_eps": pytest.approx(1e-5),
        "rope_theta": 500000.0, "head_dim": H // HEADS, "vocab_size": VOCAB, "tie_word_embeddings": False,
        "attention_bias": False, "mlp_bias": False}


def test_unmapped_architecture_is_one_line(tmp_path, capsys):
    writer = gguf.GGUFWriter(str(tmp_path / "rwkv.gguf"), "rwkv6")
    writer.add_block_count(1)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ConfigError, match="architecture 'rwkv6' has no transformers config"):
        from modellens.sources.gguf import config_dict
        config_dict(tmp_path / "rwkv.gguf")
    assert main(["profile", str(tmp_path / "rwkv.gguf")]) == 1
    assert "rwkv6" in capsys.readouterr().err


def test_store_on_the_own_header_matches_the_gguf_package(tmp_path):
    from gguf.quants import dequantize

    from modellens.measure.checkpoints import open_checkpoint

    path = tmp_path / "m.gguf"
    write_model_gguf(path)
    store, reader = open_checkpoint(path), gguf.GGUFReader(str(path))
    assert store.metadata["tokenizer.ggml.tokens"] == {
        "length": VOCAB, "first": [f"t{i}" for i in range(8)]}
    assert store.metadata["llama.feed_forward_length"] == FF
    for t in reader.tensors:
        spec = store.by_name[t.name].spec
        assert spec.shape == tuple(int(d) for d in reversed(t.shape.tolist()))
        assert spec.nbytes == int(t.n_bytes)
        theirs = dequantize(np.asarray(t.data), t.tensor_type).reshape(spec.shape)
        assert np.array_equal(store.read(t.name).numpy(), theirs)
