"""`modellens discover`: profile whole model libraries and report which models work (seed 003)."""

from __future__ import annotations

import argparse
import sys

from .common import Output, add_output_options, input_paths, non_negative_int, positive_int

LIBRARY_CHOICES = ("all", "catalog", "transformers", "torchvision", "timm", "yolo")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "discover", help="profile every model of a library and report which ones work",
        description="Build, capture and profile each model of a library (each in a worker "
                    "process with a time limit) and summarize: tried / ok / by capture method.")
    p.add_argument("--library", choices=LIBRARY_CHOICES, default="catalog",
                   help="which models to try (default catalog)")
    p.add_argument("--test-model", metavar="NAME",
                   help="profile one model in this process and show every detail "
                        "(a name from the library or any model spec)")
    p.add_argument("--jobs", type=non_negative_int, default=1,
                   help="worker processes (default 1; 0: in this process, no time limit)")
    p.add_argument("--timeout", type=float, default=120.0,
                   help="seconds per model before it counts as a timeout (default 120)")
    p.add_argument("--limit", type=positive_int, help="at most N models per library")
    p.add_argument("--max-memory", type=float, metavar="GIB",
                   help="memory each worker may allocate (default 60%% of RAM shared by the "
                        "workers); a model that needs more fails alone")
    p.add_argument("--verbose", action="store_true", help="print each model as it finishes and "
                                                          "list every model in the table")
    p.add_argument("--generate-examples", nargs="?", const="-", metavar="PATH",
                   help="list a `modellens profile` command per working model (after the "
                        "summary, or as a shell script at PATH)")
    p.add_argument("--markdown", metavar="PATH", help="also write the markdown coverage tables")
    group = p.add_argument_group("inputs (for every model; default: each model's native size)")
    group.add_argument("--batch-size", type=positive_int, default=1)
    group.add_argument("--seq-len", type=positive_int)
    group.add_argument("--image-size", type=positive_int)
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import UsageError

    if args.output and args.output.endswith(".json") and args.format == "table":
        args.format = "json"
    if args.jobs < 0 or args.timeout <= 0 or (args.limit is not None and args.limit <= 0) or (
            args.max_memory is not None and args.max_memory <= 0):
        raise UsageError("--jobs must be >= 0; --timeout, --limit and --max-memory > 0")
    # every output is checked before the sweep, which may take hours: none is lost to a bad path
    files = [("--markdown", args.markdown)] if args.markdown else []
    if args.generate_examples not in (None, "-"):
        files.append(("--generate-examples", args.generate_examples))
    out = Output(args, inputs=input_paths(args, "test_model"), files=files)
    from ..io import write_text
    from ..report.console.discover import render
    from ..report.csv_rows import discover_row
    from ..tasks import discover as engine

    inputs = engine.InputSettings(args.batch_size, args.seq_len, args.image_size)
    if args.test_model:
        return _check_model(args, out, inputs)
    result = _sweep(args, out, engine.candidates(args.library, args.limit), inputs)
    if args.markdown:
        from ..report.markdown import render_markdown

        write_text(args.markdown, render_markdown(result))
    if args.generate_examples not in (None, "-"):
        write_text(args.generate_examples, "#!/bin/sh\n# modellens discover: models that profile "
                   "cleanly\n" + "".join(f"{c}\n" for c in result.examples()))
    examples = args.generate_examples == "-"
    out.emit(table=lambda console: render(result, console, args.verbose, examples),
             data=result.to_dict, rows=lambda: [discover_row(r) for r in result.results])
    return 0


def _sweep(args, out: Output, todo, inputs):
    from ..report.console.discover import line
    from ..tasks import discover as engine

    finished = 0
    with out.progress_bar(f"discover {args.library}", transient=False) as progress:
        if progress:
            progress(0, len(todo), "")

        def on_result(model) -> None:
            nonlocal finished
            finished += 1
            if progress:
                progress(finished, len(todo), model.spec)
            if args.verbose and not out.quiet:
                print(line(model), file=sys.stderr)

        memory = int(args.max_memory * 2**30) if args.max_memory else None
        return engine.discover(args.library, models=todo, jobs=args.jobs, timeout=args.timeout,
                               limit=args.limit, inputs=inputs, on_result=on_result,
                               memory_limit=memory)


def _check_model(args, out: Output, inputs) -> int:
    from ..io import document
    from ..report.console.discover import render_one
    from ..report.csv_rows import discover_row
    from ..tasks import discover as engine

    candidate = engine.find_candidate(args.test_model, args.library)
    with out.progress(f"profiling {candidate.spec}"):
        model, profiled = engine.check_model(candidate, inputs)
    out.emit(table=lambda console: render_one(model, profiled, console),
             data=lambda: document({"model": model, "profile": profiled}),
             rows=lambda: [discover_row(model)])
    return 0 if model.ok else 1
