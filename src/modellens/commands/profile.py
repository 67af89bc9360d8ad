"""`modellens profile SPEC`: FLOPs, MACs, params, memory and roofline bottleneck."""

from __future__ import annotations

import argparse

from .common import (
    Output,
    add_attention_option,
    add_cache_option,
    add_input_options,
    add_model_argument,
    add_output_options,
    add_time_model_option,
    cached,
    chip_names,
    input_paths,
    non_negative_int,
)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "profile", help="FLOPs, MACs, params, memory and roofline bottleneck of a model",
        description="Profile a model: gpt2, bert-base-uncased, tv:resnet50, timm:NAME, "
                    "yolo:yolov8n, ./hf_dir, config.json, file.py::fn.")
    add_model_argument(p, "model spec (catalog id, tv:, timm:, yolo:, file.py::fn, ...)")
    add_input_options(p)
    p.add_argument("--backward", action="store_true", help="also capture and count the backward pass")
    p.add_argument("--input-grad", action="store_true",
                   help="with the backward, also the gradient of each floating input (the first "
                        "layer's grad-input, as torch's flop counter counts it); implies --backward")
    p.add_argument("--optimizer", choices=("none", "sgd", "sgd-momentum", "adam", "adamw"),
                   help="training memory with this optimizer's fp32 state (default none); "
                        "implies --backward")
    p.add_argument("--activation-checkpointing", action="store_true",
                   help="training memory with each repeated block recomputed in the backward; "
                        "implies --backward")
    p.add_argument("--hardware", metavar="CHIPS",
                   help="chip for the predicted time (default a100; `modellens hardware` lists "
                        "them) or a YAML file; a comma list (a100,h100) adds a table of time per "
                        "chip (JSON: `chips`)")
    add_time_model_option(p)
    p.add_argument("--depth", type=non_negative_int, default=2, help="module table depth (default 2)")
    p.add_argument("--showshape", action="store_true", help="show module input/output shapes")
    p.add_argument("--top", type=non_negative_int, default=10, help="top-k ops by FLOPs and by bytes (0: none)")
    p.add_argument("--unsupported", action="store_true", help="list ops with no FLOP convention")
    add_attention_option(p)
    p.add_argument("--unit", choices=("flops", "macs"), default="flops",
                   help="show FLOPs or MACs in tables (1 MAC = 2 FLOPs; JSON has both)")
    p.add_argument("--no-block-replay", action="store_true",
                   help="run every repeated block instead of capturing one and replaying it")
    p.add_argument("--verbose", action="store_true",
                   help="also print how the capture was made (which repeated blocks were "
                        "replayed)")
    add_output_options(p, html=True, markdown=True, latex=True)
    add_cache_option(p)
    p.set_defaults(handler=run)


INPUTS = ("model", "inputs", "hardware")


@cached(*INPUTS)
def run(args: argparse.Namespace) -> int:
    sweep = isinstance(args.seq_len, list) or isinstance(args.image_size, list)
    out = Output(args, html=not sweep, markdown=not sweep,  # no HTML, markdown, LaTeX for sweeps
                 latex=not sweep,
                 inputs=input_paths(args, *INPUTS))
    if sweep:
        return run_sweep(args, out)
    from ..report.console.profile import chip_table, render_profile, unsupported_table
    from ..report.csv_rows import module_rows
    from ..tasks.profile import profile

    with out.progress(f"profiling {args.model}"):
        result = profile(
            args.model, args.inputs, batch_size=args.batch_size, seq_len=args.seq_len,
            image_size=args.image_size, dtype=args.dtype,
            backward=args.backward or args.input_grad, input_grad=args.input_grad,
            hardware=chip_names(args.hardware), task=args.task,
            replay_blocks=not args.no_block_replay,
            allow_longer=args.allow_longer, time_model=args.time_model,
            trust_remote_code=args.trust_remote_code, attention_flops=args.attention_flops,
            optimizer=args.optimizer, activation_checkpointing=args.activation_checkpointing,
        )

    def table(console) -> None:
        render_profile(result, console, depth=args.depth, show_shapes=args.showshape,
                       top=args.top, unit=args.unit, verbose=args.verbose)
        if len(result.per_chip) > 1:
            console.print(chip_table(result, [c.chip for c in result.per_chip]))
        if args.unsupported:
            console.print(unsupported_table(result))

    def html() -> str:
        from ..report.html import render_html

        return render_html(result, [c.chip for c in result.per_chip] or None)  # every chip

    def markdown() -> str:
        from ..report.markdown import profile_markdown

        return profile_markdown(result, depth=args.depth, top=args.top, unit=args.unit)

    def latex() -> str:
        from ..report.latex import document_latex
        from ..report.sections import profile_document

        return document_latex(profile_document(result, args.depth, args.top, args.unit))

    out.emit(table=table, data=result.to_dict, rows=lambda: module_rows(result, args.depth),
             html=html, markdown=markdown, latex=latex)
    return 0


def run_sweep(args: argparse.Namespace, out: Output) -> int:
    from ..report.console.profile import sweep_table
    from ..tasks.sweep import profile_sweep

    as_list = lambda v: v if isinstance(v, list) else None
    if len(chip_names(args.hardware)) > 1:
        from ..errors import UsageError

        raise UsageError("a sweep is timed on one chip; give one --hardware (or no sweep)")
    with out.progress(f"profiling {args.model} at several sizes"):
        result = profile_sweep(
            args.model, seq_lens=as_list(args.seq_len), image_sizes=as_list(args.image_size),
            inputs=args.inputs, batch_size=args.batch_size, dtype=args.dtype,
            hardware=args.hardware, task=args.task, allow_longer=args.allow_longer,
            trust_remote_code=args.trust_remote_code, attention_flops=args.attention_flops,
        )
    out.emit(table=lambda console: console.print(sweep_table(result)), data=result.to_dict,
             rows=lambda: [p.to_dict() for p in result.points])
    return 0
