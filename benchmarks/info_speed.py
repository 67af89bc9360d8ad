"""`modellens info` against a bare one-pass torch reduction, both as whole processes.

    python benchmarks/info_speed.py [--sizes 512,2048] [--dtype float16] [--repeat 1]

Generates safetensors files of the given sizes (MiB, random normal values, 16 MiB tensors) in a
temporary directory (deleted afterwards, never committed), then times, each as its own process:
- bare:  import torch + safetensors, and per tensor (memory-mapped) one pass of
         x.float() -> aminmax, sum, sum of squares (the least any statistics tool must do);
- info:  `python -m modellens.cli info FILE --format json -o /dev/null` (mean, std, min, max,
         absmax, L2, zeros, kurtosis, skewness, NaN/Inf in float64, streamed in chunks).
Prints a markdown table with the ratio info / bare (docs/info.md).
"""

from __future__ import annotations

import argparse
import os
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


def timed(cmd: list[str]) -> float:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="512,2048", help="file sizes in MiB (default 512,2048)")
    p.add_argument("--dtype", default="float16")
    p.add_argument("--repeat", type=int, default=1, help="runs per case, best kept")
    args = p.parse_args()
    src = str(Path(__file__).resolve().parents[1] / "src")
    env_path = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    os.environ["PYTHONPATH"] = env_path
    print("| file | values | bare torch pass | modellens info | ratio |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for mib in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"gen-{mib}.safetensors"
            numel = generate(path, mib, args.dtype)
            bare = min(timed([sys.executable, "-c", BARE, str(path)])
                       for _ in range(args.repeat))
            info = min(timed([sys.executable, "-m", "modellens.cli", "info", str(path),
                              "--format", "json", "-o", os.devnull])
                       for _ in range(args.repeat))
            print(f"| {mib} MiB {args.dtype} | {numel / 1e6:.0f} M | {bare:.2f} s | "
                  f"{info:.2f} s | {info / bare:.2f}x |", flush=True)
            path.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
