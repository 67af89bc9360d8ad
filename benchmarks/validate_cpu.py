"""CPU validation of the calibrated time model (`make validate`; docs/validation.md).

1. Calibrate: `hardware --measure` on this machine (probe ops only: a GEMM grid, common conv
   shapes, attention, elementwise/norm/softmax/reduction/pool/data movement at many sizes).
2. Validate on models the probes never saw: for each model, the predicted forward time under
   that chip (`profile --hardware cpu.yaml`'s `bottleneck.predicted_time_s`) against the
   measured end-to-end forward (real random weights, inference mode: the fastest of repeated
   runs in two rounds minutes apart, as the probes are timed, since on a shared machine other
   work only ever adds time; the median is kept beside it), and the op-by-op sum
   (`modellens time`).
3. Per op, on the same models: every op configuration's predicted time alone against its
   measured time alone (`modellens time`'s `ops[]`), summed over the model — the op model's own
   error, apart from what a running model adds (cold weights, dispatch between ops).
4. Reference ops (a GEMM and a streaming add) are re-timed between steps: their drift says
   whether the machine stayed the same machine through the run (`steady`).

    python benchmarks/validate_cpu.py [--out benchmarks/results/validation_cpu.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "examples" / "validation"
MODELS = [  # (label, spec, inputs)
    ("ResNet-50", "tv:resnet50", None),
    ("MobileNetV3-L", "tv:mobilenet_v3_large", None),
    ("ViT-B/16", "tv:vit_b_16", None),
    ("BERT-base", "bert-base-uncased", None),
    ("GPT-2", "gpt2", None),
    ("YOLOv8n", "yolo:yolov8n", None),
    ("T5-small", "t5-small", None),
    ("ConvNeXt-T", "tv:convnext_tiny", None),
    ("Llama-style 8x512", str(EXAMPLES / "llama-small.json"), None),
    ("user file.py::fn (U-Net)", f"{EXAMPLES / 'unet_block.py'}::load_model",
     f"{EXAMPLES / 'unet_block.py'}::get_inputs"),
]
GOAL_EACH, GOAL_MEDIAN = 0.15, 0.10
STEADY = 0.10  # the reference ops may drift this much over a run before it is called noisy


def reference_seconds() -> tuple[float, float]:
    """A GEMM and a streaming add timed now (fastest block): the machine's state, re-checked
    through the run, since a shared host can halve its speed for minutes at a time."""
    from modellens.measure.clock import measure

    a, b = torch.randn(256, 1024), torch.randn(1024, 1024)
    x = torch.randn(2**23)
    cpu = torch.device("cpu")
    return (measure(lambda: a @ b, cpu, max_s=0.3).min_s,
            measure(lambda: x + x, cpu, max_s=0.3).min_s)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/validation_cpu.json"))
    parser.add_argument("--chip", help="use this measured chip YAML instead of measuring")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from modellens.hardware import chips_yaml
    from modellens.tasks.characterize import characterize
    from modellens.tasks.time import time_model

    references = [reference_seconds()]
    started = time.perf_counter()
    chip_path = Path(args.chip) if args.chip else Path(args.out).with_suffix(".chip.yaml")
    if not args.chip:
        chip_path.parent.mkdir(parents=True, exist_ok=True)
        chip_path.write_text(chips_yaml([characterize(torch.device("cpu")).chip]))
    measured_in = time.perf_counter() - started
    references.append(reference_seconds())
    results = {}
    for label, spec, inputs in MODELS:
        results[label] = time_model(spec, inputs, hardware=str(chip_path), use_cache=False)
        references.append(reference_seconds())
    again = {label: time_model(spec, inputs, hardware=str(chip_path), use_cache=False,
                               max_seconds=0).measured.end_to_end_min_s
             for label, spec, inputs in MODELS}  # a second end-to-end round, minutes later
    rows = []
    for label, spec, _ in MODELS:
        result = results[label]
        e2e = min(result.measured.end_to_end_min_s, again[label])
        op_sum, predicted = result.measured.op_sum_s, result.predicted_s
        timed = [op for op in result.ops if op.measured_s and op.predicted_s]
        ops_measured = sum(op.measured_s * op.calls for op in timed)
        ops_predicted = sum(op.predicted_s * op.calls for op in timed)
        rows.append({"model": label, "spec": spec, "measured_s": e2e,
                     "ops_predicted_s": ops_predicted, "ops_measured_s": ops_measured,
                     "op_level_error": (ops_predicted - ops_measured) / ops_measured,
                     "measured_median_s": result.measured.end_to_end_s, "op_sum_s": op_sum,
                     "predicted_s": predicted, "error": (predicted - e2e) / e2e,
                     "op_sum_error": (op_sum - e2e) / e2e})
        print(f"{label:26s} measured {1e3 * e2e:8.2f} ms  op sum {1e3 * op_sum:8.2f} ms  "
              f"predicted {1e3 * predicted:8.2f} ms  error {100 * rows[-1]['error']:+6.1f} %  "
              f"ops alone: {100 * rows[-1]['op_level_error']:+6.1f} %", flush=True)
    op_errors = [abs(r["op_level_error"]) for r in rows]
    drift = [max(r[i] for r in references) / min(r[i] for r in references) - 1 for i in (0, 1)]
    errors = [abs(r["error"]) for r in rows]
    summary = {"median_abs_error": statistics.median(errors), "max_abs_error": max(errors),
               "within_each_goal": sum(e <= GOAL_EACH for e in errors), "models": len(rows),
               "op_level_median_abs_error": statistics.median(op_errors),
               "references_s": references,
               "characterize_s": measured_in,
               "reference_drift": {"gemm": drift[0], "stream": drift[1]},
               "steady": max(drift) <= STEADY, "threads": torch.get_num_threads(),
               "torch": torch.__version__, "load_average": os.getloadavg(),
               "date": time.strftime("%Y-%m-%d %H:%M")}
    Path(args.out).write_text(json.dumps({"summary": summary, "rows": rows}, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
