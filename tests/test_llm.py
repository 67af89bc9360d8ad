"""Issue 10: LLM inference and training cost against hand formulas."""

import pytest

from modellens.analysis.training import tokens_per_day, training_memory
from modellens.hardware import get_chip
from modellens.tasks.llm import llm_cost


@pytest.fixture(scope="module")
def mistral():
    return llm_cost("mistralai/Mistral-7B-v0.1", prompt_len=512, gen_len=64, batch_size=4,
                    hardware="h100", training=False)


def test_kv_cache_per_token_gqa(mistral):
    layers, kv_heads, head_dim, bf16 = 32, 8, 128, 2
    assert mistral.kv_bytes_per_token == 2 * layers * kv_heads * head_dim * bf16
    assert mistral.kv_cache_bytes == mistral.kv_bytes_per_token * 4 * (512 + 64)


def test_kv_cache_per_token_mha_and_fp8():
    report = llm_cost("meta-llama/Llama-2-7b-hf", prompt_len=256, gen_len=2, batch_size=1,
                      kv_dtype="fp8", decode_points=1, training=False)
    layers, heads, head_dim = 32, 32, 128
    assert report.kv_bytes_per_token == 2 * layers * heads * head_dim * 1


def test_decode_flops_per_token_are_twice_the_params_plus_attention(mistral):
    point = mistral.decode[0]
    params, layers, hidden, vocab = 7_241_732_096, 32, 4096, 32000
    matmul_params = params - vocab * hidden - (2 * layers + 1) * hidden
    attention = 4 * (point.context + 1) * layers * hidden  # QKᵀ and AV over the cache
    assert point.step.matmul_flops / 4 == pytest.approx(2 * matmul_params + attention, rel=1e-6)


def test_decode_is_memory_bound_and_reads_every_weight_once(mistral):
    point = mistral.decode[0]
    assert point.step.bound == "memory"
    embedding_bytes = 32000 * 4096 * 2  # the embedding gathers 4 rows, it is not read whole
    assert point.step.weight_bytes == pytest.approx(mistral.weights_bytes - embedding_bytes,
                                                    rel=0.001)
    bandwidth = get_chip("h100").memory_bandwidth
    assert point.step.time_s >= point.step.bytes / bandwidth * 0.999
    later = mistral.decode[-1]
    assert later.context > point.context and later.step.kv_bytes > point.step.kv_bytes


def test_int4_weights_shrink_bytes_not_flops():
    base = llm_cost("gpt2", prompt_len=64, gen_len=2, decode_points=1, training=False)
    int4 = llm_cost("gpt2", prompt_len=64, gen_len=2, decode_points=1, training=False,
                    weight_dtype="int4", group_size=128)
    assert int4.decode[0].step.flops == base.decode[0].step.flops
    matmul_weights = 12 * (768 * 2304 + 768 * 768 + 2 * 768 * 3072) + 50257 * 768  # + lm_head
    saved = matmul_weights * (2 - (0.5 + 2 / 128))
    # gpt2's lm_head is tied to the embedding: quantized once, as a matmul weight
    assert base.weights_bytes - int4.weights_bytes == pytest.approx(saved, rel=1e-6)
    assert int4.decode[0].step.time_s < base.decode[0].step.time_s


def test_adam_mixed_precision_is_16_bytes_per_param_and_zero_shards_it():
    params = 1_000_000_000
    memory = training_memory(params, weight_bytes_per_param=2, optimizer="adamw", gpus=8)
    assert memory.bytes_per_param == 16
    assert memory.per_gpu_bytes["ddp"] == 16 * params
    assert memory.per_gpu_bytes["zero1"] == 4 * params + 12 * params // 8
    assert memory.per_gpu_bytes["zero2"] == 2 * params + 14 * params // 8
    assert memory.per_gpu_bytes["zero3"] == 16 * params // 8
    tp = training_memory(params, weight_bytes_per_param=2, gpus=8, tensor_parallel=8)
    assert tp.per_gpu_bytes["zero3"] == 16 * params // 8


def test_training_flops_per_token_about_six_times_params():
    report = llm_cost("gpt2", prompt_len=128, gen_len=2, decode_points=1, train_seq_len=128)
    non_embedding = 124_439_808 - 1024 * 768  # wte is also the lm_head matmul
    assert report.training_flops_per_token == pytest.approx(6 * non_embedding, rel=0.06)
    assert report.training.bytes_per_param == 16
    peak = get_chip("a100").peak("bfloat16")
    assert report.training_tokens_per_day == pytest.approx(
        tokens_per_day(report.training_flops_per_token, peak, 1, 0.4))
