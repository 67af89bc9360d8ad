"""Weight-matrix extractor (seed 000): counts and totals derived by hand from each config."""

import json
from functools import lru_cache
from pathlib import Path

import pytest

from modellens.cli import main
from modellens.errors import ConfigError, SpecError
from modellens.tasks.matrices import extract_matrices

TINY = Path(__file__).parent / "data" / "tiny_model.py"
SEED_MATRIX_KEYS = ["layer_name", "input_shape", "weight_shape", "has_bias", "bias_shape",
                    "parameters"]


@lru_cache(maxsize=None)
def _one(spec: str, **kwargs):
    return extract_matrices([spec], **kwargs).models[0]


def _by_name(model):
    return {m.layer_name: m for m in model.matrices}


def linear(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def test_gpt2_is_48_conv1d_plus_a_tied_lm_head():
    d, layers, vocab, ctx = 768, 12, 50257, 1024  # gpt2 config.json
    model = _one("gpt2")
    per_block = linear(d, 3 * d) + linear(d, d) + linear(d, 4 * d) + linear(4 * d, d)
    assert model.total_matrices == 4 * layers + 1 == 49
    assert model.total_matrix_params == layers * per_block + vocab * d == 123_614_976
    assert model.model_params == 124_439_808  # published GPT-2 small size
    assert model.matrix_bytes == 4 * model.total_matrix_params  # float32, lm_head read once
    assert model.max_sequence_length == ctx
    matrices = _by_name(model)
    c_attn = matrices["transformer.h.0.attn.c_attn"]
    assert c_attn.module_class == "Conv1D"
    assert c_attn.weight_shape == [3 * d, d] and c_attn.stored_shape == [d, 3 * d]
    assert c_attn.input_shape == ["batch_size", ctx, d]  # default seq = max_sequence_length
    assert c_attn.bias_shape == [3 * d] and c_attn.parameters == linear(d, 3 * d)
    assert matrices["transformer.h.11.mlp.c_proj"].input_shape == ["batch_size", ctx, 4 * d]
    assert matrices["transformer.h.0.mlp.c_fc"].flops == 2 * ctx * d * 4 * d
    lm_head = matrices["lm_head"]
    assert (lm_head.weight_shape, lm_head.has_bias, lm_head.bias_shape) == ([vocab, d], False, None)
    assert lm_head.shared_with == ["transformer.wte.weight"]


def test_seq_len_option_sets_the_tokens_not_the_limit():
    model = _one("gpt2", seq_len=8)
    assert _by_name(model)["lm_head"].input_shape == ["batch_size", 8, 768]
    assert model.max_sequence_length == 1024


def test_vit_b_16_packed_in_proj_and_fast_path_out_proj():
    d, layers, classes, patches = 768, 12, 1000, (224 // 16) ** 2
    model = _one("tv:vit_b_16")
    per_block = linear(d, 3 * d) + linear(d, d) + linear(d, 4 * d) + linear(4 * d, d)
    assert model.total_matrices == 4 * layers + 1 == 49
    assert model.total_matrix_params == layers * per_block + linear(d, classes) == 85_786_600
    assert model.max_sequence_length == patches + 1 == 197
    matrices = _by_name(model)
    in_proj = matrices["encoder.layers.encoder_layer_0.self_attention.in_proj"]
    assert in_proj.weight_name.endswith("self_attention.in_proj_weight")
    assert (in_proj.weight_shape, in_proj.bias_shape) == ([3 * d, d], [3 * d])
    assert in_proj.input_shape == ["batch_size", patches + 1, d]
    assert in_proj.flops == 2 * (patches + 1) * d * 3 * d
    # The eval fast path never calls out_proj as a module: it takes the attention's tokens.
    out_proj = matrices["encoder.layers.encoder_layer_0.self_attention.out_proj"]
    assert out_proj.module_class == "NonDynamicallyQuantizableLinear"
    assert out_proj.input_shape == ["batch_size", patches + 1, d]
    assert matrices["heads.head"].input_shape == ["batch_size", 1, d]


def test_bert_base_encoder_and_pooler():
    d, layers, ctx = 768, 12, 512
    model = _one("bert-base-uncased")
    per_layer = 4 * linear(d, d) + linear(d, 4 * d) + linear(4 * d, d)
    assert model.total_matrices == 6 * layers + 1 == 73
    assert model.total_matrix_params == layers * per_layer + linear(d, d) == 85_608_192
    assert model.max_sequence_length == ctx
    matrices = _by_name(model)
    assert matrices["encoder.layer.0.attention.self.query"].input_shape == ["batch_size", ctx, d]
    assert matrices["pooler.dense"].input_shape == ["batch_size", 1, d]  # the [CLS] vector


MIXTRAL = {"architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "hidden_size": 64,
           "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
           "num_key_value_heads": 2, "num_local_experts": 4, "num_experts_per_tok": 2,
           "vocab_size": 100, "max_position_embeddings": 32, "tie_word_embeddings": False,
           "torch_dtype": "bfloat16"}


def test_mixtral_style_moe_counts_every_expert(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(MIXTRAL))
    h, f, layers, experts, top_k, vocab, seq = 64, 96, 2, 4, 2, 100, 32
    kv = 2 * (h // 4)  # 2 key/value heads of head_dim 16
    model = extract_matrices(str(config)).models[0]
    attention = 2 * linear(h, h, False) + 2 * linear(h, kv, False)
    router = linear(h, experts, False)
    expert = linear(h, 2 * f, False) + linear(f, h, False)  # fused gate_up [2F, H], down [H, F]
    assert model.total_matrices == layers * (4 + 1 + 2 * experts) + 1 == 27
    assert model.total_matrix_params == (
        layers * (attention + router + experts * expert) + linear(h, vocab, False))
    assert model.matrix_bytes == 2 * model.total_matrix_params  # bfloat16
    matrices = _by_name(model)
    gate = matrices["model.layers.0.mlp.gate"]
    assert (gate.weight_shape, gate.input_shape) == ([experts, h], ["batch_size", seq, h])
    up = matrices["model.layers.1.mlp.experts.3.gate_up_proj"]
    assert (up.expert, up.weight_shape, up.stored_shape) == (3, [2 * f, h], [experts, 2 * f, h])
    assert up.input_shape == ["batch_size", seq, h]
    assert up.flops == 2 * seq * h * 2 * f * top_k // experts  # uniform routing
    down = matrices["model.layers.0.mlp.experts.0.down_proj"]
    assert (down.weight_shape, down.input_shape) == ([h, f], ["batch_size", seq, f])


CROSS_ATTENTION = '''
import torch
from torch import nn


class Cross(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 2, batch_first=True)

    def forward(self, query, memory):
        return self.attn(query, memory, memory, need_weights=False)[0]


def load_model():
    return Cross()


def get_inputs():
    return torch.randn(2, 5, 16), torch.randn(2, 7, 16)
'''


def test_cross_attention_projects_queries_and_keys_on_their_own_tokens(tmp_path):
    file = tmp_path / "cross.py"
    file.write_text(CROSS_ATTENTION)
    model = _one(f"{file}::load_model", batch_size=2)
    matrices = _by_name(model)
    e, queries, keys = 16, 5, 7
    in_proj = matrices["attn.in_proj"]
    assert in_proj.input_shape == ["batch_size", queries, e]
    assert in_proj.flops == 2 * 2 * (queries + keys + keys) * e * e  # batch 2
    assert matrices["attn.out_proj"].flops == 2 * 2 * queries * e * e
    assert model.max_sequence_length == queries


def test_flops_match_torch_flop_counter_on_real_tensors(tmp_path):
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import GPT2Config, GPT2LMHeadModel

    values = {"n_layer": 2, "n_embd": 64, "n_head": 4, "vocab_size": 100, "n_positions": 32,
              "bos_token_id": 0, "eos_token_id": 0}
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_type": "gpt2", **values}))
    model = extract_matrices(str(config), seq_len=16, batch_size=2).models[0]
    real = GPT2LMHeadModel(GPT2Config(**values)).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        real(torch.zeros(2, 16, dtype=torch.long))
    counts = counter.get_flop_counts()
    for matrix in model.matrices:
        assert matrix.flops == sum(counts[f"GPT2LMHeadModel.{matrix.layer_name}"].values())


def test_model_without_linear_layers_gives_an_empty_list_and_says_so():
    model = _one(f"{TINY}::load_model")
    assert model.matrices == [] and model.total_matrix_params == 0
    assert any("no linear layers" in note for note in model.notes)


def test_bandwidth_and_hardware_set_the_stream_time():
    result = extract_matrices(["gpt2"], seq_len=4, bandwidth=1000)
    model = result.models[0]
    assert model.stream_time_s == pytest.approx(model.matrix_bytes / 1e12)
    h100 = extract_matrices(["gpt2"], seq_len=4, hardware="h100")
    from modellens.hardware import get_chip

    assert h100.bandwidth == get_chip("h100").memory_bandwidth
    with pytest.raises(ConfigError):
        extract_matrices(["gpt2"], bandwidth=1000, hardware="h100")


def test_unknown_spec_alone_raises():
    with pytest.raises(SpecError, match="gtp2"):
        extract_matrices(["gtp2"])


def test_cli_writes_the_good_models_and_reports_the_bad_one(tmp_path, capsys):
    out = tmp_path / "matrices.json"
    code = main(["matrices", "gpt2", "gtp2", "tv:vit_b_16", "--seq-len", "8", "-o", str(out)])
    assert code == 1
    streams = capsys.readouterr()
    assert "unknown model 'gtp2'" in streams.err
    assert "Matrix Count" in streams.out and "gpt2" in streams.out  # the table still prints
    data = json.loads(out.read_text())
    assert data["total_models"] == 2 and list(data["models"]) == ["gpt2", "tv:vit_b_16"]
    assert "gtp2" in data["errors"]
    gpt2 = data["models"]["gpt2"]
    assert list(gpt2)[:3] == ["total_matrices", "max_sequence_length", "matrices"]
    assert gpt2["total_matrices"] == len(gpt2["matrices"]) == 49
    assert list(gpt2["matrices"][0])[:6] == SEED_MATRIX_KEYS
    assert gpt2["matrices"][0]["input_shape"] == ["batch_size", 8, 768]


def test_cli_csv_has_one_row_per_matrix(capsys):
    assert main(["matrices", "gpt2", "--seq-len", "4", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("model,layer_name,input_shape")
    assert len(lines) == 1 + 49


FUNCTIONAL = '''
import torch
from torch import nn


class Functional(nn.Module):
    """Weights in an nn.ParameterList, applied as x @ W ([in, out] as stored)."""

    def __init__(self):
        super().__init__()
        self.weights = nn.ParameterList(
            [nn.Parameter(torch.randn(i, o)) for i, o in ((8, 32), (32, 64), (64, 4))])

    def forward(self, x):
        for w in self.weights:
            x = torch.relu(x @ w)
        return x


def load_model():
    return Functional()


def get_inputs():
    return torch.randn(2, 16, 8)
'''


def test_functional_model_parameter_list_weights_meet_their_own_inputs(tmp_path):
    """Each weight's input is the tensor the captured matmul multiplies it with, and x @ W
    reads W as [in, out]: FLOPs equal FlopCounterMode's on real tensors."""
    import importlib.util

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    file = tmp_path / "functional.py"
    file.write_text(FUNCTIONAL)
    model = _one(f"{file}::load_model", inputs=f"{file}::get_inputs", batch_size=2)
    matrices = _by_name(model)
    assert sorted(matrices) == ["weights.0", "weights.1", "weights.2"]
    assert [matrices[f"weights.{i}"].weight_shape for i in range(3)] == [[32, 8], [64, 32],
                                                                          [4, 64]]
    assert matrices["weights.1"].input_shape == ["batch_size", 16, 32]
    spec = importlib.util.spec_from_file_location("functional_model", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module.load_model()(module.get_inputs())
    assert model.forward_flops == counter.get_total_flops() == 2 * 32 * (8 * 32 + 32 * 64 + 64 * 4)


def test_a_total_with_unknown_matrix_flops_is_unknown_not_partial():
    from modellens.analysis.matrices import Matrix, ModelMatrices

    def matrix(name, flops):
        return Matrix(name, ["batch_size", 4, 8], [8, 8], False, None, 64, "M", name, [8, 8],
                      "float32", 256, flops, 1)

    known = ModelMatrices("m", "M", "fake", "", None, [matrix("a", 512), matrix("b", 512)], 128)
    assert known.forward_flops == 1024
    known.matrices.append(matrix("c", None))
    assert known.forward_flops is None
    assert known.to_dict()["forward_flops"] is None
