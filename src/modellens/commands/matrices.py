"""`modellens matrices SPEC [SPEC ...]`: every weight matrix of each model (seed 000)."""

from __future__ import annotations

import argparse
import sys

from .common import (
    Output,
    add_cache_option,
    add_input_options,
    add_output_options,
    cached,
    input_paths,
)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "matrices", help="every weight matrix of one or more models, to JSON and a table",
        description="Every linear transformation (nn.Linear, HF Conv1D, attention in-projections, "
                    "MoE experts) of each model, with the input shape that flows into it. "
                    "--seq-len defaults to each text model's max_sequence_length. With "
                    "-o FILE.json the JSON goes to the file and the table to the console.")
    p.add_argument("models", nargs="+", metavar="SPEC",
                   help="model specs (catalog id, tv:, timm:, yolo:, file.py::fn, ...)")
    add_input_options(p, seq_len_default="each text model's max positions, unlike profile's 128")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--bandwidth", type=float, metavar="GB/s",
                      help="memory bandwidth for the time to stream all matrices once")
    rate.add_argument("--hardware", help="chip whose memory bandwidth to use (default a100; "
                                         "`modellens hardware` lists them) or a YAML file")
    p.add_argument("--verbose", action="store_true",
                   help="also print how each capture was made (repeated blocks replayed)")
    add_output_options(p, markdown=True, latex=True)
    add_cache_option(p)
    p.set_defaults(infer_format=False)  # -o x.json is seed 000's file, the table still printed
    p.set_defaults(handler=run)


@cached("models", "inputs", "hardware", paths=("output",))  # -o x.json: a file the task writes
def run(args: argparse.Namespace) -> int:
    from ..errors import UsageError

    if isinstance(args.seq_len, list) or isinstance(args.image_size, list):
        raise UsageError("matrices takes one --seq-len and --image-size; sweeps are for `profile`")
    json_file = args.format == "table" and (args.output or "").endswith(".json")
    out = Output(argparse.Namespace(**{**vars(args), "output": None}) if json_file else args,
                 markdown=True, latex=True,
                 inputs=input_paths(args, "models", "inputs", "hardware"),
                 files=[("-o", args.output)] if json_file else [])
    from ..report.console.matrices import render
    from ..report.csv_rows import matrix_rows
    from ..report.latex import document_latex
    from ..report.markdown import document_markdown
    from ..report.sections import matrices_document
    from ..tasks.matrices import extract_matrices

    with out.progress(f"extracting matrices of {', '.join(args.models)}"):
        result = extract_matrices(
            args.models, seq_len=args.seq_len, batch_size=args.batch_size,
            bandwidth=args.bandwidth, hardware=args.hardware,
            output_path=args.output if json_file else None, image_size=args.image_size,
            dtype=args.dtype, task=args.task, inputs=args.inputs, allow_longer=args.allow_longer,
            trust_remote_code=args.trust_remote_code,
        )
    out.emit(table=lambda console: render(result, console, args.verbose), data=result.to_dict,
             rows=lambda: matrix_rows(result),
             markdown=lambda: document_markdown(matrices_document(result)),
             latex=lambda: document_latex(matrices_document(result)))
    if json_file and not args.quiet:
        print(f"wrote {args.output}", file=sys.stderr)
    for message in result.errors.values():
        print(f"modellens: error: {message}", file=sys.stderr)
    return 1 if result.errors else 0
