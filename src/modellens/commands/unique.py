"""`modellens unique SPEC` (and the seed's `tt-model-analysis`): unique modules and unique ops,
written to DIR/unique_modules.json and DIR/pytorch_ops.json, with a console summary."""

from __future__ import annotations

import argparse
import json
import sys

from .common import Output, add_input_options, add_output_options

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
        p.add_argument("model", nargs="?",
                       help="model spec (gpt2, tv:resnet18, file.py::fn, ...); or --model-path")
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
    p.add_argument("--top", type=int, default=20,
                   help="rows per summary table (default 20, 0: all)")
    add_input_options(p)
    add_output_options(p)
    if seed:
        p.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")


def run(args: argparse.Namespace) -> int:
    from ..errors import ModellensError, SpecError
    from ..tasks.unique import analyze_unique, read_supported, write_report

    if args.format == "html":
        raise ModellensError("unique has no HTML view; use --format table|json|csv")
    model = args.model_path or getattr(args, "model", None)
    if args.model_path and getattr(args, "model", None):
        raise SpecError("give the model once: a SPEC or --model-path, not both")
    if not model:
        raise SpecError("no model: give a SPEC (gpt2, file.py::fn, ...) or "
                        "--model-path FILE.py::FN")
    supported = read_supported(args.supported) if args.supported else None
    out = Output(args)
    with out.progress(f"capturing {model}"):
        report = analyze_unique(
            model, args.inputs_path or args.inputs, level=args.level, supported=supported,
            batch_size=args.batch_size, seq_len=args.seq_len, image_size=args.image_size,
            dtype=args.dtype, task=args.task)
    files = write_report(report, args.dir)
    if not args.quiet:
        print(f"wrote {files[0]} and {files[1]}", file=sys.stderr)
    out.emit(table=lambda console: render(report, console, args.top), data=report.to_dict,
             rows=lambda: op_rows(report))
    return 0


def tt_main(argv: list[str] | None = None) -> int:
    """`tt-model-analysis --model-path F.py::fn --inputs-path F.py::fn [--dir OUT]` (seed 002)."""
    from ..cli import run_handler

    parser = argparse.ArgumentParser(
        prog=SEED_PROG, description="Extract unique modules and PyTorch ops of a model into "
                                    "OUT/unique_modules.json and OUT/pytorch_ops.json.")
    add_arguments(parser, seed=True)
    args = parser.parse_args(argv)
    args.handler = run
    return run_handler(args)


def op_rows(report) -> list[dict]:
    """One CSV row per unique op."""
    missing = {m.op_name for m in report.missing or []}
    rows = []
    for op in report.ops.ops:
        types = op.tensor_types
        row = {
            "id": op.id, "op_name": op.op_name, "calls": len(op.occurrences),
            "source_module_id": op.source_module_id,
            "source_module_class": op.source_module_class,
            "input_shapes": " ".join(t["shape"] or "scalar" for t in types["inputs"]),
            "input_dtypes": " ".join(t["dtype"] for t in types["inputs"]),
            "output_shape": (types["output"] or {}).get("shape", ""),
            "output_dtype": (types["output"] or {}).get("dtype", ""),
            "attributes": json.dumps(op.attributes, sort_keys=True),
            "aten_ops": " ".join(op.aten_ops),
        }
        if report.missing is not None:
            row["supported"] = op.op_name not in missing
        rows.append(row)
    return rows


def render(report, console, top: int = 20) -> None:
    """Console summary: counts, ops by name, modules by occurrence, ops a backend lacks."""
    from rich import box
    from rich.table import Table

    meta, ops_meta = report.modules.metadata, report.ops.metadata
    console.print(f"[bold cyan]{meta.model_class}[/] from {meta.load_fn_location} "
                  f"(capture: {meta.capture_method})")
    console.print(f"modules: {meta.total_modules} total, {meta.unique_modules} unique   "
                  f"ops ({ops_meta.level} level): {ops_meta.total_ops} calls, "
                  f"{ops_meta.unique_ops} unique")
    limit = top if top > 0 else None

    counts = report.ops.counts_by_name()
    missing = {m.op_name for m in report.missing or []}
    table = Table(title="Ops by name", title_justify="left", box=box.SIMPLE_HEAD,
                  title_style="bold cyan")
    table.add_column("op")
    table.add_column("calls", justify="right")
    table.add_column("unique", justify="right")
    if report.missing is not None:
        table.add_column("supported")
    for name, calls, variants in counts[:limit]:
        cells = [name, str(calls), str(variants)]
        if report.missing is not None:
            cells.append("[red]no[/]" if name in missing else "yes")
        table.add_row(*cells)
    console.print(table)
    _more(console, len(counts), limit)

    modules = sorted(report.modules.modules, key=lambda m: -len(m.occurrences))
    table = Table(title="Modules by occurrence", title_justify="left", box=box.SIMPLE_HEAD,
                  title_style="bold cyan")
    for column in ("id", "class", "occurrences", "first path", "input -> output"):
        table.add_column(column, justify="right" if column == "occurrences" else "left")
    for module in modules[:limit]:
        shapes = (f"{', '.join(module.input_shapes) or '-'} -> "
                  f"{', '.join(module.output_shapes) or '-'}")
        table.add_row(module.id, module.class_name, str(len(module.occurrences)),
                      module.module_path, shapes)
    console.print(table)
    _more(console, len(modules), limit)

    if report.missing is not None:
        if not report.missing:
            console.print("[green]every unique op is in the supported list[/]")
            return
        table = Table(title="Missing on this backend", title_justify="left", box=box.SIMPLE_HEAD,
                      title_style="bold red")
        for column in ("op", "calls", "unique", "missing aten ops", "used by"):
            table.add_column(column, justify="right" if column in ("calls", "unique") else "left")
        for entry in report.missing:
            used_by = ", ".join(dict.fromkeys(m["class_name"] for m in entry.modules))
            table.add_row(entry.op_name, str(entry.occurrences), str(len(entry.op_ids)),
                          ", ".join(entry.missing_aten_ops), used_by)
        console.print(table)


def _more(console, total: int, limit: int | None) -> None:
    if limit is not None and total > limit:
        console.print(f"  ... {total - limit} more (--top 0 shows all)")
