"""Options and output handling shared by every command: --format, -o, --quiet, inputs."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

FORMATS = ("table", "json", "csv", "html")


class Output:
    """Where and how a command writes its result: --format, -o, --quiet."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.format: str = args.format
        self.path: str | None = args.output
        self.quiet: bool = args.quiet

    def console(self):
        from rich.console import Console

        if self.path and self.format == "table":
            return Console(record=True, width=160, file=_NullFile())
        console = Console(quiet=self.quiet)
        return console if console.is_terminal else Console(quiet=self.quiet, width=160)

    def progress(self, message: str):
        """A spinner on stderr while `message` work runs (only on a terminal, never with -q)."""
        import contextlib

        from rich.console import Console

        stderr = Console(stderr=True)
        if self.quiet or not stderr.is_terminal:
            return contextlib.nullcontext()
        return stderr.status(message)

    def emit(self, *, table: Callable[[Any], None], data: Callable[[], Any],
             rows: Callable[[], list[dict]], html: Callable[[], str] | None = None) -> None:
        from ..io import to_json, write_text
        from ..report.csv_io import to_csv

        if self.format == "table":
            console = self.console()
            table(console)
            if self.path:
                write_text(self.path, console.export_text())
            return
        if self.format == "json":
            text = to_json(data())
        elif self.format == "csv":
            text = to_csv(rows())
        else:
            if html is None:
                from ..errors import ModellensError

                raise ModellensError("this command has no HTML view; use --format table|json|csv")
            text = html()
        if self.path:
            write_text(self.path, text)
            if not self.quiet:
                print(f"wrote {self.path}", file=sys.stderr)
        elif not self.quiet:
            sys.stdout.write(text)


class _NullFile:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass


def add_output_options(parser: argparse.ArgumentParser, default_format: str = "table") -> None:
    group = parser.add_argument_group("output")
    group.add_argument("--format", choices=FORMATS, default=default_format,
                       help=f"output format (default {default_format})")
    group.add_argument("-o", "--output", metavar="PATH", help="write the result to PATH (atomically)")
    group.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")


def sizes(text: str) -> int | list[int]:
    """'128' -> 128; '128,512' -> [128, 512] (for sweeps)."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or a comma list, got {text!r}")
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"sizes must be positive integers, got {text!r}")
    return values[0] if len(values) == 1 else values


def add_input_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("inputs")
    group.add_argument("--batch-size", type=int, default=1, help="batch size (default 1)")
    group.add_argument("--seq-len", type=sizes,
                       help="sequence length for text models (default 128); "
                            "`profile` accepts several: 128,512,2048")
    group.add_argument("--image-size", type=sizes,
                       help="image side for vision models (default native); `profile` accepts "
                            "several")
    group.add_argument("--dtype", help="cast weights and float inputs: float32, bf16, fp16, ...")
    group.add_argument("--inputs", metavar="FILE.py::FN",
                       help="function returning sample inputs, for FILE.py::FN models")
    group.add_argument("--task", default="auto",
                       help="HF head: auto, base, causal-lm, seq2seq-lm, masked-lm, "
                            "image-classification, architecture")
