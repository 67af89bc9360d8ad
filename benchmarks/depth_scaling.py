"""Cost in depth: `profile()` of GPT-2 with 12 and 96 layers (blocks replayed), forward and
with the backward, in one process, and Llama-2-70B with its backward; optionally whole
processes (`llm meta-llama/Llama-2-70b-hf`, `profile tv:resnet50`) and a cProfile breakdown.

    python benchmarks/depth_scaling.py [--repeat 5] [--processes] [--cprofile]

The 96-layer GPT-2 is GPT-2's catalog config.json with n_layer=96, written to a temporary
directory. Every figure is the median of `--repeat` calls after one warm-up call, wall time and
CPU time of this process (`time.process_time`; on a loaded machine the CPU time is the steadier
one); ratios are taken within this one run. Prints a markdown table (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CATALOG = Path(__file__).resolve().parent.parent / "src" / "modellens" / "sources" / "catalog"


def gpt2_config(directory: Path, layers: int) -> str:
    config = json.loads((CATALOG / "gpt2.json").read_text())
    path = directory / f"gpt2-{layers}" / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**config, "n_layer": layers}))
    return str(path)


def timed(call, repeat: int) -> tuple[float, float, object]:
    """(median wall s, median CPU s, last result) of `repeat` calls after a warm-up call."""
    result = call()
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = call()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def whole_process(args: list[str], repeat: int) -> float:
    """Median wall seconds of `python -m modellens.cli ARGS` as a fresh process."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "modellens.cli", *args], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def breakdown(call, top: int = 12) -> None:
    """Where one call's CPU time goes, by function (cProfile, CPU clock)."""
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    call()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--processes", action="store_true", help="also time whole processes")
    parser.add_argument("--cprofile", action="store_true", help="print a cProfile breakdown")
    options = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from modellens.tasks.profile import profile

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        specs = {layers: gpt2_config(Path(tmp), layers) for layers in (12, 96)}
        for backward in (False, True):
            figures = {}
            for layers, spec in specs.items():
                wall, cpu, result = timed(lambda: profile(spec, backward=backward),
                                          options.repeat)
                figures[layers] = (wall, cpu)
                rows.append((f"GPT-2 {layers} layers{' + backward' if backward else ''}",
                             wall, cpu, result.timings))
            rows.append((f"ratio 96 / 12{' (backward)' if backward else ''}",
                         figures[96][0] / figures[12][0], figures[96][1] / figures[12][1], {}))
            if options.cprofile:
                for layers, spec in specs.items():
                    print(f"\n## cProfile: GPT-2 {layers} layers, backward={backward}")
                    breakdown(lambda: profile(spec, backward=backward))
        for backward in (False, True):
            wall, cpu, result = timed(
                lambda: profile("meta-llama/Llama-2-70b-hf", backward=backward), options.repeat)
            rows.append((f"Llama-2-70B{' + backward' if backward else ''}", wall, cpu,
                         result.timings))
    print(f"\nload average: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs\n")
    print("| profile() in process | wall s | CPU s | build / capture / costs s (last call) |")
    print("|---|---|---|---|")
    for name, wall, cpu, stages in rows:
        parts = " / ".join(f"{stages[k]:.3f}" for k in ("build_s", "capture_s", "costs_s")
                           if k in stages)
        bold = "**" if name.startswith("ratio") else ""
        print(f"| {bold}{name}{bold} | {wall:.3f} | {cpu:.3f} | {parts} |")
    if options.processes:
        print("\n| whole process (fresh) | wall s |\n|---|---|")
        for args in (["llm", "meta-llama/Llama-2-70b-hf", "-q"],
                     ["profile", "meta-llama/Llama-2-70b-hf", "--backward", "-q"],
                     ["profile", "tv:resnet50", "-q"]):
            print(f"| modellens {' '.join(args)} | {whole_process(args, 3):.2f} |")


if __name__ == "__main__":
    main()
