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
    from ..units import count, size

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
