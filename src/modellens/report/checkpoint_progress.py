"""Progress over the tensors of a checkpoint, on stderr (never with -q).

On a terminal: a bar over bytes with the elapsed time and an estimate of the time left. Piped
(a log, CI): one line per finished shard of a sharded checkpoint (bytes done, elapsed, estimate),
so a 70 B run shows it is alive without flooding the log.
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Callable, Iterator

from .. import units
from .text import clean, safe

Update = Callable[[int, int, str], None]


@contextlib.contextmanager
def store_progress(quiet: bool, label: str, store) -> Iterator[Update | None]:
    from rich.console import Console

    stderr = Console(stderr=True)
    if quiet:
        yield None
        return
    sizes = {e.name: e.spec.nbytes for e in store.entries}
    total = sum(sizes.values()) or 1
    if stderr.is_terminal:
        with _bar(stderr, label, total, sizes) as update:
            yield update
        return
    file_of = getattr(store, "file_of", None)
    if not file_of or len(set(file_of.values())) < 2:
        yield None
        return
    yield _shard_lines(label, total, sizes, file_of)


@contextlib.contextmanager
def _bar(console, label: str, total: int, sizes: dict[str, int]) -> Iterator[Update]:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(binary_units=True),
                  TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                  TextColumn("[dim]{task.fields[tensor]}"), console=console,
                  transient=True) as bar:
        task = bar.add_task(safe(label), total=total, tensor="")

        def update(done: int, count: int, name: str) -> None:
            bar.update(task, advance=sizes.get(name, 0), tensor=safe(name))  # markup-formatted

        yield update


def _shard_lines(label: str, total: int, sizes: dict[str, int], file_of: dict) -> Update:
    shards = sorted(set(file_of.values()))
    left = {shard: 0 for shard in shards}
    for name, shard in file_of.items():
        left[shard] += 1
    state = {"bytes": 0, "shards": 0, "start": time.perf_counter()}

    def update(done: int, count: int, name: str) -> None:
        state["bytes"] += sizes.get(name, 0)
        shard = file_of.get(name)
        if shard is None:
            return
        left[shard] -= 1
        if left[shard]:
            return
        state["shards"] += 1
        elapsed = time.perf_counter() - state["start"]
        rate = state["bytes"] / elapsed if elapsed > 0 else 0
        eta = (total - state["bytes"]) / rate if rate else None
        print(f"{clean(label)}: shard {state['shards']}/{len(shards)} {clean(shard.name)} done, "
              f"{units.size(state['bytes'])} of {units.size(total)} in "
              f"{_clock(elapsed)}, about {_clock(eta)} left", file=sys.stderr, flush=True)

    return update


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
