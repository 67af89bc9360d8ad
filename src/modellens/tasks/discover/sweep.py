"""`discover()`: profile every candidate model of a library and report what works."""

from __future__ import annotations

import os
import time
from typing import Callable, Iterable

from .candidates import candidates
from .engine import profile_candidate
from .pool import Pool, preload_for
from .results import Candidate, DiscoveryResult, InputSettings, ModelResult

DEFAULT_TIMEOUT_S = 120.0


def discover(
    library: str = "all",
    *,
    models: Iterable[Candidate] | None = None,
    jobs: int = 1,
    timeout: float = DEFAULT_TIMEOUT_S,
    limit: int | None = None,
    inputs: InputSettings = InputSettings(),
    on_result: Callable[[ModelResult], None] | None = None,
    memory_limit: int | None = None,
) -> DiscoveryResult:
    """Profile every candidate of `library` (or the given `models`) and report what works.

    Each model runs in one of `jobs` worker processes and is stopped after `timeout` seconds
    (status "timeout"); a worker that dies is replaced and its model recorded as failed. Each
    worker may allocate at most `memory_limit` bytes (default: 60 % of physical memory shared
    by the workers), so a real-tensor capture that runs away fails alone instead of taking the
    machine down. `jobs=0` runs in this process instead: no isolation, no time or memory limit
    (tests, debugging). `on_result` is called as each model finishes (progress bars).
    """
    started = time.perf_counter()
    todo = list(models) if models is not None else candidates(library, limit)
    report = on_result or (lambda result: None)
    worker_memory = None
    if jobs <= 0:
        results = []
        for candidate in todo:
            results.append(profile_candidate(candidate, inputs))
            report(results[-1])
    else:
        workers = min(jobs, max(1, len(todo)))
        worker_memory = memory_limit or int(0.6 * _physical_memory() / workers)
        results = Pool(workers, timeout, inputs, preload_for(todo), worker_memory).run(todo, report)
    settings = {"library": "custom" if models is not None and library == "all" else library,
                "jobs": jobs,
                "timeout_s": timeout, "limit": limit, "inputs": inputs.to_dict(),
                "memory_limit_bytes": worker_memory, "versions": library_versions()}
    return DiscoveryResult(results, settings, time.perf_counter() - started)


def _physical_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def library_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {}
    for package in ("torch", "transformers", "torchvision", "timm", "ultralytics"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions
