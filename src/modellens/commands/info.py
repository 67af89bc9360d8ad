"""`modellens info SPEC_OR_CHECKPOINT`: parameter counts, memory and weight statistics."""

from __future__ import annotations

import argparse

from .common import (
    TRUST_CHECKPOINT_HELP,
    Output,
    add_output_options,
    add_trust_remote_code,
    input_paths,
    non_negative_int,
    positive_int,
)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "info", help="parameters, memory and weight statistics of a checkpoint or model",
        description="Per-tensor shapes, parameter counts, memory and weight statistics (mean, std, "
                    "min, max, absmax, L2 norm, zeros, kurtosis, NaN/Inf) of a .safetensors file, "
                    "a sharded Hugging Face directory, a .pt/.bin state dict, or a model spec "
                    "(built on meta: shapes and counts only). Tensors are read one at a time.")
    p.add_argument("model", metavar="SPEC_OR_CHECKPOINT",
                   help="checkpoint file or directory, or a model spec (gpt2, tv:resnet50, ...)")
    p.add_argument("--plot", metavar="PNG", help="save weight histograms (pages: PNG, PNG-2, ...)")
    p.add_argument("--top", type=non_negative_int, metavar="N",
                   help="show and plot only the N largest tensors (default: all)")
    p.add_argument("--per-page", type=positive_int, default=16, help="histograms per plot page (default 16)")
    p.add_argument("--trust-checkpoint", action="store_true", help=TRUST_CHECKPOINT_HELP)
    add_trust_remote_code(p)
    p.add_argument("--task", default="auto", help="HF head for a model spec (as in profile)")
    add_quality_options(p)
    add_output_options(p)
    p.set_defaults(handler=run)


def add_quality_options(p) -> None:
    p.add_argument("--esd", action="store_true",
                   help="spectral metrics per weight matrix (WeightWatcher alpha, stable rank; "
                        "one SVD per matrix)")
    p.add_argument("--quant", metavar="FORMATS",
                   help="quantization preview, e.g. int8,int4,nf4,fp8: round-trip error per "
                        "tensor, bytes saved, outlier channels")
    p.add_argument("--group-size", type=positive_int, default=128,
                   help="group size of int4/nf4 in --quant (default 128)")


def run(args: argparse.Namespace) -> int:
    out = Output(args, inputs=input_paths(args, "model"),
                 files=[("--plot", args.plot)] if args.plot else [])
    from ..report.console.weights import info_renderables
    from ..report.csv_rows import tensor_rows
    from ..tasks.model_info import collect_model_info, open_target

    with out.progress(f"opening {args.model}"):
        store = open_target(args.model, trust_checkpoint=args.trust_checkpoint, task=args.task,
                            trust_remote_code=args.trust_remote_code)
    from ..report.checkpoint_progress import store_progress

    with store_progress(out.quiet, "weight statistics", store) as progress:
        info = collect_model_info(store, progress)
    quality, quality_parts = _quality(args, out, store)
    if args.plot:
        _plot(args, out, info, store)

    def table(console) -> None:
        for part in info_renderables(info, args.top):
            console.print(part)
        for part in quality_parts(args.top):
            console.print(part)
        for path in info.plot_paths:
            console.print(f"saved weight distributions to {path}")

    out.emit(table=table, data=lambda: {**info.to_dict(), **quality.to_dict()},
             rows=lambda: tensor_rows(info))
    return 0


def _plot(args: argparse.Namespace, out: Output, info, store) -> None:
    """--plot: histogram grids of the (top) parameters, paged."""
    from ..errors import ModellensError
    from ..report import weight_plots
    from ..tasks.model_info import layer_histograms

    if not info.stats_available:
        raise ModellensError(f"{args.model}: no weight values to plot (a model spec is built "
                             "on meta); pass a checkpoint")
    try:
        weight_plots.require_matplotlib()
        with out.progress("plotting weight distributions"):
            pairs = layer_histograms(store, info.largest_layers(args.top))
            info.plot_paths = weight_plots.save_distributions(info.source, pairs, args.plot,
                                                              per_page=args.per_page)
    except ImportError as exc:
        raise ModellensError(f"--plot: {exc}") from None


def _quality(args: argparse.Namespace, out: Output, store):
    """--esd / --quant / GGUF tables (tasks.weight_quality) and their renderer."""
    from ..errors import ModellensError
    from ..measure.quantize import parse_formats
    from ..report.console.quality import quality_renderables
    from ..tasks.weight_quality import collect_quality

    try:
        formats = parse_formats(args.quant) if args.quant else []
    except ValueError as exc:
        raise ModellensError(f"--quant: {exc}") from None
    if args.group_size < 1:
        raise ModellensError("--group-size must be positive")
    with out.progress_bar("spectral / quantization") as progress:
        quality = collect_quality(store, esd=args.esd, quant=formats,
                                  group_size=args.group_size, progress=progress)
    return quality, lambda top: quality_renderables(quality, top)
