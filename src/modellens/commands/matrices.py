"""`modellens matrices SPEC [SPEC ...]`: every weight matrix of each model (seed 000)."""

from __future__ import annotations

import argparse
import sys

from .common import Output, add_input_options, add_output_options


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "matrices", help="every weight matrix of one or more models, to JSON and a table",
        description="Every linear transformation (nn.Linear, HF Conv1D, attention in-projections, "
                    "MoE experts) of each model, with the input shape that flows into it. "
                    "--seq-len defaults to each text model's max_sequence_length. With "
                    "-o FILE.json the JSON goes to the file and the table to the console.")
    p.add_argument("models", nargs="+", metavar="SPEC",
                   help="model specs (catalog id, tv:, timm:, yolo:, file.py::fn, ...)")
    add_input_options(p)
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--bandwidth", type=float, metavar="GB/s",
                      help="memory bandwidth for the time to stream all matrices once")
    rate.add_argument("--hardware", help="chip whose memory bandwidth to use (default a100; "
                                         "`modellens hardware` lists them) or a YAML file")
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..tasks.matrices import extract_matrices

    if isinstance(args.seq_len, list) or isinstance(args.image_size, list):
        raise ConfigError("matrices takes one --seq-len and --image-size; sweeps are for `profile`")
    json_file = args.format == "table" and (args.output or "").endswith(".json")
    out = Output(argparse.Namespace(**{**vars(args), "output": None}) if json_file else args)
    with out.progress(f"extracting matrices of {', '.join(args.models)}"):
        result = extract_matrices(
            args.models, seq_len=args.seq_len, batch_size=args.batch_size,
            bandwidth=args.bandwidth, hardware=args.hardware,
            output_path=args.output if json_file else None, image_size=args.image_size,
            dtype=args.dtype, task=args.task, inputs=args.inputs,
        )
    out.emit(table=lambda console: _table(result, console), data=result.to_dict, rows=result.rows)
    if json_file and not args.quiet:
        print(f"wrote {args.output}", file=sys.stderr)
    for message in result.errors.values():
        print(f"modellens: error: {message}", file=sys.stderr)
    return 1 if result.errors else 0


def _table(result, console) -> None:
    from rich import box
    from rich.table import Table

    from .. import units

    table = Table(box=box.SIMPLE_HEAD, title_justify="left", title_style="bold cyan",
                  title=f"WEIGHT MATRICES (stream time at {result.bandwidth_source})")
    for name, justify in (("Model Name", "left"), ("Matrix Count", "right"),
                          ("Total Matrix Params", "right"), ("Model Params", "right"),
                          ("Matrix Bytes", "right"), ("Max Seq", "right"),
                          ("Fwd FLOPs", "right"), ("Stream Time", "right")):
        table.add_column(name, justify=justify)
    for model in result.models:
        limit = model.max_sequence_length
        table.add_row(model.name, f"{model.total_matrices:,}", f"{model.total_matrix_params:,}",
                      f"{model.model_params:,}", units.size(model.matrix_bytes),
                      "-" if limit is None else f"{limit:,}",
                      units.count(model.forward_flops, "FLOPs"),
                      units.duration(model.stream_time_s))
    console.print(table)
    for model in result.models:
        for note in model.notes:
            console.print(f"[dim]{model.name}: {note}[/dim]")
