"""`modellens unique SPEC... --run-on BACKEND`: argparse -> tasks.porting -> report.porting."""

from __future__ import annotations

import argparse
import sys


def run_porting(args: argparse.Namespace, specs: list[str], out) -> int:
    """`out`: the command's Output (--format, -o, -q)."""
    from ..errors import SpecError
    from ..io import write_text
    from ..report import porting as view
    from ..report.console.porting import render
    from ..tasks.porting import port

    if args.model_path:
        specs = [args.model_path, *specs]
    if not specs:
        raise SpecError("no model: give one or more SPECs (or --models-file)")
    # --inputs goes with the FILE.py::FN models (specs such as gpt2 make their own)
    models = [(s, args.inputs) if "::" in s and args.inputs else s for s in specs]
    with out.progress_bar(f"porting to {args.run_on}") as progress:
        result = port(models, args.run_on, device=args.device, budget_s=args.budget,
                      cache=not args.no_cache, emit_tests=args.emit_tests,
                      failing_only=args.failing_only, progress=progress,
                      batch_size=args.batch_size, seq_len=args.seq_len,
                      image_size=args.image_size, dtype=args.dtype, task=args.task,
                      trust_remote_code=args.trust_remote_code)
    if args.rollup:
        write_text(args.rollup, view.rollup_text(result, args.rollup))
    if not args.quiet:
        if args.rollup:
            print(f"wrote {args.rollup}", file=sys.stderr)
        if result.files:
            print(f"wrote {len(result.files)} tests to {args.emit_tests}", file=sys.stderr)
    out.emit(table=lambda console: render(result, console, args.top), data=result.to_dict,
             rows=lambda: view.config_rows(result),
             html=lambda: view.render_porting_html(result))
    return 0

