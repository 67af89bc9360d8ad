"""`modellens report SPEC -o report.html`: a self-contained HTML report, PNG plots, CSV."""

from __future__ import annotations

import argparse
import sys

from .common import Output, add_input_options, add_output_options


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="self-contained HTML report (and PNG plots) of what a model costs",
        description="Profile a model once and write a self-contained HTML report (no network; "
                    "opens from disk): summary, roofline on each chip, module tree, op table. "
                    "--format csv gives the op table (repeated layers grouped), json the data "
                    "the page embeds.")
    p.add_argument("model", help="model spec (catalog id, tv:, timm:, yolo:, file.py::fn, ...)")
    add_input_options(p)
    p.add_argument("--backward", action="store_true",
                   help="also capture and count the backward pass")
    p.add_argument("--hardware", metavar="CHIPS",
                   help="comma-separated chips for rooflines and predicted times, e.g. h100,a100 "
                        "(default a100; `modellens hardware` lists them) or a YAML file")
    p.add_argument("--plot", metavar="DIR",
                   help="also write PNG plots to DIR: roofline, per-layer FLOPs and params, memory")
    add_output_options(p, default_format="html")
    p.set_defaults(handler=run)


def chip_names(spec: str | None) -> list[str | None]:
    """'h100, a100' -> ['h100', 'a100']; None -> [None] (the default chip)."""
    if spec is None:
        return [None]
    names = [name.strip() for name in spec.split(",") if name.strip()]
    if not names:
        from ..errors import HardwareError

        raise HardwareError(f"--hardware {spec!r} names no chip")
    return names


def chip_list(names: list[str | None]):
    """Chips in order, duplicates (aliases of one chip) dropped."""
    from ..hardware import get_chip

    chips = {}
    for name in names:
        chip = get_chip(name)
        chips.setdefault(chip.id, chip)
    return list(chips.values())


def op_rows(result, chips) -> list[dict]:
    """The op table: one row per group of identical ops, with its time on every chip."""
    from ..report import view

    rows = []
    for group in view.op_groups(result, chips[0]):
        row = group.first
        entry = {
            "op": row.name, "module_pattern": group.module_pattern or "(root)",
            "phase": row.phase, "category": row.category, "dtype": row.dtype,
            "count": group.count, "flops_each": row.flops, "flops_all_each": row.flops_all,
            "bytes_read_each": row.bytes_read, "bytes_written_each": row.bytes_written,
            "intensity": row.intensity, "input_shapes": row.input_shapes,
            "output_shapes": row.output_shapes,
        }
        for chip in chips:
            time, bound = view.op_time(row, chip)
            entry[f"time_total_s_{chip.id}"] = time * group.count
            entry[f"bound_{chip.id}"] = bound
        rows.append(entry)
    return rows


def chip_table(result, chips):
    """Predicted time of each captured phase on every chip."""
    from rich import box
    from rich.table import Table

    from .. import units
    from ..report import view

    table = Table(title="PREDICTED TIME PER CHIP (roofline, ops run one after another)",
                  title_justify="left", title_style="bold cyan", box=box.SIMPLE_HEAD)
    for column in ("Chip", "Phase", "Time", "Compute-bound share", "FLOPs/byte"):
        table.add_column(column, justify="left" if column in ("Chip", "Phase") else "right")
    for chip in chips:
        for phase in ("forward", "backward"):
            totals = view.chip_totals(result, chip, phase)
            if totals:
                table.add_row(chip.id, phase, units.duration(totals.time_s),
                              f"{totals.compute_bound_share:.1%}", f"{totals.intensity:.1f}")
    return table


def run(args: argparse.Namespace) -> int:
    from ..report import console as console_report
    from ..report.html import render_html, report_data
    from ..tasks.profile import profile

    out = Output(args)
    for option, value in (("--seq-len", args.seq_len), ("--image-size", args.image_size)):
        if isinstance(value, list):
            from ..errors import SpecError

            raise SpecError(f"report takes one {option}; sweep several with `modellens profile`")
    names = chip_names(args.hardware)
    chips = chip_list(names)
    with out.progress(f"profiling {args.model}"):
        result = profile(
            args.model, args.inputs, batch_size=args.batch_size, seq_len=args.seq_len,
            image_size=args.image_size, dtype=args.dtype, backward=args.backward,
            hardware=names[0], task=args.task,
        )
    if args.plot:
        from ..report.plots import write_plots

        with out.progress("plotting"):
            paths = write_plots(result, args.plot, chips)
        if not out.quiet:
            for path in paths:
                print(f"wrote {path}", file=sys.stderr)

    def table(console) -> None:
        console_report.render_profile(result, console)
        console.print(chip_table(result, chips))

    out.emit(table=table, data=lambda: report_data(result, chips),
             rows=lambda: op_rows(result, chips), html=lambda: render_html(result, chips))
    return 0

