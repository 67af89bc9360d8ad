"""--attention-flops full|causal: causal self-attention counts only the query-key pairs its mask
keeps, exactly (KV-cache decode and cross-attention included), checked against masks built with
torch and the Megatron-LM attention term written out by hand."""

from __future__ import annotations

import json

import pytest
import torch

import modellens
from modellens.analysis.attention import check_convention
from modellens.cli import main
from modellens.costing.attention import END, START, attended_pairs
from modellens.errors import ConfigError
from modellens.tasks.transformer import profile_transformer_config
from tests.test_transformer_config import TINY, hand_count


@pytest.mark.parametrize("q, k", [(1, 1), (8, 8), (1, 37), (4, 10), (10, 4), (128, 128)])
def test_attended_pairs_equal_the_ones_of_torch_masks(q, k):
    # end: query i at key position k - q + i (a KV cache); start: torch's is_causal (top-left)
    assert attended_pairs(q, k, END) == int(torch.ones(q, k).tril(k - q).sum())
    assert attended_pairs(q, k, START) == int(torch.ones(q, k).tril(0).sum())


def test_attended_pairs_by_hand():
    assert attended_pairs(128, 128) == 128 * 129 // 2  # S(S+1)/2
    assert attended_pairs(1, 2048) == 2048  # one decode step sees every cached key
    assert attended_pairs(4, 10) == 7 + 8 + 9 + 10  # queries at positions 6..9
    assert attended_pairs(4, 10, START) == 1 + 2 + 3 + 4


def _tiny_gpt2(layers=2, embed=64, heads=4, seq=32):
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(n_layer=layers, n_embd=embed, n_head=heads, n_positions=64,
                        vocab_size=100)
    model = GPT2LMHeadModel(config).eval()
    return model, {"input_ids": torch.zeros(1, seq, dtype=torch.long)}


def test_gpt2_attention_against_the_megatron_term():
    """Megatron-LM (Narayanan et al. 2021, eq. 2): attention scores and their use cost
    4·B·s²·h forward FLOPs per layer at full S×S; causal keeps S(S+1)/2 of the S² pairs."""
    layers, h, s = 2, 64, 32
    model, inputs = _tiny_gpt2(layers, h, 4, s)
    full = modellens.profile(model, inputs)
    causal = modellens.profile(model, inputs, attention_flops="causal")
    kernels = lambda r: sum(o.flops for o in r.ops if "attention" in o.name)
    assert kernels(full) == layers * 4 * s * s * h
    assert kernels(causal) == layers * 4 * h * s * (s + 1) // 2
    assert full.flops.forward - causal.flops.forward == layers * 4 * h * (s * s - s * (s + 1) // 2)
    assert (full.attention.convention, causal.attention.convention) == ("full", "causal")
    assert (causal.attention.causal_ops, causal.attention.full_ops) == (layers, 0)
    assert causal.to_dict()["attention_flops"]["convention"] == "causal"
    # backward: the SDPA backward is 2.5 forwards of the same pairs
    full_b = modellens.profile(model, inputs, backward=True)
    causal_b = modellens.profile(model, inputs, backward=True, attention_flops="causal")
    saved = layers * 4 * h * (s * s - s * (s + 1) // 2)
    assert full_b.flops.backward - causal_b.flops.backward == saved * 5 // 2


def test_transformer_config_causal_decoder_by_hand():
    """Decoder self-attention causal, encoder and cross-attention full (hand count)."""
    full = profile_transformer_config(TINY, timing=False)
    causal = profile_transformer_config(TINY, timing=False, attention_flops="causal")
    forward, backward = hand_count(TINY, batch=1)
    assert (full.flops.forward, full.flops.backward) == (forward, backward)
    d, s, n_dec = TINY["embed_dim"], TINY["seq_len"], TINY["num_decoder_blocks"]
    saved = n_dec * 2 * 2 * d * (s * s - s * (s + 1) // 2)  # QKᵀ and AV of each decoder block
    assert causal.flops.forward == forward - saved
    assert causal.flops.backward == backward - saved * 5 // 2
    # 3 decoder self-attentions, forward and backward; 2 encoder + 3 cross stay full
    assert (causal.attention.causal_ops, causal.attention.full_ops) == (6, 10)
    assert causal.to_dict()["attention_flops"]["convention"] == "causal"
    assert "attention causal" in causal.to_dict()["flops"]["convention"]


def test_cross_attention_is_never_causal():
    """BART: the decoder's self-attention is causal, its encoder_attn and the encoder are not."""
    full = modellens.profile("facebook/bart-base", seq_len=16)
    causal = modellens.profile("facebook/bart-base", seq_len=16, attention_flops="causal")
    layers, width, s = 6, 768, 16
    assert full.flops.forward - causal.flops.forward == \
        layers * 4 * width * (s * s - s * (s + 1) // 2)
    assert (causal.attention.causal_ops, causal.attention.full_ops) == (6, 12)


def test_llm_prefill_decode_and_training_under_causal():
    from modellens.tasks.llm import llm_cost

    kw = dict(prompt_len=32, gen_len=4, train_seq_len=16, decode_points=2)
    full, causal = llm_cost("gpt2", **kw), llm_cost("gpt2", attention_flops="causal", **kw)
    per_pair = 12 * 4 * 768  # layers × 2 products × 2 FLOPs × width
    assert full.prefill.matmul_flops - causal.prefill.matmul_flops == \
        per_pair * (32 * 32 - 32 * 33 // 2)
    # a decode step's one query attends every cached key: causal changes nothing
    assert [p.step.flops for p in full.decode] == [p.step.flops for p in causal.decode]
    trained = (full.training_flops_per_token - causal.training_flops_per_token) * 16
    assert trained == pytest.approx(per_pair * (16 * 16 - 16 * 17 // 2) * 7 / 2)  # fwd + 2.5 bwd
    assert causal.to_dict()["attention_flops"]["convention"] == "causal"


def test_cli_states_the_convention(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # the console line unwrapped
    model = "tests/data/tiny_model.py::load_model"
    assert main(["profile", model, "--format", "json", "--attention-flops", "causal"]) == 0
    assert json.loads(capsys.readouterr().out)["attention_flops"]["convention"] == "causal"
    assert main(["profile", model, "--top", "0"]) == 0
    assert "full (every query × every key, torch's convention)" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="attention FLOPs must be one of full, causal"):
        check_convention("half")


class _Sdpa(torch.nn.Module):
    """F.scaled_dot_product_attention with is_causal=True, 4 queries against 10 keys."""

    def forward(self, q, k, v):
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)


def test_torch_is_causal_with_fewer_queries_than_keys_is_top_left():
    """torch's is_causal masks with tril(ones(L, S)): query i attends keys 0..i."""
    b, h, d = 1, 2, 8
    q, k = torch.randn(b, h, 4, d), torch.randn(b, h, 10, d)
    result = modellens.profile(_Sdpa(), (q, k, k.clone()), attention_flops="causal")
    pairs = int(torch.ones(4, 10).tril(0).sum())  # 10, torch's own mask
    (kernel,) = [o for o in result.ops if "attention" in o.name]
    assert kernel.flops == 2 * 2 * b * h * d * pairs
    assert result.attention.causal_ops == 1
