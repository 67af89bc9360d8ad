"""`modellens compare A B [C ...]`: models side by side."""

from __future__ import annotations

import argparse

from .common import (
    Output,
    add_input_options,
    add_output_options,
    chip_list,
    chip_names,
    input_paths,
)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "compare", help="several models side by side: params, FLOPs, memory, time per chip",
        description="Profile each model (forward and backward) and show params, FLOPs forward "
                    "and backward, inference and training memory, predicted forward time on "
                    "each chip and arithmetic intensity side by side.")
    p.add_argument("models", nargs="+", metavar="MODEL", help="two or more model specs")
    add_input_options(p)
    p.add_argument("--hardware", metavar="CHIPS",
                   help="comma-separated chips for predicted times (default a100,h100)")
    add_output_options(p, html=True, markdown=True, latex=True)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import SpecError
    from ..report.console.compare import render_compare
    from ..report.latex import document_latex
    from ..report.markdown import document_markdown
    from ..report.sections import compare_document
    from ..tasks.compare import compare

    out = Output(args, html=True, markdown=True, latex=True,
                 inputs=[*args.models, *input_paths(args, "hardware")])
    if len(args.models) < 2:
        raise SpecError("compare needs at least two models")
    for option, value in (("--seq-len", args.seq_len), ("--image-size", args.image_size)):
        if isinstance(value, list):
            raise SpecError(f"compare takes one {option}")
    chips = chip_list(chip_names(args.hardware)) if args.hardware else None
    with out.progress(f"profiling {', '.join(args.models)}"):
        result = compare(args.models, hardware=chips, batch_size=args.batch_size,
                         seq_len=args.seq_len, image_size=args.image_size, dtype=args.dtype,
                         task=args.task, allow_longer=args.allow_longer)
    out.emit(table=lambda console: render_compare(result, console), data=result.to_dict,
             rows=lambda: [_flat(m.to_dict()) for m in result.models],
             markdown=lambda: document_markdown(compare_document(result)),
             latex=lambda: document_latex(compare_document(result)),
             html=lambda: _html(result))
    return 0


def _html(result) -> str:
    """The report page with the models side by side, timed and fitted on the compared chips."""
    from ..report.html import render_compare_html

    return render_compare_html(result.profiles, result.to_dict(), result.hardware)


def _flat(row: dict) -> dict:
    """A CSV row: one column per chip's time."""
    times = row.pop("forward_time_s")
    return {**row, **{f"forward_time_s_{chip}": t for chip, t in times.items()}}
