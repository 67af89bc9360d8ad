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


def _params(n: int | None) -> str:
    if not n:
        return "?"
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


def run(args: argparse.Namespace) -> int:
    from ..sources import catalog_index

    out = Output(args)
    rows = [{**row, "source": "catalog"}
            for row in catalog_index.entries(search=args.search, family=args.family)]

    def table(console) -> None:
        from rich.table import Table

        grid = Table(title=f"offline catalog ({len(rows)} models)", title_justify="left")
        for name, justify in (("model", "left"), ("family", "left"), ("params", "right"),
                              ("context", "right"), ("architecture", "left")):
            grid.add_column(name, justify=justify)
        for row in rows:
            grid.add_row(row["spec"], row["family"] or "", _params(row["params"]),
                         f"{row['context']:,}" if row["context"] else "",
                         row["architecture"] or "")
        console.print(grid)

    out.emit(table=table, data=lambda: {"schema_version": 1, "models": rows}, rows=lambda: rows)
    return 0
