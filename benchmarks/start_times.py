"""Whole-process start times: a cache miss (cold) against a result-cache hit, as the user runs
them.

    python benchmarks/start_times.py [--repeat 3]

Each command runs as its own process (`python -m modellens.cli ...`, HF_HUB_OFFLINE=1, a fresh
MODELLENS_CACHE_DIR in a temporary directory, deleted afterwards). Cold: `--no-cache` (the full
capture: torch, transformers, the model's code); cached: the same command again after one run
has filled the cache. Beside them, in the same run: `python -c pass` and `python -c "import
torch"`, so the times can be read as ratios under whatever load the machine has, and an unknown
hub id with the hub unreachable (HF_ENDPOINT at a closed port, no HF_HUB_OFFLINE). Prints a
markdown table (medians) with the machine and its load (README, "Start times").
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

CASES = (
    ("profile gpt2 --format json", ["profile", "gpt2", "--format", "json"]),
    ("profile meta-llama/Llama-3.1-70B --format json",
     ["profile", "meta-llama/Llama-3.1-70B", "--format", "json"]),
    ("models", ["models"]),
)


def timed(argv: list[str], env: dict[str, str]) -> float:
    """Seconds one process takes, start to exit; it must succeed."""
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()[:300]}")
    return elapsed


def median(argv: list[str], env: dict[str, str], repeat: int) -> float:
    return statistics.median(timed(argv, env) for _ in range(repeat))


def failing(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Seconds a process that must fail takes, and its stderr."""
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode == 0:
        raise SystemExit(f"{' '.join(argv)} was expected to fail")
    return elapsed, done.stderr


def machine() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell (median)")
    args = parser.parse_args()
    cli = [sys.executable, "-m", "modellens.cli"]
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "MODELLENS_CACHE_DIR": cache}
        env.pop("MODELLENS_NO_CACHE", None)
        load = os.getloadavg()
        python = median([sys.executable, "-c", "pass"], env, args.repeat)
        torch = median([sys.executable, "-c", "import torch"], env, args.repeat)
        rows = []
        for label, argv in CASES:
            cold = median(cli + argv + (["--no-cache"] if argv[0] != "models" else []), env,
                          args.repeat)
            timed(cli + argv, env)  # fills the cache
            hit = median(cli + argv, env, args.repeat)
            rows.append((label, cold, hit))
        dead = {k: v for k, v in env.items() if k != "HF_HUB_OFFLINE"}
        dead["HF_ENDPOINT"] = "http://127.0.0.1:9"
        unknown, stderr = failing(cli + ["profile", "Qwen/Qwen3-99B"], dead)
        load_after = os.getloadavg()
    print(f"Machine: {machine()}; load average {load[0]:.2f} before, {load_after[0]:.2f} after "
          f"(1 min); median of {args.repeat}.\n")
    print("| command (whole process) | cold (`--no-cache`) s | cached s | cold / cached |")
    print("|---|---:|---:|---:|")
    for label, cold, hit in rows:
        note = " (never cached: imports no torch)" if label == "models" else ""
        print(f"| `modellens {label}`{note} | {cold:.2f} | {hit:.2f} | {cold / hit:.1f}× |")
    print(f"| `python -c pass` | {python:.2f} | | |")
    print(f"| `python -c 'import torch'` | {torch:.2f} | | |")
    lines = len([line for line in stderr.splitlines() if line.strip()])
    print(f"| `modellens profile Qwen/Qwen3-99B`, hub unreachable (fails, {lines} line) "
          f"| {unknown:.2f} | | |")


if __name__ == "__main__":
    main()
