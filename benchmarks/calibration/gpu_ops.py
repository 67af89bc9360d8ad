"""Public per-op GPU measurements (benchmarks/calibration/data/gpu_ops.csv) as fit samples.

Every row is a measured kernel time from microsoft/vidur's profiling data (fp16, CUDA kernel
time only; sources and units in data/SOURCES.md). FLOPs and bytes follow modellens'
conventions for the same op: a GEMM is 2·m·n·k FLOPs and reads/writes its three matrices; an
attention call counts the full (non-causal) score and value matmuls as torch's SDPA formula
does, so the fitted efficiency absorbs the causal mask exactly as the predictions will see it.

The split (data/SOURCES.md §3): calibrate on Llama-2-7B and CodeLlama-34B shapes (and all-reduces
over 2 and 8 GPUs); validate on Llama-2-70B, Qwen-72B and Llama-3-8B (and all-reduces over 4).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from modellens.hardware import Chip, get_chip
from modellens.hardware.fit import Sample

DATA = Path(__file__).with_name("data")
CALIBRATION_MODELS = {"meta-llama/Llama-2-7b-hf", "codellama/CodeLlama-34b-Instruct-hf"}
VALIDATION_MODELS = {"meta-llama/Llama-2-70b-hf", "Qwen/Qwen-72B", "meta-llama/Meta-Llama-3-8B"}
ALL_REDUCE_CALIBRATION_DEVICES = {2, 8}  # tp 4 is held out
CHIPS = {"a100": "a100-sxm-80gb", "h100": "h100-sxm"}
FP16 = 2  # bytes per element
# sarathi's custom fused CUDA kernels (SiLU-and-mul, in-place rotary embedding): no aten op
# runs them, so they neither calibrate nor validate the aten elementwise class.
FUSED_KERNELS = {"mlp_act", "attn_rope"}


@dataclass(frozen=True)
class AllReduce:
    chip: str
    devices: int
    nbytes: float
    measured_s: float


def _int(value: str) -> int:
    return int(float(value)) if value else 0


def _sample(row: dict, chip: Chip) -> Sample | None:
    cls, op = row["op_class"], row["op"]
    m, n, k = _int(row["m"]), _int(row["n"]), _int(row["k"])
    seconds = float(row["measured_s"])
    if cls == "matmul":
        return Sample("matmul", 2 * m * n * k, FP16 * (m * k + k * n + m * n),
                      chip.peak("float16"), chip.memory_bandwidth, seconds, (m, n), op)
    if op in FUSED_KERNELS:
        return None
    if cls in ("elementwise", "norm"):
        reads, flops = {"add": (2, 1), "mlp_act": (2, 2), "attn_rope": (1, 3),
                        "input_layernorm": (1, 5)}[op]
        # mlp_act reads gate and up (2 · T · n) and writes T · n; rope rewrites q and k in place
        nbytes = FP16 * m * n * (reads + 1) + (FP16 * n if op == "input_layernorm" else 0)
        return Sample("norm" if cls == "norm" else "elementwise", flops * m * n, nbytes,
                      chip.peak("float16", matmul=False), chip.memory_bandwidth, seconds,
                      None, op)
    if cls.startswith("attention"):
        heads, kv_heads, dim = _int(row["heads"]), _int(row["kv_heads"]), _int(row["head_dim"])
        tp = _int(row["tp"]) or 1
        heads, kv_heads = heads // tp, max(1, kv_heads // tp)
        batch = _int(row["batch"]) or 1
        queries, keys = (m, m + k) if cls == "attention_prefill" else (1, k)
        flops = 4 * batch * heads * queries * keys * dim
        nbytes = FP16 * batch * dim * (2 * heads * queries + 2 * kv_heads * keys)
        return Sample("attention", flops, nbytes, chip.peak("float16"), chip.memory_bandwidth,
                      seconds, None, f"{cls}")
    return None


def load(path: Path = DATA / "gpu_ops.csv") -> tuple[dict, dict, list[AllReduce]]:
    """({chip: [calibration samples]}, {chip: [validation samples]}, all-reduce rows)."""
    calibration: dict[str, list[Sample]] = {}
    validation: dict[str, list[Sample]] = {}
    all_reduces: list[AllReduce] = []
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            chip_id = CHIPS[row["chip"]]
            if row["op_class"] == "allreduce":
                all_reduces.append(AllReduce(chip_id, _int(row["tp"]), float(row["m"]),
                                             float(row["measured_s"])))
                continue
            sample = _sample(row, get_chip(chip_id))
            if sample is None:
                continue
            bucket = calibration if row["model"] in CALIBRATION_MODELS else validation
            if row["model"] in CALIBRATION_MODELS | VALIDATION_MODELS:
                bucket.setdefault(chip_id, []).append(sample)
    return calibration, validation, all_reduces
