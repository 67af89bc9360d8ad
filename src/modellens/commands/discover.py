"""`modellens discover`: profile whole model libraries and report which models work (seed 003)."""

from __future__ import annotations

import argparse

from .common import Output, add_output_options

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
    p.add_argument("--jobs", type=int, default=1,
                   help="worker processes (default 1; 0: in this process, no time limit)")
    p.add_argument("--timeout", type=float, default=120.0,
                   help="seconds per model before it counts as a timeout (default 120)")
    p.add_argument("--limit", type=int, help="at most N models per library")
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
    group.add_argument("--batch-size", type=int, default=1)
    group.add_argument("--seq-len", type=int)
    group.add_argument("--image-size", type=int)
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..tasks import discover as engine

    if args.output and args.output.endswith(".json") and args.format == "table":
        args.format = "json"
    if args.jobs < 0 or args.timeout <= 0 or (args.limit is not None and args.limit <= 0) or (
            args.max_memory is not None and args.max_memory <= 0):
        raise ConfigError("--jobs must be >= 0; --timeout, --limit and --max-memory > 0")
    inputs = engine.InputSettings(args.batch_size, args.seq_len, args.image_size)
    out = Output(args)
    if args.test_model:
        return _test_model(args, out, inputs)
    todo = engine.candidates(args.library, args.limit)
    result = _sweep(args, out, todo, inputs)
    if args.markdown:
        from ..io import write_text

        write_text(args.markdown, engine.render_markdown(result))
    if args.generate_examples not in (None, "-"):
        from ..io import write_text

        write_text(args.generate_examples, "#!/bin/sh\n# modellens discover: models that profile "
                   "cleanly\n" + "".join(f"{c}\n" for c in result.examples()))
    examples = args.generate_examples == "-"
    out.emit(table=lambda console: _render(console, result, args.verbose, examples),
             data=result.to_dict,
             rows=lambda: [_csv_row(r) for r in result.results])
    return 0


def _sweep(args, out: Output, todo, inputs):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..tasks import discover as engine

    stderr = Console(stderr=True, quiet=out.quiet)
    progress = Progress(TextColumn("discover {task.description}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=stderr,
                        disable=out.quiet or not stderr.is_terminal)
    with progress:
        task = progress.add_task(args.library, total=len(todo))

        def on_result(model) -> None:
            progress.advance(task)
            if args.verbose:
                progress.console.print(_line(model), markup=False, highlight=False)

        memory = int(args.max_memory * 2**30) if args.max_memory else None
        return engine.discover(args.library, models=todo, jobs=args.jobs, timeout=args.timeout,
                               limit=args.limit, inputs=inputs, on_result=on_result,
                               memory_limit=memory)


def _line(model) -> str:
    from .. import units

    if model.ok:
        return (f"ok      {model.spec}: {model.method}, {units.count(model.params)} params, "
                f"{units.count(model.flops, 'FLOPs')} fwd, {model.seconds:.1f} s")
    return f"{model.status:<7} {model.spec}: {model.reason} ({model.seconds:.1f} s)"


def _render(console, result, verbose: bool, examples: bool) -> None:
    from rich.table import Table

    from .. import units
    from ..tasks import discover as engine

    summary = Table(title="discover: models per library")
    for column in engine.SUMMARY_HEADER:
        summary.add_column(column, justify="left" if column == "library" else "right")
    for s in result.summaries():
        summary.add_row(*engine.summary_cells(s))
    console.print(summary)
    shown = result.results if verbose else [r for r in result.results if not r.ok]
    if shown:
        models = Table(title="every model" if verbose else "models that failed")
        for column in ("model", "status", "method", "params", "FLOPs fwd", "seconds", "reason"):
            models.add_column(column, justify="right" if column in ("params", "FLOPs fwd",
                                                                    "seconds") else "left")
        for r in shown:
            models.add_row(r.spec, r.status, r.method or "-", units.count(r.params),
                           units.count(r.flops), f"{r.seconds:.1f}", r.reason)
        console.print(models)
    staged = [r for r in result.results if r.stages]
    if staged:
        stages = list(dict.fromkeys(s.stage for r in staged for s in r.stages))
        table = Table(title="by stage: params / forward FLOPs")
        table.add_column("model")
        for stage in stages:
            table.add_column(stage, justify="right")
        for r in staged:
            cells = {s.stage: f"{units.count(s.params)} / {units.count(s.flops)}" for s in r.stages}
            table.add_row(r.spec, *(cells.get(s, "-") for s in stages))
        console.print(table)
    console.print(f"{sum(r.ok for r in result.results)} of {len(result.results)} models ok "
                  f"in {result.seconds:.0f} s")
    if examples:
        console.print("\nready-to-run commands:")
        for command in result.examples():
            console.print(command, markup=False, highlight=False)


def _csv_row(model) -> dict:
    row = model.to_dict()
    row["unsupported_ops"] = " ".join(row["unsupported_ops"])
    row["stages"] = " ".join(f"{s['stage']}={s['params']}/{s['flops']}" for s in row["stages"])
    return row


def _test_model(args, out: Output, inputs) -> int:
    from ..report import console as console_report
    from ..tasks import discover as engine

    candidate = engine.find_candidate(args.test_model, args.library)
    with out.progress(f"profiling {candidate.spec}"):
        model, profiled = engine.test_model(candidate, inputs)

    def table(console) -> None:
        console.print(_line(model), markup=False, highlight=False)
        if model.input_description:
            console.print(f"inputs: {model.input_description}", markup=False, highlight=False)
        if profiled is not None:
            console_report.render_profile(profiled, console)
            console.print(f"run it: modellens profile {model.spec}", markup=False, highlight=False)

    data = lambda: {"schema_version": engine.SCHEMA_VERSION, "model": model.to_dict(),
                    "profile": profiled.to_dict() if profiled else None}
    out.emit(table=table, data=data, rows=lambda: [_csv_row(model)])
    return 0 if model.ok else 1
