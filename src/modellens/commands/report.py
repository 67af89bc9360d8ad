"""`modellens report SPEC -o report.html`: a self-contained HTML report, PNG plots, CSV."""

from __future__ import annotations

import argparse
import sys

from .common import (
    Output,
    add_input_options,
    add_model_argument,
    add_output_options,
    chip_list,
    chip_names,
    input_paths,
    require_plotting,
)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="self-contained HTML report (and PNG plots) of what a model costs",
        description="Profile a model once and write a self-contained HTML report (no network; "
                    "opens from disk): summary, roofline on each chip, module tree, op table. "
                    "--format csv gives the op table (repeated layers grouped), json the data "
                    "the page embeds.")
    add_model_argument(p, "model spec (catalog id, tv:, timm:, yolo:, file.py::fn, ...)")
    add_input_options(p)
    p.add_argument("--backward", action="store_true",
                   help="also capture and count the backward pass")
    p.add_argument("--input-grad", action="store_true",
                   help="with the backward, also the gradient of each floating input (the first "
                        "layer's grad-input, as torch's flop counter counts it); implies --backward")
    p.add_argument("--hardware", metavar="CHIPS",
                   help="comma-separated chips for rooflines, predicted times and the memory fit, "
                        "e.g. h100,a100 (default a100,h100,l4,rtx4090; `modellens hardware` "
                        "lists them) or a YAML file")
    p.add_argument("--no-llm", action="store_true",
                   help="leave out the LLM section (prefill, decode, KV cache, tokens/s vs "
                        "batch) that a causal LM's HTML and JSON report get")
    p.add_argument("--plot", metavar="PNG",
                   help="also write the roofline plot (every chip) to PNG")
    p.add_argument("--plot-dir", metavar="DIR",
                   help="also write every PNG plot to DIR: roofline, per-layer FLOPs and params, "
                        "memory")
    add_output_options(p, default_format="html", html=True)
    p.set_defaults(handler=run)


# what --plot-dir DIR gets (report.plots.figures; roofline_backward.png with --backward)
PLOT_FILES = ("roofline.png", "roofline_backward.png", "layers.png", "memory.png")


def run(args: argparse.Namespace) -> int:
    for option, value in (("--seq-len", args.seq_len), ("--image-size", args.image_size)):
        if isinstance(value, list):
            from ..errors import UsageError

            raise UsageError(f"report takes one {option}; sweep several with `modellens profile`")
    plots = [("--plot-dir", args.plot_dir, PLOT_FILES)] if args.plot_dir else []
    out = Output(args, html=True, inputs=input_paths(args, "model", "inputs", "hardware"),
                 files=[("--plot", args.plot)] if args.plot else [], dirs=plots)
    from ..report.console.profile import chip_table, render_profile
    from ..report.csv_rows import op_rows
    from ..report.html import DEFAULT_CHIPS, render_html, report_data
    from ..tasks.profile import profile

    if args.plot or args.plot_dir:
        require_plotting("--plot" if args.plot else "--plot-dir")
    chips = chip_list(chip_names(args.hardware) if args.hardware else list(DEFAULT_CHIPS))
    with out.progress(f"profiling {args.model}"):
        result = profile(
            args.model, args.inputs, batch_size=args.batch_size, seq_len=args.seq_len,
            image_size=args.image_size, dtype=args.dtype,
            backward=args.backward or args.input_grad, input_grad=args.input_grad,
            hardware=chips, task=args.task, allow_longer=args.allow_longer,
            trust_remote_code=args.trust_remote_code,
        )
    if args.plot or args.plot_dir:
        from ..report.plots import roofline_figure, save, write_plots

        with out.progress("plotting"):
            paths = write_plots(result, args.plot_dir, chips) if args.plot_dir else []
            if args.plot:
                paths.append(save(roofline_figure(result, chips), args.plot))
        if not out.quiet:
            for path in paths:
                print(f"wrote {path}", file=sys.stderr)

    llm = None
    if out.format in ("html", "json") and not args.no_llm:
        with out.progress(f"capturing prefill and decode of {args.model}"):
            llm = _llm(args, chips)

    def table(console) -> None:
        render_profile(result, console)
        console.print(chip_table(result, chips))

    out.emit(table=table, data=lambda: report_data(result, chips, llm),
             rows=lambda: op_rows(result, chips), html=lambda: render_html(result, chips, llm))
    return 0


def _llm(args: argparse.Namespace, chips: list) -> dict | None:
    """The LLM section's data for a causal LM (tasks.llm on the first chip), else None."""
    from ..errors import ConfigError, SpecError
    from ..report.llm_section import llm_section
    from ..tasks.llm import llm_cost

    try:
        report = llm_cost(args.model, prompt_len=args.seq_len, batch_size=args.batch_size,
                          dtype=args.dtype or "bf16", hardware=chips[0], training=False,
                          allow_longer=args.allow_longer,
                          trust_remote_code=args.trust_remote_code)
    except SpecError:  # not a Hugging Face decoder-only causal LM
        return None
    except ConfigError as error:  # e.g. the prompt + 256 generated tokens beyond its positions
        if not args.quiet:
            print(f"modellens: LLM section left out: {error}", file=sys.stderr)
        return None
    return llm_section(report, chips)

