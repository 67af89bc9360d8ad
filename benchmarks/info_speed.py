"""`modellens info` against a bare one-pass torch reduction, both as whole processes.

    python benchmarks/info_speed.py [--sizes 512,2048 | --size 2048] [--dtype float16] [--repeat 3]

Generates safetensors files of the given sizes (MiB, random normal values, 16 MiB tensors) in a
temporary directory (deleted afterwards, never committed), then times, each as its own process:
- bare:  import torch + safetensors, and per tensor (memory-mapped) one pass of
         x.float() -> aminmax, sum, sum of squares (the least any statistics tool must do);
- info:  `python -m modellens.cli info FILE --format json -o /dev/null` (mean, std, min, max,
         absmax, L2, zeros, kurtosis, skewness, NaN/Inf in float64, streamed in chunks).
The two are run alternately `--repeat` times (the file stays in the page cache) and the best
wall time and the best CPU time (user + sys of the child) of each are kept: on a shared, loaded
machine a single run can be off by 2x, CPU time much less. Prints a markdown table with both
ratios info / bare and the load average (docs/info.md). `--cpus 0` pins both to one core, the
case where the cores are busy and working on tensors in parallel cannot help.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE = r"""
import sys, torch
from safetensors import safe_open
with safe_open(sys.argv[1], framework="pt") as f:
    for name in f.keys():
        x = f.get_tensor(name).float()
        lo, hi = torch.aminmax(x); s = x.sum(); ss = torch.dot(x.view(-1), x.view(-1))
        float(lo), float(hi), float(s), float(ss)
"""


def generate(path: Path, mib: int, dtype: str) -> int:
    import torch
    from safetensors.torch import save_file

    dt = getattr(torch, dtype)
    per = 16 * 2**20 // torch.empty((), dtype=dt).element_size()  # 16 MiB tensors
    rows = 4096
    gen = torch.Generator().manual_seed(0)
    tensors = {f"layers.{i}.weight": torch.randn(rows, per // rows, generator=gen).to(dt)
               for i in range(max(1, mib // 16))}
    save_file(tensors, path)
    return sum(t.numel() for t in tensors.values())


CPUS: set[int] | None = None  # --cpus: pin both processes to these cores


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds user + sys) of `cmd` as its own process."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    pin = (lambda: os.sched_setaffinity(0, CPUS)) if CPUS else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, preexec_fn=pin)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best_of(cmds: dict[str, list[str]], repeat: int) -> dict[str, tuple[float, float]]:
    """Each command run `repeat` times, alternating; per command the best wall and best CPU."""
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in cmds}
    for _ in range(repeat):
        for key, cmd in cmds.items():
            runs[key].append(timed(cmd))
    return {k: (min(w for w, _ in v), min(c for _, c in v)) for k, v in runs.items()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="512,2048", help="file sizes in MiB (default 512,2048)")
    p.add_argument("--size", type=int, metavar="MIB", help="one file size in MiB (overrides --sizes)")
    p.add_argument("--dtype", default="float16")
    p.add_argument("--repeat", type=int, default=3, help="runs per case, alternating, best kept")
    p.add_argument("--cpus", help="pin both processes to these cores, e.g. 0 (one core: "
                                  "no parallelism to hide the per-value cost)")
    args = p.parse_args()
    global CPUS
    CPUS = {int(c) for c in args.cpus.split(",")} if args.cpus else None
    sizes = [args.size] if args.size else [int(s) for s in args.sizes.split(",")]
    src = str(Path(__file__).resolve().parents[1] / "src")
    env_path = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    os.environ["PYTHONPATH"] = env_path
    print("| file | values | bare torch pass (wall, CPU) | modellens info (wall, CPU) "
          "| ratio wall | ratio CPU | load |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for mib in sizes:
            path = Path(tmp) / f"gen-{mib}.safetensors"
            numel = generate(path, mib, args.dtype)
            best = best_of({"bare": [sys.executable, "-c", BARE, str(path)],
                            "info": [sys.executable, "-m", "modellens.cli", "info", str(path),
                                     "--format", "json", "-o", os.devnull]}, args.repeat)
            (bw, bc), (iw, ic) = best["bare"], best["info"]
            load = os.getloadavg()[0]
            cores = f", cores {args.cpus}" if args.cpus else ""
            print(f"| {mib} MiB {args.dtype}{cores} | {numel / 1e6:.0f} M | {bw:.2f} s, {bc:.2f} s | "
                  f"{iw:.2f} s, {ic:.2f} s | {iw / bw:.2f}x | {ic / bc:.2f}x | {load:.1f} |",
                  flush=True)
            path.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
