"""Tensors in parallel: one tensor per worker thread, each kernel on one thread.

Measured on the 2-core dev machine under load (docs/info.md): a float64 reduction over a 2²⁰
chunk costs ~28 ns per value with torch's 2 intra-op threads and ~2.5 ns with one, because the
two intra-op threads fight every other process for the cores at each kernel's barrier. So the
statistics pass runs `torch.set_num_threads(1)` and puts the cores to work on different tensors
instead (torch kernels release the GIL). Results come back in input order; at most `workers`
tensors are in flight, so memory stays at `workers` chunks.
"""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

import torch

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def single_threaded_kernels() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def map_tensors(fn: Callable[[T], R], items: Iterable[T],
                workers: int | None = None) -> Iterator[R]:
    """fn over items, `workers` at a time, results in order (lazily: consume to run)."""
    items = list(items)
    workers = min(workers or default_workers(), max(1, len(items)))
    with single_threaded_kernels():
        if workers == 1:
            for item in items:
                yield fn(item)
            return
        with ThreadPoolExecutor(workers, thread_name_prefix="modellens-tensor") as pool:
            pending = []
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) > 2 * workers:  # bounded look-ahead
                    yield pending.pop(0).result()
            for future in pending:
                yield future.result()
