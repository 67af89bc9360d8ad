"""One tool on one model, in its own process, so its peak RSS is its own.

    python benchmarks/worker.py TOOL MODEL_KEY --out result.json [--repeats N] [--device meta]

Builds the model (timed apart, excluded), runs the tool once with per-module detail (also the
warm-up: first-call imports and caches), then `repeats` timed runs; writes one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from benchmarks.models import BY_KEY, Subject  # noqa: E402
from benchmarks.peers import TOOLS  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(tool_name: str, key: str, repeats: int, device: str) -> dict:
    tool, model = TOOLS[tool_name], BY_KEY[key]
    subject = Subject(model, device=device)
    out: dict = {"tool": tool_name, "model": key, "device": device, "ok": False}
    subject.source  # noqa: B018  (resolving the spec imports its library: not timed)
    started = time.perf_counter()
    if tool.needs_weights:
        subject.module, subject.inputs  # noqa: B018  (build now, outside the timed runs)
    out["build_s"] = time.perf_counter() - started
    out["rss_after_build_mb"] = peak_rss_mb()
    started = time.perf_counter()
    detailed = tool.count(subject, True)
    first_s = time.perf_counter() - started - detailed.extra.get("build_s", 0.0)
    times, cpu_times, inner_builds, flops = [], [], [], set()
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        count = tool.count(subject, False)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        inner_builds.append(count.extra.get("build_s", 0.0))  # modellens builds on meta itself
        times.append(wall - inner_builds[-1])
        cpu_times.append(cpu)  # all threads; less disturbed by other load than wall time
        flops.add(count.flops)
    classes = detailed.extra.pop("classes", None)
    if classes is None and detailed.modules is not None:
        names = subject.class_names()
        classes = {p: names.get(p, "?") for p in detailed.modules}
    out.update(
        ok=True,
        flops=detailed.flops,
        params=detailed.params,
        flops_vary=sorted(flops | {detailed.flops}) if flops - {detailed.flops} else None,
        first_s=first_s,
        times_s=times,
        median_s=statistics.median(times) if times else None,
        inner_build_s=statistics.median(inner_builds) if inner_builds else None,
        cpu_times_s=cpu_times,
        cpu_median_s=statistics.median(cpu_times) if cpu_times else None,
        rss_peak_mb=peak_rss_mb(),
        modules=detailed.modules,
        classes=classes,
        extra=detailed.extra,
    )
    return out


def describe(exc: BaseException) -> str:
    """The innermost cause in one line (torchinfo wraps the real error in its own)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0][:300] if lines else ''}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("tool", choices=list(TOOLS))
    parser.add_argument("model", choices=list(BY_KEY))
    parser.add_argument("--out", required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", choices=("cpu", "meta"))
    args = parser.parse_args()
    try:
        result = measure(args.tool, args.model, args.repeats, args.device)
    except BaseException as exc:  # recorded, not raised: a failing peer is a result
        result = {"tool": args.tool, "model": args.model, "device": args.device, "ok": False,
                  "error": describe(exc), "traceback": traceback.format_exc()[-3000:],
                  "rss_peak_mb": peak_rss_mb()}
    Path(args.out).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
