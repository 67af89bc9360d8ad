"""`modellens models`: the offline model catalog."""

from __future__ import annotations

import argparse

from .common import Output, add_output_options


def register(subparsers) -> None:
    p = subparsers.add_parser("models", help="list the offline model catalog")
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..sources import hf

    out = Output(args)
    rows = [{"spec": name, "source": "catalog"} for name in hf.catalog_names()]

    def table(console) -> None:
        for row in rows:
            console.print(row["spec"])

    out.emit(table=table, data=lambda: {"schema_version": 1, "models": rows}, rows=lambda: rows)
    return 0
