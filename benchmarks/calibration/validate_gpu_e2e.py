"""End-to-end LLM validation on A100/H100: `modellens llm` predictions against published
measured time to first token and decode step (data/gpu_e2e.csv; sources in data/SOURCES.md).

Every row is out of sample: the shipped GPU time models are fitted on vidur's per-op kernel
times only (fit_gpu.py), nothing here is fitted. Rows the catalog has no config for
(internlm-20b), whole-request times of unstated precision (NeMo) and throughput-derived rows
are left out; the table says how many.

    python benchmarks/calibration/validate_gpu_e2e.py [--out benchmarks/results/validation_gpu_e2e.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
from pathlib import Path

DATA = Path(__file__).with_name("data") / "gpu_e2e.csv"
ROOT = Path(__file__).parents[2]
MODELS = {"LLaMA-7B": "meta-llama/Llama-2-7b-hf", "Llama-2-7B": "meta-llama/Llama-2-7b-hf",
          "LLaMA-70B": "meta-llama/Llama-2-70b-hf", "Llama-2-70B": "meta-llama/Llama-2-70b-hf",
          "Llama-2-13B": "meta-llama/Llama-2-13b-hf", "GPT-J-6B": "EleutherAI/gpt-j-6b"}
CHIPS = {"a100": "a100", "h100": "h100"}
METRICS = ("ttft_s", "decode_step_s")


def usable(row: dict) -> bool:
    return (row["metric"] in METRICS and row["model"] in MODELS
            and row["precision"] in ("fp16", "fp8") and "DERIVED" not in row["notes"])


def predict(row: dict, time_model: str, execution: str = "fused") -> float:
    from modellens.hardware import get_chip
    from modellens.hardware.timemodel import TimeModel
    from modellens.tasks.llm import llm_cost

    chip = get_chip(CHIPS[row["chip"]])
    if time_model == "roofline":
        chip = chip.with_time_model(TimeModel.ROOFLINE)
    prompt = max(1, int(row["input_len"]))
    generated = max(2, int(row["output_len"] or 1))
    report = llm_cost(MODELS[row["model"]], prompt_len=prompt, gen_len=generated,
                      batch_size=int(row["batch"]), dtype=row["precision"],
                      hardware=chip, gpus=int(row["tp"]), tp=int(row["tp"]),
                      training=False, decode_points=3, allow_longer=True,
                      execution=execution)
    if row["metric"] == "ttft_s":
        return report.time_to_first_token_s
    return report.decode[len(report.decode) // 2].step.time_s  # mid-generation context


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/validation_gpu_e2e.json"))
    parser.add_argument("--time-model", choices=("calibrated", "roofline"), default="calibrated",
                        help="roofline: the datasheet baseline the calibration improves on")
    parser.add_argument("--execution", choices=("fused", "eager"), default="fused",
                        help="kernels as serving engines fuse them (default), or every aten op")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows = list(csv.DictReader(open(DATA)))
    chosen = [r for r in rows if usable(r)]
    results = []
    for row in chosen:
        predicted = predict(row, args.time_model, args.execution)
        measured = float(row["measured_s"])
        results.append({**{k: row[k] for k in ("chip", "model", "precision", "tp", "batch",
                                               "input_len", "output_len", "metric", "source")},
                        "measured_s": measured, "predicted_s": predicted,
                        "error": (predicted - measured) / measured})
        r = results[-1]
        print(f"{r['chip']} {r['model']:12s} {r['precision']} tp{r['tp']} b{r['batch']:>3s} "
              f"{r['input_len']:>5s}/{r['output_len'] or '-':>5s} {r['metric']:14s} "
              f"measured {1e3 * measured:8.2f} ms predicted {1e3 * predicted:8.2f} ms "
              f"{100 * r['error']:+6.1f} %", flush=True)
    errors = [abs(r["error"]) for r in results]
    summary = {"time_model": args.time_model, "execution": args.execution, "rows": len(results),
               "left_out": len(rows) - len(chosen),
               "mape": statistics.fmean(errors), "median_abs_error": statistics.median(errors)}
    for metric in METRICS:
        subset = [abs(r["error"]) for r in results if r["metric"] == metric]
        summary[f"mape_{metric}"] = statistics.fmean(subset) if subset else None
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"summary": summary, "rows": results}, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
