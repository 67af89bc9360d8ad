"""`modellens unique SPEC... --run-on BACKEND`: argparse -> tasks.porting -> report.porting."""

from __future__ import annotations

import argparse
import sys


def run_porting(args: argparse.Namespace, specs: list[str]) -> int:
    from ..errors import SpecError
    from ..io import write_text
    from ..report import porting as view
    from ..tasks.porting import port
    from .common import Output

    if args.model_path:
        specs = [args.model_path, *specs]
    if not specs:
        raise SpecError("no model: give one or more SPECs (or --models-file)")
    # --inputs goes with the FILE.py::FN models (specs such as gpt2 make their own)
    models = [(s, args.inputs) if "::" in s and args.inputs else s for s in specs]
    out = Output(args)
    with _progress(args.quiet) as progress:
        result = port(models, args.run_on, device=args.device, budget_s=args.budget,
                      cache=not args.no_cache, emit_tests=args.emit_tests,
                      failing_only=args.failing_only, progress=progress,
                      batch_size=args.batch_size, seq_len=args.seq_len,
                      image_size=args.image_size, dtype=args.dtype, task=args.task)
    if args.rollup:
        write_text(args.rollup, view.rollup_text(result, args.rollup))
    if not args.quiet:
        if args.rollup:
            print(f"wrote {args.rollup}", file=sys.stderr)
        if result.files:
            print(f"wrote {len(result.files)} tests to {args.emit_tests}", file=sys.stderr)
    out.emit(table=lambda console: view.render(result, console, args.top), data=result.to_dict,
             rows=lambda: view.config_rows(result))
    return 0


class _progress:
    """A progress bar on stderr (terminal only, never with -q); yields progress(msg, i, n)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar = None

    def __enter__(self):
        from rich.console import Console

        stderr = Console(stderr=True)
        if self.quiet or not stderr.is_terminal:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                            MofNCompleteColumn(), console=stderr, transient=True)
        self.bar.start()
        self.task = self.bar.add_task("", total=None)
        return self.update

    def update(self, message: str, done: int, total: int) -> None:
        self.bar.update(self.task, description=message[:60], completed=done, total=total)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
