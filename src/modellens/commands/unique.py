"""`modellens unique SPEC` (and the seed's `tt-model-analysis`): unique modules and unique ops,
written to DIR/unique_modules.json and DIR/pytorch_ops.json, with a console summary."""

from __future__ import annotations

import argparse
import sys

from .common import (
    Output,
    add_input_options,
    add_output_options,
    input_paths,
    non_negative_int,
    run_handler,
)

# what --dir gets (tasks.unique.MODULES_FILE, OPS_FILE)
REPORT_FILES = ("unique_modules.json", "pytorch_ops.json")

SEED_PROG = "tt-model-analysis"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "unique", help="unique modules and unique ops (what a new backend must support)",
        description="Write DIR/unique_modules.json and DIR/pytorch_ops.json: every distinct "
                    "module (class, shapes, config) and every distinct op (name, attributes, "
                    "tensor types), with where each occurs.")
    add_arguments(p, seed=False)
    p.set_defaults(handler=run)


def add_arguments(p: argparse.ArgumentParser, *, seed: bool) -> None:
    """The flags of `modellens unique`; `seed=True` gives the seed's tt-model-analysis form
    (no positional spec, --model-path and --inputs-path required)."""
    if not seed:
        p.add_argument("model", nargs="*",
                       help="model spec (gpt2, tv:resnet18, file.py::fn, ...); or --model-path; "
                            "several with --run-on")
    p.add_argument("--model-path", metavar="FILE.py::FN", required=seed,
                   help="function returning the model (nn.Module)")
    p.add_argument("--inputs-path", metavar="FILE.py::FN", required=seed,
                   help="function returning sample inputs (tensor, tuple of args, dict of kwargs)")
    p.add_argument("--dir", metavar="OUT",
                   help="output directory for the two JSON files (default ./<ModelClass>/)")
    p.add_argument("--level", choices=("torch", "aten"), default="torch",
                   help="ops as users call them (torch.conv2d, default) or the aten ops a "
                        "backend lowers (aten.convolution.default)")
    p.add_argument("--supported", metavar="OPS.txt",
                   help="op names a backend supports, one per line (torch.add, aten.addmm, "
                        "aten::addmm.default); report the unique ops it lacks")
    p.add_argument("--top", type=non_negative_int, default=20,
                   help="rows per summary table (default 20, 0: all)")
    if not seed:
        add_porting_options(p)
    add_input_options(p)
    add_output_options(p, html=not seed)
    if seed:
        p.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")


def add_porting_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("porting (run every unique op configuration on a backend)")
    g.add_argument("--run-on", metavar="BACKEND",
                   help="eager, inductor, export, onnx, a registered plug-in, or "
                        "FILE.py::Class (see modellens.measure.backends)")
    g.add_argument("--device", default="cpu", help="device to run on: cpu (default), cuda")
    g.add_argument("--models-file", metavar="FILE", help="more model specs, one per line")
    g.add_argument("--emit-tests", metavar="DIR",
                   help="write one standalone pytest file per op configuration")
    g.add_argument("--failing-only", action="store_true",
                   help="with --emit-tests: only the configurations that fail")
    g.add_argument("--budget", type=float, metavar="SECONDS",
                   help="stop running new configurations after this long (default: no limit)")
    g.add_argument("--rollup", metavar="PATH",
                   help="write the roll-up (op -> models blocked): .md markdown, else CSV")
    g.add_argument("--no-cache", action="store_true", help="rerun configurations cached before")


def run(args: argparse.Namespace) -> int:
    from ..errors import SpecError, UsageError

    specs = list(getattr(args, "model", None) or [])
    models_file = getattr(args, "models_file", None)
    porting = bool(getattr(args, "run_on", None))
    if args.model_path and specs and not porting:
        raise UsageError("give the model once: a SPEC or --model-path, not both")
    if len(specs) > 1 and not porting:
        raise UsageError("several models need --run-on BACKEND (or give one SPEC)")
    if not (args.model_path or specs or models_file):
        raise UsageError("no model: give a SPEC (gpt2, file.py::fn, ...) or "
                         "--model-path FILE.py::FN")
    inputs = specs + input_paths(args, "model_path", "inputs_path", "inputs", "supported",
                                 "models_file")
    files, dirs = [], []
    if porting:
        files = [("--rollup", args.rollup)] if args.rollup else []
        dirs = [("--emit-tests", args.emit_tests, ())] if args.emit_tests else []
    else:  # the default DIR, ./<ModelClass>/, is known only after the capture: check its parent
        dirs = [("--dir", args.dir, REPORT_FILES) if args.dir else ("--dir", ".", ())]
    out = Output(args, html=porting, inputs=inputs, files=files, dirs=dirs)
    if models_file:
        from ..tasks.porting import read_models_file

        specs += read_models_file(models_file)
    if porting:
        from .porting import run_porting

        return run_porting(args, specs, out)
    if len(specs) > 1:
        raise SpecError(f"{models_file}: several models need --run-on BACKEND")
    model = args.model_path or (specs[0] if specs else None)
    if not model:
        raise SpecError(f"{models_file}: no model in the file")
    from ..report.console.unique import render
    from ..report.csv_rows import unique_op_rows
    from ..tasks.unique import analyze_unique, read_supported, write_report

    supported = read_supported(args.supported) if args.supported else None
    with out.progress(f"capturing {model}"):
        report = analyze_unique(
            model, args.inputs_path or args.inputs, level=args.level, supported=supported,
            batch_size=args.batch_size, seq_len=args.seq_len, image_size=args.image_size,
            dtype=args.dtype, task=args.task, allow_longer=args.allow_longer,
            trust_remote_code=args.trust_remote_code)
    files = write_report(report, args.dir)
    if not args.quiet:
        print(f"wrote {files[0]} and {files[1]}", file=sys.stderr)
    out.emit(table=lambda console: render(report, console, args.top), data=report.to_dict,
             rows=lambda: unique_op_rows(report))
    return 0


def tt_main(argv: list[str] | None = None) -> int:
    """`tt-model-analysis --model-path F.py::fn --inputs-path F.py::fn [--dir OUT]` (seed 002)."""
    parser = argparse.ArgumentParser(
        prog=SEED_PROG, description="Extract unique modules and PyTorch ops of a model into "
                                    "OUT/unique_modules.json and OUT/pytorch_ops.json.")
    add_arguments(parser, seed=True)
    args = parser.parse_args(argv)
    args.handler = run
    return run_handler(args)
