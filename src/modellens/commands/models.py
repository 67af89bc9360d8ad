"""`modellens models`: the offline model catalog (read from its index; imports no torch)."""

from __future__ import annotations

import argparse

from .common import Output, add_output_options


def register(subparsers) -> None:
    p = subparsers.add_parser("models", help="list the offline model catalog")
    p.add_argument("--search", metavar="TEXT", help="only ids containing TEXT (case-insensitive)")
    p.add_argument("--family", metavar="F", help="only one family: llama, qwen, gemma, phi, ...")
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..io import document
    from ..report.console.models import render
    from ..sources import catalog_index

    out = Output(args)
    rows = [{**row, "source": "catalog"}
            for row in catalog_index.entries(search=args.search, family=args.family)]
    out.emit(table=lambda console: render(rows, console),
             data=lambda: document({"models": rows}), rows=lambda: rows)
    return 0
