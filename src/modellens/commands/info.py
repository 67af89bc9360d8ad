"""`modellens info SPEC_OR_CHECKPOINT`: parameter counts, memory and weight statistics."""

from __future__ import annotations

import argparse
import contextlib
from typing import Callable, Iterator

from .common import Output, add_output_options


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "info", help="parameters, memory and weight statistics of a checkpoint or model",
        description="Per-tensor shapes, parameter counts, memory and weight statistics (mean, std, "
                    "min, max, absmax, L2 norm, zeros, kurtosis, NaN/Inf) of a .safetensors file, "
                    "a sharded Hugging Face directory, a .pt/.bin state dict, or a model spec "
                    "(built on meta: shapes and counts only). Tensors are read one at a time.")
    p.add_argument("model", metavar="SPEC_OR_CHECKPOINT",
                   help="checkpoint file or directory, or a model spec (gpt2, tv:resnet50, ...)")
    p.add_argument("--plot", metavar="PNG", help="save weight histograms (pages: PNG, PNG-2, ...)")
    p.add_argument("--top", type=int, metavar="N",
                   help="show and plot only the N largest tensors (default: all)")
    p.add_argument("--per-page", type=int, default=16, help="histograms per plot page (default 16)")
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="allow a .pt/.bin pickle that needs more than tensors (runs its code)")
    p.add_argument("--task", default="auto", help="HF head for a model spec (as in profile)")
    add_output_options(p)
    p.set_defaults(handler=run)


@contextlib.contextmanager
def tensor_progress(out: Output, label: str) -> Iterator[Callable[[int, int, str], None] | None]:
    """A rich progress bar over tensors on stderr (terminal only, never with -q)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    stderr = Console(stderr=True)
    if out.quiet or not stderr.is_terminal:
        yield None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("[dim]{task.fields[tensor]}"),
                  console=stderr, transient=True) as bar:
        task = bar.add_task(label, total=None, tensor="")

        def update(done: int, total: int, name: str) -> None:
            bar.update(task, completed=done, total=total, tensor=name)

        yield update


def run(args: argparse.Namespace) -> int:
    from ..errors import ModellensError
    from ..report.weights_console import info_renderables
    from ..tasks.model_info import collect_model_info, open_target, plot_model_info

    out = Output(args)
    with out.progress(f"opening {args.model}"):
        store = open_target(args.model, trust_checkpoint=args.trust_checkpoint, task=args.task)
    with tensor_progress(out, "weight statistics") as progress:
        info = collect_model_info(store, progress)
    if args.plot:
        if not info.stats_available:
            raise ModellensError(f"{args.model}: no weight values to plot (a model spec is built "
                                 "on meta); pass a checkpoint")
        try:
            with out.progress("plotting weight distributions"):
                info.plot_paths = plot_model_info(info, store, args.plot, top=args.top,
                                                  per_page=args.per_page)
        except ImportError as exc:
            raise ModellensError(f"--plot: {exc}") from None

    def table(console) -> None:
        for part in info_renderables(info, args.top):
            console.print(part)
        for path in info.plot_paths:
            console.print(f"saved weight distributions to {path}")

    out.emit(table=table, data=info.to_dict,
             rows=lambda: [{"kind": "buffer" if t.is_buffer else "parameter", **t.to_dict()}
                           for t in info.layers + info.buffers])
    return 0
