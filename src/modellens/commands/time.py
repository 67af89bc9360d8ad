"""`modellens time SPEC`: every unique op timed on a device, the model end to end, the prediction."""

from __future__ import annotations

import argparse

from .common import Output, add_input_options, add_output_options, input_paths, non_negative_int


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "time", help="measure op by op and end to end on this machine; compare with the "
                     "predicted time",
        description="Each unique op configuration of one capture is run alone with random "
                    "tensors and timed; the whole model is timed with random weights; both are "
                    "compared with the calibrated prediction for the device.")
    p.add_argument("model", help="model spec (see `modellens profile --help`)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    p.add_argument("--hardware", help="chip or YAML whose time model predicts (default: the "
                                      "one `hardware --measure` fitted for this device)")
    p.add_argument("--max-seconds", type=float, help="budget for op timing; the least-called "
                                                     "configurations are measured last")
    p.add_argument("--no-end-to-end", action="store_true", help="skip the whole-model timing")
    p.add_argument("--no-cache", action="store_true", help="re-measure cached configurations")
    p.add_argument("--top", type=non_negative_int, default=15, help="configurations shown (default 15)")
    add_input_options(p)
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    out = Output(args, inputs=input_paths(args, "model", "inputs", "hardware"))
    from ..report.console.time import render_time
    from ..report.csv_rows import time_rows
    from ..tasks.time import time_model

    with out.progress_bar(f"timing {args.model} op by op on {args.device}") as progress:
        result = time_model(
            args.model, args.inputs, device=args.device, hardware=args.hardware,
            batch_size=args.batch_size, seq_len=args.seq_len, image_size=args.image_size,
            dtype=args.dtype, max_seconds=args.max_seconds, allow_longer=args.allow_longer,
            end_to_end=not args.no_end_to_end, use_cache=not args.no_cache, progress=progress,
            trust_remote_code=args.trust_remote_code)
    out.emit(table=lambda console: render_time(result, console, top=args.top),
             data=result.to_dict, rows=lambda: time_rows(result))
    return 0
