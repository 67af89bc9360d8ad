"""`modellens transformer CONFIG.json` (seed 001): FLOPs, model size and timings of a transformer
described by a small JSON config; writes `<out-dir>/<config>.txt` and `<config>.json`."""

from __future__ import annotations

import argparse
import sys

from .common import (
    Output,
    add_attention_option,
    add_cache_option,
    add_output_options,
    cached,
    non_negative_int,
    positive_int,
)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "transformer", help="FLOPs, model size and measured timings of an encoder/decoder "
                            "transformer described by a small JSON config",
        description="Forward/backward FLOPs (from one fake-tensor capture with autograd: any size, "
                    "no weights), model size for --dtype, and measured timings (per block × "
                    "number of blocks, and the whole model once). Writes OUT_DIR/NAME.txt (five "
                    "summary lines) and OUT_DIR/NAME.json.")
    p.add_argument("config", help="JSON config: embed_dim, num_heads, ff_dim, seq_len, "
                                  "memory_seq_len, num_encoder_blocks, num_decoder_blocks, ...")
    p.add_argument("--batch-size", "--batch_size", type=positive_int, default=1,
                   help="batch size (default 1)")
    p.add_argument("--dtype", default="float32", metavar="float32|float16|bfloat16|int8",
                   help="parameter dtype for model size and timing (default float32)")
    p.add_argument("--device", default="cpu",
                   help="timing device: cpu or cuda (default cpu)")
    p.add_argument("--scale-bwd-flops", "--scale_bwd_flops", type=float, metavar="X",
                   help="report backward FLOPs as X × forward (a fixed-ratio estimate) instead of "
                        "the measured autograd count; both are in the JSON")
    p.add_argument("--repeats", type=positive_int, default=10, help="timed repeats per part (default 10)")
    p.add_argument("--warmup", type=non_negative_int, default=2, help="untimed warm-up calls (default 2)")
    p.add_argument("--no-timing", action="store_true", help="count only; time lines say nan")
    add_attention_option(p)
    p.add_argument("--out-dir", default="model_stats", help="where NAME.txt and NAME.json go "
                                                            "(default model_stats)")
    add_output_options(p)
    add_cache_option(p)
    p.set_defaults(handler=run)


# measured timings are never kept: only a --no-timing answer is a pure function of its config
@cached("config", paths=("out_dir",), when=lambda args: args.no_timing)
def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    name = Path(args.config).stem  # the task's NAME.txt and NAME.json (tasks.transformer)
    out = Output(args, inputs=[args.config],  # refused before minutes of timing, not after
                 dirs=[("--out-dir", args.out_dir, (f"{name}.txt", f"{name}.json"))])
    from ..report.console.transformer import render
    from ..report.csv_rows import transformer_rows
    from ..tasks.transformer import profile_transformer_config

    with out.progress_bar(f"profiling {args.config}") as progress:
        result = profile_transformer_config(
            args.config, batch_size=args.batch_size, dtype=args.dtype, device=args.device,
            scale_bwd_flops=args.scale_bwd_flops, repeats=args.repeats, warmup=args.warmup,
            timing=not args.no_timing, out_dir=args.out_dir, progress=progress,
            attention_flops=args.attention_flops,
        )
    out.emit(table=lambda console: render(result, console), data=result.to_dict,
             rows=lambda: transformer_rows(result))
    if not out.quiet:
        print("wrote " + ", ".join(result.files), file=sys.stderr)
    return 0
