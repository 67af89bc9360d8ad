"""Issue 10: LLM inference and training cost against hand formulas."""

import pytest
import torch

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


SMALL_LLAMA = str(__import__("pathlib").Path(__file__).parents[1]
                  / "examples/validation/llama-small.json")


def test_tensor_parallel_step_pays_its_all_reduces():
    """--tp 2 on H100: each step is timed per GPU (sharded ops) plus Megatron's two all-reduces
    per layer of the step's hidden states, on the chip's fitted NVLink figures."""
    from modellens.hardware import get_chip
    from modellens.tasks.llm import llm_cost

    chip = get_chip("h100")
    one = llm_cost(SMALL_LLAMA, prompt_len=256, gen_len=16, dtype="bf16", hardware=chip,
                   training=False, decode_points=1)
    two = llm_cost(SMALL_LLAMA, prompt_len=256, gen_len=16, dtype="bf16", hardware=chip, gpus=2,
                   tp=2, training=False, decode_points=1)
    layers, hidden = 8, 512
    expected = 2 * layers * chip.interconnect.all_reduce_time(256 * hidden * 2, 2)
    assert two.prefill.communication_s == pytest.approx(expected)
    assert one.prefill.communication_s == 0.0
    assert two.time_to_first_token_s == pytest.approx(two.prefill.time_s)
    # sharded compute is faster, but not 2x: small GEMMs lose efficiency and norms replicate
    compute_two = two.prefill.time_s - two.prefill.communication_s
    assert one.prefill.time_s / 2 < compute_two < one.prefill.time_s
    step = two.decode[0].step
    assert step.communication_s == pytest.approx(
        2 * layers * chip.interconnect.all_reduce_time(1 * hidden * 2, 2))
    assert two.decode[0].tokens_per_second == pytest.approx(1 / step.time_s)


def test_fp8_matmuls_run_at_the_fp8_peak():
    from modellens.analysis.roofline import op_time
    from modellens.hardware import get_chip
    from modellens.tasks.llm import llm_cost

    chip = get_chip("h100")
    bf16 = llm_cost(SMALL_LLAMA, prompt_len=1024, gen_len=2, dtype="bf16", hardware=chip,
                    training=False, decode_points=1)
    fp8 = llm_cost(SMALL_LLAMA, prompt_len=1024, gen_len=2, dtype="fp8", hardware=chip,
                   training=False, decode_points=1)
    assert fp8.settings["weight_dtype"] == "float8_e4m3fn"
    assert fp8.time_to_first_token_s < bf16.time_to_first_token_s
    # matmul weights at 1 byte (8 layers of q, k, v, o, gate, up, down + lm_head); the
    # embedding table and norms stay bf16
    matmul_weights = 8 * (2 * 512 * 512 + 2 * 512 * 256 + 3 * 512 * 1408) + 512 * 32000
    assert bf16.weights_bytes - fp8.weights_bytes == matmul_weights
    # a compute-bound GEMM captured in bf16 and timed in fp8 runs at twice H100's bf16 peak
    from torch import nn

    from modellens import profile

    big = profile(nn.Linear(8192, 8192, bias=False), torch.randn(4096, 8192), dtype="bf16",
                  hardware=chip)
    row = next(r for r in big.ops if r.category == "matmul")
    as_bf16 = op_time(row.op, row.cost, chip)
    as_fp8 = op_time(row.op, row.cost, chip, compute_dtype="float8_e4m3fn")
    ratio = chip.peak("float8_e4m3fn") / chip.peak("bfloat16")
    assert ratio == pytest.approx(2, rel=1e-3)
    assert as_fp8.compute_time_s == pytest.approx(as_bf16.compute_time_s / ratio)


# ---------------------------------------------------------------- decode vs batch size


def test_decode_scaling_at_the_captured_batch_is_the_captured_step(monkeypatch):
    from modellens.tasks.llm import llm_cost

    for execution in ("fused", "eager"):
        report = llm_cost("gpt2", prompt_len=64, gen_len=8, batch_size=4, hardware="a100",
                          training=False, execution=execution)
        middle = report.decode[len(report.decode) // 2]
        assert report.decode_scaling.step_time(4, report.hardware) == pytest.approx(
            middle.step.time_s, rel=1e-9)
        assert report.tokens_per_second_by_batch([4]) == [pytest.approx(middle.tokens_per_second)]
    report = llm_cost("gpt2", prompt_len=64, gen_len=8, batch_size=4, hardware="a100", tp=2,
                      gpus=2, training=False)
    middle = report.decode[len(report.decode) // 2]
    assert middle.step.communication_s > 0
    assert report.decode_scaling.step_time(4, report.hardware) == pytest.approx(
        middle.step.time_s, rel=1e-9)
    # per-sequence figures: FLOPs and non-weight bytes per sequence, weights once
    data = report.to_dict()["decode"]["scaling"]
    assert data["batch"] == 4 and data["weight_bytes"] > 0


def test_compute_bound_batch_is_where_compute_overtakes_memory():
    """One GEMM kernel on the plain roofline: compute b·F/peak against memory (W + b·A)/bw
    turns over at b = W·peak / (F·bw − A·peak)."""
    import math

    from modellens.analysis.inference import BatchScaling, Communication
    from modellens.analysis.kernels import Kernel
    from modellens.hardware import get_chip
    from modellens.hardware.timemodel import TimeModel

    chip = get_chip("a100").with_time_model(TimeModel.ROOFLINE)
    peak, bandwidth = chip.peak("bfloat16", matmul=True), chip.memory_bandwidth
    weights, flops, activations = 2 * 4096 * 4096, 2 * 4096 * 4096, 4 * 4096  # per sequence
    kernel = Kernel((), "matmul", "bfloat16", flops, weights + activations, weights, (1, 4096),
                    True)
    scaling = BatchScaling(1, ((kernel, 3),), 0, "fused", Communication(1, 4096, 2, 1))
    expected = math.ceil(weights * peak / (flops * bandwidth - activations * peak))
    assert scaling.compute_bound_from(chip) == expected
    assert not scaling.is_compute_bound(expected - 1, chip)
    assert scaling.step_time(8, chip) == pytest.approx(
        3 * max(8 * flops / peak, (weights + 8 * activations) / bandwidth))
    assert scaling.tokens_per_second(8, chip) == pytest.approx(8 / scaling.step_time(8, chip))
