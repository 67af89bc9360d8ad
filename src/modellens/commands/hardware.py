"""`modellens hardware`: the chips the roofline analysis knows."""

from __future__ import annotations

import argparse

from .common import Output, add_output_options


def register(subparsers) -> None:
    p = subparsers.add_parser("hardware", help="list the chips known to the roofline analysis")
    p.add_argument("--file", help="a user YAML of chips to list instead")
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..hardware import load_chips
    from ..io import document
    from ..report.console.hardware import render
    from ..report.csv_rows import chip_rows

    out = Output(args)
    rows = chip_rows(list((load_chips(args.file) if args.file else load_chips()).values()))
    out.emit(table=lambda console: render(rows, console),
             data=lambda: document({"chips": rows}), rows=lambda: rows)
    return 0
