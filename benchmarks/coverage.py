"""Model-zoo coverage: `modellens discover` over every library; writes docs/coverage.md.

    .venv/bin/python benchmarks/coverage.py                  # everything (hours on 2 CPU cores)
    .venv/bin/python benchmarks/coverage.py --rerun-failed   # after changing an input rule

Each model runs in a worker process with a time limit (`--timeout`, YOLO `--yolo-timeout`: its
constructor runs a real CPU forward pass). Results go to benchmarks/coverage.json (every
model, as `modellens discover -o` writes it) and docs/coverage.md (summary, goals, every model).
Re-running one library (`--library yolo`) re-profiles all of its models and keeps every other
library's results; `--rerun-failed` re-profiles only the models that were not ok, and `--resume`
goes on after an interrupted sweep, skipping every model already in its partial log.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from modellens.io import write_json, write_text
from modellens.report.markdown import render_markdown
from modellens.tasks import discover as engine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "coverage.json"
PAGE = ROOT / "docs" / "coverage.md"
# library -> (minimum share ok, of which models): the goals
GOALS = {"catalog": (1.0, "tried"), "transformers": (0.90, "built"),
         "torchvision": (0.95, "tried"), "timm": (0.95, "tried"), "yolo": (1.0, "tried")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", default="all", choices=("all", *engine.LIBRARIES))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--yolo-timeout", type=float, default=600.0)
    parser.add_argument("--rerun-failed", action="store_true",
                        help="re-profile only the models not ok in benchmarks/coverage.json")
    parser.add_argument("--resume", action="store_true",
                        help="skip the models already in the partial log of an interrupted sweep")
    args = parser.parse_args()
    partial = RESULTS.with_suffix(".partial.jsonl")
    previous = _load(partial)
    libraries = engine.LIBRARIES if args.library == "all" else (args.library,)
    started = time.perf_counter()
    results: dict[tuple[str, str], engine.ModelResult] = dict(previous)
    memory = None
    with partial.open("a") as log:
        def record(model: engine.ModelResult) -> None:
            log.write(json.dumps(model.to_dict()) + "\n")
            log.flush()
            print(f"{model.status:<18} {model.spec} ({model.seconds:.1f} s) {model.reason[:120]}",
                  flush=True)

        for library in libraries:
            todo = [c for c in engine.candidates(library)
                    if not _keep(previous.get((c.library, c.name)), args)]
            timeout = args.yolo_timeout if library == "yolo" else args.timeout
            swept = engine.discover(library, models=todo, jobs=args.jobs, timeout=timeout,
                                    on_result=record)
            results.update({(r.library, r.name): r for r in swept.results})
            memory = swept.settings["memory_limit_bytes"] or memory
    order = {(c.library, c.name): i for i, c in enumerate(engine.candidates("all"))}
    current = [r for r in results.values() if (r.library, r.name) in order]
    ordered = sorted(current, key=lambda r: order[r.library, r.name])
    settings = {"library": "all", "last_run": args.library, "jobs": args.jobs, "timeout_s": args.timeout,
                "yolo_timeout_s": args.yolo_timeout, "inputs": engine.InputSettings().to_dict(),
                "memory_limit_bytes": memory,
                "versions": engine.library_versions(), "machine": _machine()}
    result = engine.DiscoveryResult(ordered, settings, time.perf_counter() - started)
    write_json(RESULTS, result.to_dict())
    write_text(PAGE, render_page(result))
    partial.unlink()
    print(f"wrote {RESULTS.relative_to(ROOT)} and {PAGE.relative_to(ROOT)}")
    return 0


def _keep(result: engine.ModelResult | None, args: argparse.Namespace) -> bool:
    """Whether a model's last result stands (not re-profiled) under --resume / --rerun-failed."""
    return result is not None and (args.resume or (args.rerun_failed and result.ok))


def _load(partial: Path) -> dict[tuple[str, str], engine.ModelResult]:
    """The last results: benchmarks/coverage.json, then the partial log of a sweep cut short."""
    models = []
    if RESULTS.is_file():
        models = engine.DiscoveryResult.from_dict(json.loads(RESULTS.read_text())).results
    if partial.is_file():
        lines = partial.read_text().splitlines()
        models += [engine.ModelResult.from_dict(json.loads(line)) for line in lines if line]
    return {(r.library, r.name): r for r in models}


def _machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {sys.version.split()[0]}"


def goal_rows(result: engine.DiscoveryResult) -> list[str]:
    rows = ["| library | goal | measured | met |", "|---|---|---|---|"]
    for summary in result.summaries():
        if summary.library not in GOALS:
            continue
        share, of = GOALS[summary.library]
        whole = summary.built if of == "built" else summary.tried
        measured = summary.ok / whole if whole else 0.0
        goal = "all ok" if share == 1.0 else f"≥ {share:.0%} ok of {of}"
        rows.append(f"| {summary.library} | {goal} | {summary.ok} / {whole} = {measured:.1%} | "
                    f"{'yes' if measured >= share else 'no'} |")
    return rows


def render_page(result: engine.DiscoveryResult) -> str:
    settings = result.settings
    versions = ", ".join(f"{k} {v}" for k, v in settings.get("versions", {}).items())
    lines = [
        "# Model-zoo coverage",
        "",
        "Generated by `.venv/bin/python benchmarks/coverage.py` (`modellens discover` over every "
        "library; data in `benchmarks/coverage.json`). Each model is built on the meta device, "
        "captured once (fake tensors, else real CPU tensors) and profiled exactly as "
        "`modellens profile SPEC` does, in a worker process with a time limit "
        f"({settings.get('timeout_s', 0):g} s; YOLO {settings.get('yolo_timeout_s', 0):g} s), at "
        "each model's native input size (text: 128 tokens; images: the model's own size; YOLO "
        "640x640).",
        "",
        f"Versions: {versions}. Machine: {settings.get('machine', '?')}; "
        f"the last run (`--library {settings.get('last_run', 'all')}`) used "
        f"{settings.get('jobs', 1)} worker(s), each limited to "
        f"{(settings.get('memory_limit_bytes') or 0) / 2**30:.1f} GiB; time summed over all "
        f"models {sum(r.seconds for r in result.results) / 3600:.1f} h.",
        "",
        "Columns: *built* = tried minus failed at build (for transformers: default configs "
        "that construct); *fail on real too* = the capture's real-tensor attempt ran and failed "
        "as well, so the model (or its default config) fails in plain PyTorch, not only under "
        "fake tensors; *runnable* = built minus those. GFLOPs are forward, matmul-class "
        "(1 MAC = 2 FLOPs).",
        "",
        "## Goals",
        "",
        *goal_rows(result),
        "",
        "## Summary",
        "",
        render_markdown(result),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
