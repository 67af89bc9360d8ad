"""Progress on stderr while a command works: a bar for tasks that report `io.Progress`
(done, total, label), a spinner for those that do not. Both show only on a terminal and never
with --quiet, so piped output and logs stay clean."""

from __future__ import annotations

import contextlib
from typing import ContextManager, Iterator

from ..io import Progress
from .text import safe


def _terminal(quiet: bool):
    """The stderr console when progress may be drawn, else None."""
    from rich.console import Console

    stderr = Console(stderr=True)
    return None if quiet or not stderr.is_terminal else stderr


@contextlib.contextmanager
def progress_bar(title: str, *, quiet: bool = False,
                 transient: bool = True) -> Iterator[Progress | None]:
    """A bar `title ━━━ done/total elapsed label`; yields the task's `progress` callback (None
    when nothing is drawn). Lines printed to stderr meanwhile appear above the bar."""
    stderr = _terminal(quiet)
    if stderr is None:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    with Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
             TimeElapsedColumn(), TextColumn("[dim]{task.fields[label]}"), console=stderr,
             transient=transient) as bar:
        task = bar.add_task(safe(title), total=None, label="")

        def update(done: int, total: int, label: str) -> None:  # labels are tensor/model names
            bar.update(task, completed=done, total=total, label=safe(label))

        yield update


def spinner(message: str, *, quiet: bool = False) -> ContextManager:
    """A spinner with `message` while work that reports no progress runs."""
    stderr = _terminal(quiet)
    return contextlib.nullcontext() if stderr is None else stderr.status(safe(message))
