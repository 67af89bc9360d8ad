"""`modellens hardware`: the chips the time model knows; `--measure` characterizes this machine."""

from __future__ import annotations

import argparse

from .common import Output, add_output_options, input_paths


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "hardware", help="list the known chips, or measure this machine (--measure)",
        description="Lists the chip table (peaks, bandwidth, memory, the time model's source). "
                    "--measure times GEMMs, convolutions, attention and memory-bound ops on this "
                    "device, fits the calibrated time model and writes a chip YAML that "
                    "--hardware accepts anywhere (kept for `modellens time` too).")
    p.add_argument("--file", help="a user YAML of chips to list instead")
    p.add_argument("--measure", action="store_true",
                   help="characterize this device and write its chip YAML (-o FILE.yaml)")
    p.add_argument("--device", default="cpu", help="with --measure: cpu or cuda[:N]")
    p.add_argument("--dtype", default="float32", help="with --measure: float32, bf16, fp16")
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.measure:
        return _measure(args)
    from ..hardware import load_chips
    from ..io import document
    from ..report.console.hardware import render
    from ..report.csv_rows import chip_rows

    out = Output(args, inputs=input_paths(args, "file"))
    rows = chip_rows(list((load_chips(args.file) if args.file else load_chips()).values()))
    out.emit(table=lambda console: render(rows, console),
             data=lambda: document({"chips": rows}), rows=lambda: rows)
    return 0


def _measure(args: argparse.Namespace) -> int:
    out = Output(args)  # -o checked before minutes of measuring
    from ..dtypes import parse_dtype
    from ..hardware import chips_document, chips_yaml
    from ..io import to_json, write_text
    from ..measure.cache import measured_chip_path
    from ..report.console.hardware import render_measured
    from ..tasks.characterize import characterize
    from ..tasks.time import device_named

    target = device_named(args.device)
    with out.progress_bar(f"measuring {args.device}") as progress:
        result = characterize(target, parse_dtype(args.dtype), progress=progress)
    text = chips_yaml([result.chip])
    kept = write_text(measured_chip_path(target), text)
    if args.output:  # -o is the chip file itself; the summary goes to stderr
        write_text(args.output, to_json(chips_document([result.chip]))
                   if args.format == "json" else text)
        if not args.quiet:
            from rich.console import Console

            render_measured(result, kept, Console(stderr=True))
        return 0
    out.emit(table=lambda console: render_measured(result, kept, console),
             data=lambda: chips_document([result.chip]), rows=lambda: [])
    return 0
