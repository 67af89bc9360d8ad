"""`make bench`: modellens vs torch's FlopCounterMode and the peers, in one run.

    python benchmarks/run.py [--models gpt2,resnet50] [--tools modellens,fvcore] [--no-scale]
                             [--max-load 1.0 --max-wait 3600] [--out benchmarks/results]

Every (tool, model) pair runs in its own subprocess (benchmarks/worker.py), one at a time, so peak
RSS is its own and no two measurements compete for the CPU. Writes results.json and tables.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import tables  # noqa: E402
from benchmarks.models import BY_KEY, MODELS, SCALE_MODELS  # noqa: E402
from benchmarks.peers import TOOLS  # noqa: E402

WORKER = ROOT / "benchmarks" / "worker.py"
GUARD_MB = 3000  # a worker is killed when the machine's available memory falls below this
START_MB = 4000  # a worker starts once it would leave this much available
MARGIN_MB = 5000  # the real-weight 7 B run starts only if it leaves this much available
SCALE_PEER = "FlopCounterMode"  # the one peer tried with real weights on the 7 B model


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def meminfo_mb(field: str) -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def wait_for_quiet(max_load: float, max_wait: float) -> dict:
    started = time.time()
    while load_average() > max_load and time.time() - started < max_wait:
        time.sleep(30)
    return {"waited_s": round(time.time() - started), "loadavg_at_start": loadavg()}


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def environment() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.processor())
    versions = {}
    for dist in ("torch", "transformers", "torchvision", "ultralytics", "modellens", "fvcore",
                 "ultralytics-thop", "ptflops", "calflops", "torchinfo", "torchprofile"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "date": datetime.datetime.now().isoformat(timespec="minutes"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": round(meminfo_mb("MemTotal") / 1024, 1),
        "python": platform.python_version(),
        "versions": versions,
    }


def run_worker(tool: str, key: str, repeats: int, device: str = "cpu", timeout: float = 900,
               needed_mb: float = 1500) -> dict:
    """One worker process, started once `needed_mb` is available (waiting for other users of
    the machine to release memory), and tried again if it had to be stopped for memory."""
    for _ in range(3):
        if not wait_for_memory(needed_mb):
            result = {"tool": tool, "model": key, "device": device, "ok": False,
                      "error": f"skipped: needs ~{needed_mb / 1024:.1f} GB, "
                               f"{meminfo_mb('MemAvailable') / 1024:.1f} GB available"}
            break
        result = attempt(tool, key, repeats, device, timeout)
        if not result.get("stopped_for_memory"):
            break
    status = "ok" if result.get("ok") else result.get("error", "failed")
    print(f"  {tool:28s} {key:14s} {device:4s} {result.get('process_s', 0):7.1f}s  {status}",
          flush=True)
    return result


def wait_for_memory(needed_mb: float, max_wait: float = 600) -> bool:
    started = time.time()
    while not fits(needed_mb, START_MB):
        if time.time() - started > max_wait:
            return False
        time.sleep(10)
    return True


def attempt(tool: str, key: str, repeats: int, device: str, timeout: float) -> dict:
    """One worker process; killed if it runs past `timeout` or the machine runs short of memory."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    command = [sys.executable, str(WORKER), tool, key, "--out", str(out),
               "--repeats", str(repeats), "--device", device]
    started = time.time()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    stopped, for_memory = None, False
    while process.poll() is None:
        if time.time() - started > timeout:
            stopped = f"stopped after the {timeout:.0f} s timeout"
        elif meminfo_mb("MemAvailable") < GUARD_MB:
            stopped = f"stopped: the machine's available memory fell below {GUARD_MB} MB"
            for_memory = True
        if stopped:
            process.kill()
            break
        time.sleep(0.5)
    stderr = process.communicate()[1]
    result = json.loads(out.read_text()) if out.stat().st_size else {}
    out.unlink()
    if not result:
        result = {"tool": tool, "model": key, "device": device, "ok": False,
                  "error": stopped or f"worker exited {process.returncode}: {stderr[-300:]}",
                  "stopped_for_memory": for_memory}
    result["loadavg"] = loadavg()
    result["process_s"] = round(time.time() - started, 1)
    return result


def real_weight_mb(params: int, bytes_per_param: int = 4) -> float:
    return params * bytes_per_param / 2**20


def fits(needed_mb: float, margin_mb: float = MARGIN_MB) -> bool:
    return needed_mb + margin_mb < meminfo_mb("MemAvailable")


def bench_models(models: list[str], tools: list[str]) -> list[dict]:
    runs = []
    for key in models:
        model = BY_KEY[key]
        ours = run_worker("modellens", key, model.repeats)
        runs.append(ours)
        params = ours.get("params") or 0
        needed = real_weight_mb(params) * 1.5 + 1500  # weights, activations, the tool
        runs += [run_worker(tool, key, model.repeats, needed_mb=needed)
                 for tool in tools if tool != "modellens"]
    return runs


def bench_scale(tools: list[str], real_7b: bool) -> dict:
    """modellens on 7 B-70 B models on meta; each peer on the meta-built model; with `real_7b`,
    one peer with real bf16 weights on the 7 B model if the machine has the memory to spare."""
    ours, on_meta, real = [], [], []
    for model in SCALE_MODELS:
        result = run_worker("modellens", model.key, model.repeats)
        ours.append(result)
        for tool in tools:
            if tool not in ("modellens", "modellens (nn.Module)"):
                on_meta.append(run_worker(tool, model.key, 0, device="meta", timeout=300))
        params = result.get("params") or 0
        real.append({"model": model.key, "params": params,
                     "fp32_gb": round(real_weight_mb(params, 4) / 1024, 1),
                     "bf16_gb": round(real_weight_mb(params, 2) / 1024, 1)})
    first = real[0]
    needed = first["bf16_gb"] * 1024 + 2000
    if not real_7b:
        first["peer_run"] = {"tool": SCALE_PEER, "ok": False, "error": "not attempted in this run "
                             "(benchmarks/run.py --real-7b)"}
    elif SCALE_PEER in tools and fits(needed):
        first["peer_run"] = run_worker(SCALE_PEER, SCALE_MODELS[0].key, 0, timeout=600)
    else:
        first["peer_run"] = {"tool": SCALE_PEER, "ok": False, "error": (
            f"skipped: needs ~{needed / 1024:.1f} GB with real bf16 weights, "
            f"{meminfo_mb('MemAvailable') / 1024:.1f} GB available, {MARGIN_MB / 1024:.0f} GB "
            "kept free for the other users of this machine")}
    return {"modellens": ours, "peers_on_meta": on_meta, "real_weights": real}


def bench_cli(repeats: int = 3) -> dict:
    """Whole-process time and peak RSS of `modellens profile gpt2 -q`, a fresh process each time."""
    exe = Path(sys.executable).with_name("modellens")
    times, rss = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        process = subprocess.Popen([str(exe), "profile", "gpt2", "-q"], stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        times.append(time.perf_counter() - started)
        rss.append(usage.ru_maxrss / 1024)
    return {"command": "modellens profile gpt2 -q", "times_s": times, "rss_mb": max(rss),
            "loadavg": loadavg()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(m.key for m in MODELS))
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--no-scale", action="store_true")
    parser.add_argument("--real-7b", action="store_true",
                        help=f"also run {SCALE_PEER} on Mistral-7B with real bf16 weights "
                             "(~15 GB; only if that leaves 5 GB available)")
    parser.add_argument("--max-load", type=float, default=1.0,
                        help="wait until the 1-minute load average is below this")
    parser.add_argument("--max-wait", type=float, default=3600, help="seconds to wait at most")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    models, tools = args.models.split(","), args.tools.split(",")
    for name in tools:
        if name not in TOOLS:
            parser.error(f"unknown tool {name!r}; known: {', '.join(TOOLS)}")
    for key in models:
        if key not in BY_KEY:
            parser.error(f"unknown model {key!r}; known: {', '.join(BY_KEY)}")
    print(f"load average {loadavg()}; waiting for < {args.max_load} "
          f"(at most {args.max_wait:.0f} s)")
    results = {"environment": environment(), "load": wait_for_quiet(args.max_load, args.max_wait)}
    print(f"starting at load {results['load']['loadavg_at_start']}")
    results["cli"] = bench_cli()
    results["runs"] = bench_models(models, tools)
    if not args.no_scale:
        results["scale"] = bench_scale(tools, args.real_7b)
    results["load"]["loadavg_at_end"] = loadavg()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results))
    (out / "tables.md").write_text(tables.render(results))
    print(f"wrote {out / 'results.json'} and {out / 'tables.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
