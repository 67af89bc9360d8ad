"""Peak memory of `modellens info` on sharded checkpoints of growing size: bounded, not growing.

    python benchmarks/sharded_memory.py [--sizes 0.5,2,8] [--shards 8] [--dtype bfloat16]

Writes, per total size (GiB), a Hugging Face style sharded checkpoint (`--shards` files
`model-0000k-of-0000n.safetensors` and `model.safetensors.index.json`) into a temporary
directory. The shards are *sparse* files: a real safetensors header, one small random tensor
per shard written for real, and the rest of the data a hole (reads as zeros, takes no disk), so
an 8 GiB checkpoint costs a few KiB of disk. Each size runs `modellens info DIR --format json -o
/dev/null` as its own process; its peak RSS (`wait4` of that child), wall time and the time
left that the first per-shard progress line estimated are printed as a markdown table
(docs/info.md). Peak RSS must stay flat as the total grows: it is set by the chunk size and the
worker count, not by the checkpoint.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

TENSOR_SHAPE = (4096, 8192)  # 32 M values: 64 MiB in bf16, a 70 B model's MLP slice
_ETA = re.compile(r"shard 1/\d+ .* in (\S+), about (\S+) left")


_FORMAT = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}


def sparse_safetensors(path: Path, holes: dict[str, tuple[tuple[int, ...], torch.dtype]],
                       real: dict[str, torch.Tensor]) -> int:
    """A .safetensors file whose `real` tensors are written and whose `holes` tensors are a
    sparse hole (zeros on read, no disk); returns the file's apparent size in bytes."""
    header: dict[str, dict] = {}
    offset = 0
    layout = [(n, tuple(t.shape), t.dtype) for n, t in real.items()]
    layout += [(n, shape, dtype) for n, (shape, dtype) in holes.items()]
    for name, shape, dtype in layout:
        size = math.prod(shape) * dtype.itemsize
        header[name] = {"dtype": _FORMAT[dtype], "shape": list(shape),
                        "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)  # the format pads the header to 8 bytes
    with open(path, "wb") as f:
        f.write(len(raw).to_bytes(8, "little") + raw)
        for name, tensor in real.items():
            f.seek(8 + len(raw) + header[name]["data_offsets"][0])
            f.write(tensor.contiguous().view(torch.uint8).numpy().tobytes())
        f.truncate(8 + len(raw) + offset)
    return 8 + len(raw) + offset


def write_sharded(directory: Path, total_bytes: int, shards: int, dtype: torch.dtype,
                  shape: tuple[int, ...] = TENSOR_SHAPE) -> dict[str, torch.Tensor]:
    """A sparse sharded checkpoint of about `total_bytes`, shard k holding consecutive layers
    (as real shards do); returns the real (random) tensors written, one per shard
    (`model.layers.N.probe.weight` for the shard's first layer N, shape (16, 64)), by name."""
    directory.mkdir(parents=True, exist_ok=True)
    per_tensor = math.prod(shape) * dtype.itemsize
    count = max(shards, round(total_bytes / per_tensor))
    gen = torch.Generator().manual_seed(0)
    weight_map: dict[str, str] = {}
    real: dict[str, torch.Tensor] = {}
    names = [f"model.layers.{i}.mlp.weight" for i in range(count)]
    for k in range(shards):
        file = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
        first, stop = k * count // shards, (k + 1) * count // shards  # consecutive layers
        probe_name = f"model.layers.{first}.probe.weight"
        real[probe_name] = torch.randn(16, 64, generator=gen).to(dtype)
        mine = names[first:stop]
        sparse_safetensors(directory / file, {n: (shape, dtype) for n in mine},
                           {probe_name: real[probe_name]})
        weight_map.update({n: file for n in [*mine, probe_name]})
    (directory / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map}))
    return real


def run_info(directory: Path) -> tuple[float, float, str]:
    """(peak RSS MiB, wall s, stderr) of `modellens info DIR` as its own process."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "modellens.cli", "info", str(directory),
                             "--format", "json", "-o", os.devnull], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"modellens info failed:\n{stderr}")
    return usage.ru_maxrss / 1024, time.perf_counter() - t0, stderr


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="0.5,2,8", help="total checkpoint sizes in GiB (default 0.5,2,8)")
    p.add_argument("--shards", type=int, default=8)
    p.add_argument("--dtype", default="bfloat16")
    args = p.parse_args()
    src = str(Path(__file__).resolve().parents[1] / "src")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    dtype = getattr(torch, args.dtype)
    print("| checkpoint | shards | values | peak RSS | wall | first shard: elapsed, estimated left "
          "| load |")
    print("|---|---|---|---|---|---|---|")
    for gib in (float(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
            directory = Path(tmp) / "ckpt"
            write_sharded(directory, int(gib * 2**30), args.shards, dtype)
            values = sum(math.prod(t["shape"]) for f in directory.glob("*.safetensors")
                         for n, t in _header(f).items() if n != "__metadata__")
            rss, wall, stderr = run_info(directory)
            eta = _ETA.search(stderr)
            first = f"{eta.group(1)}, {eta.group(2)}" if eta else "?"
            print(f"| {gib:g} GiB {args.dtype} | {args.shards} | {values / 1e9:.2f} G | "
                  f"{rss:.0f} MiB | {wall:.1f} s | {first} | {os.getloadavg()[0]:.1f} |",
                  flush=True)
    return 0


def _header(file: Path) -> dict:
    with open(file, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return json.loads(f.read(n))


if __name__ == "__main__":
    raise SystemExit(main())
