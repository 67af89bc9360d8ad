"""`modellens` command line: parse -> API call -> render. Heavy imports happen inside handlers,
so `modellens --help` stays fast."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

FORMATS = ("table", "json", "csv", "html")
EXIT_ERROR = 1
EXIT_INTERNAL = 3


# --------------------------------------------------------------------------------------------
# Output


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
        from .report.csv_io import to_csv
        from .report.files import to_json, write_text

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
                from .errors import ModellensError

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


def _add_output_options(parser: argparse.ArgumentParser, default_format: str = "table") -> None:
    group = parser.add_argument_group("output")
    group.add_argument("--format", choices=FORMATS, default=default_format,
                       help=f"output format (default {default_format})")
    group.add_argument("-o", "--output", metavar="PATH", help="write the result to PATH (atomically)")
    group.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")


def _add_input_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("inputs")
    group.add_argument("--batch-size", type=int, default=1, help="batch size (default 1)")
    group.add_argument("--seq-len", type=int, help="sequence length for text models (default 128)")
    group.add_argument("--image-size", type=int, help="image side for vision models (default native)")
    group.add_argument("--dtype", help="cast weights and float inputs: float32, bf16, fp16, ...")
    group.add_argument("--inputs", metavar="FILE.py::FN",
                       help="function returning sample inputs, for FILE.py::FN models")
    group.add_argument("--task", default="auto",
                       help="HF head: auto, base, causal-lm, seq2seq-lm, masked-lm, "
                            "image-classification, architecture")


# --------------------------------------------------------------------------------------------
# Commands


def _cmd_profile(args: argparse.Namespace) -> int:
    from .profiler import profile
    from .report import console as console_report

    out = Output(args)
    with out.progress(f"profiling {args.model}"):
        result = profile(
            args.model, args.inputs, batch_size=args.batch_size, seq_len=args.seq_len,
            image_size=args.image_size, dtype=args.dtype, backward=args.backward,
            hardware=args.hardware, task=args.task,
        )

    def table(console) -> None:
        console_report.render_profile(result, console, depth=args.depth,
                                      show_shapes=args.showshape, top=args.top)
        if args.unsupported:
            console.print(console_report.unsupported_table(result))

    def html() -> str:
        from .report.html import render_html

        return render_html(result)

    out.emit(table=table, data=result.to_dict, rows=lambda: [m.to_dict() for m in result.modules],
             html=html)
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from .sources import hf

    out = Output(args)
    rows = [{"spec": name, "source": "catalog"} for name in hf.catalog_names()]

    def table(console) -> None:
        for row in rows:
            console.print(row["spec"])

    out.emit(table=table, data=lambda: {"schema_version": 1, "models": rows}, rows=lambda: rows)
    return 0


def _cmd_hardware(args: argparse.Namespace) -> int:
    from .hardware import load_chips
    from .report.units import count, size

    out = Output(args)
    chips = load_chips(args.file) if args.file else load_chips()
    rows = [
        {"id": c.id, "name": c.name, "bf16_flops": c.peak_flops.get("bf16"),
         "fp32_flops": c.peak_flops.get("fp32"), "memory_bandwidth": c.memory_bandwidth,
         "memory_bytes": c.memory_bytes, "aliases": ", ".join(c.aliases), "source": c.source}
        for c in chips.values()
    ]

    def table(console) -> None:
        from rich.table import Table

        t = Table(title="Chips (dense peaks)")
        for col in ("id", "name", "bf16", "fp32", "bandwidth", "memory", "aliases"):
            t.add_column(col)
        for r in rows:
            t.add_row(r["id"], r["name"], count(r["bf16_flops"], "FLOP/s"),
                      count(r["fp32_flops"], "FLOP/s"), count(r["memory_bandwidth"], "B/s"),
                      size(r["memory_bytes"]), r["aliases"])
        console.print(t)

    out.emit(table=table, data=lambda: {"schema_version": 1, "chips": rows}, rows=lambda: rows)
    return 0


# --------------------------------------------------------------------------------------------
# Parser


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="modellens",
        description="What does a PyTorch model cost? Params, FLOPs, memory and roofline, "
                    "from its structure alone (no weights downloaded).",
    )
    parser.add_argument("--version", action="version", version=f"modellens {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = commands.add_parser(
        "profile", help="FLOPs, MACs, params, memory and roofline bottleneck of a model",
        description="Profile a model: gpt2, bert-base-uncased, tv:resnet50, timm:NAME, "
                    "yolo:yolov8n, ./hf_dir, config.json, file.py::fn.")
    p.add_argument("model", help="model spec (see README: catalog id, tv:, timm:, yolo:, file.py::fn)")
    _add_input_options(p)
    p.add_argument("--backward", action="store_true", help="also capture and count the backward pass")
    p.add_argument("--hardware", help="chip for the roofline (default a100; `modellens hardware` "
                                      "lists them) or a YAML file")
    p.add_argument("--depth", type=int, default=2, help="module table depth (default 2)")
    p.add_argument("--showshape", action="store_true", help="show module input/output shapes")
    p.add_argument("--top", type=int, default=10, help="top-k ops by FLOPs and by bytes (0: none)")
    p.add_argument("--unsupported", action="store_true", help="list ops with no FLOP convention")
    _add_output_options(p)
    p.set_defaults(handler=_cmd_profile)

    p = commands.add_parser("models", help="list the offline model catalog")
    _add_output_options(p)
    p.set_defaults(handler=_cmd_models)

    p = commands.add_parser("hardware", help="list the chips known to the roofline analysis")
    p.add_argument("--file", help="a user YAML of chips to list instead")
    _add_output_options(p)
    p.set_defaults(handler=_cmd_hardware)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .errors import ModellensError

    try:
        return args.handler(args)
    except ModellensError as exc:
        print(f"modellens: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("modellens: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"modellens: internal error: {type(exc).__name__}: {first} "
              "(rerun with --debug for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
