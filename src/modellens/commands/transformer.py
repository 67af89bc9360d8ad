"""`modellens transformer CONFIG.json` (seed 001): FLOPs, model size and timings of a transformer
described by a small JSON config; writes `<out-dir>/<config>.txt` and `<config>.json`."""

from __future__ import annotations

import argparse
import contextlib

from .common import Output, add_output_options


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "transformer", help="seed 001: FLOPs, model size and timings of a transformer JSON config",
        description="Forward/backward FLOPs (from one fake-tensor capture with autograd: any size, "
                    "no weights), model size for --dtype, and measured timings (per block × "
                    "number of blocks, and the whole model once). Writes OUT_DIR/NAME.txt (the "
                    "seed's five lines) and OUT_DIR/NAME.json.")
    p.add_argument("config", help="JSON config: embed_dim, num_heads, ff_dim, seq_len, "
                                  "memory_seq_len, num_encoder_blocks, num_decoder_blocks, ...")
    p.add_argument("--batch-size", "--batch_size", type=int, default=1,
                   help="batch size (default 1)")
    p.add_argument("--dtype", default="float32", metavar="float32|float16|bfloat16|int8",
                   help="parameter dtype for model size and timing (default float32)")
    p.add_argument("--device", default="cpu",
                   help="timing device: cpu or cuda (default cpu)")
    p.add_argument("--scale-bwd-flops", "--scale_bwd_flops", type=float, metavar="X",
                   help="report backward FLOPs as X × forward (the seed's estimate) instead of "
                        "the measured autograd count; both are in the JSON")
    p.add_argument("--repeats", type=int, default=10, help="timed repeats per part (default 10)")
    p.add_argument("--warmup", type=int, default=2, help="untimed warm-up calls (default 2)")
    p.add_argument("--no-timing", action="store_true", help="count only; time lines say nan")
    p.add_argument("--out-dir", default="model_stats", help="where NAME.txt and NAME.json go "
                                                            "(default model_stats)")
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from ..tasks.transformer import profile_transformer_config

    out = Output(args)
    if out.format == "html":  # refuse before minutes of timing, not after
        from ..errors import ModellensError

        raise ModellensError("transformer has no HTML view; use --format table|json|csv")
    with _progress_bar(out.quiet) as bar:
        report = None
        if bar is not None:
            task = bar.add_task(f"capturing {args.config}", total=None)
            report = lambda text, done, total: bar.update(task, description=text,
                                                          completed=done, total=total)
        result = profile_transformer_config(
            args.config, batch_size=args.batch_size, dtype=args.dtype, device=args.device,
            scale_bwd_flops=args.scale_bwd_flops, repeats=args.repeats, warmup=args.warmup,
            timing=not args.no_timing, out_dir=args.out_dir, progress=report,
        )
    out.emit(table=lambda console: _render(result, console), data=result.to_dict,
             rows=lambda: _rows(result))
    if not out.quiet:
        print("wrote " + ", ".join(result.files), file=sys.stderr)
    return 0


def _progress_bar(quiet: bool):
    """A transient progress bar on stderr (only on a terminal, never with -q)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        return contextlib.nullcontext(None)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True)


def _rows(result) -> list[dict]:
    timings = {}
    if result.timing:
        parts = result.timing.blocks + ([result.timing.whole] if result.timing.whole else [])
        timings = {p.name: p for p in parts}
    rows = []
    for block in result.blocks:
        part = timings.get(block.kind)
        rows.append({**block.to_dict(),
                     "forward_median_s": part.forward.median_s if part else None,
                     "backward_median_s": part.backward.median_s if part and part.backward
                     else None})
    return rows


def _render(result, console) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from ..units import count, duration, size

    def kv(title: str, pairs: list[tuple[str, str]]) -> Table:
        table = Table(title=title, title_justify="left", title_style="bold cyan",
                      box=box.SIMPLE_HEAD, show_header=False)
        table.add_column("key", style="bold")
        table.add_column("value", justify="right")
        for pair in pairs:
            table.add_row(*pair)
        return table

    cfg, flops = result.config, result.flops
    exact = lambda n, unit: f"{count(n, unit)} ({n:,})"
    console.print(kv(f"TRANSFORMER {result.name}", [
        ("Blocks", f"{cfg.num_encoder_blocks} encoder, {cfg.num_decoder_blocks} decoder"),
        ("Width", f"embed {cfg.embed_dim}, {cfg.num_heads} heads, ff {cfg.ff_dim}"),
        ("Inputs", result.settings["inputs"]),
        ("Parameters", exact(result.params, "")),
        ("Capture method", result.capture_method),
    ]))
    ratio = f" ({flops.backward / flops.forward:.3f}× fwd)" if flops.forward else ""
    chosen = lambda source: "  ← .txt" if result.backward_source == source else ""
    console.print(kv("FLOPs (matmul-class, 1 MAC = 2 FLOPs)", [
        ("Forward", exact(flops.forward, "FLOPs")),
        ("Backward, measured", exact(flops.backward, "FLOPs") + ratio + chosen("measured")),
        (f"Backward, {result.scale_bwd_flops:g}× forward", exact(result.backward_scaled, "FLOPs")
         + chosen("scaled")),
        ("Forward, all ops", exact(flops.forward_all, "FLOPs")),
    ]))
    dtype = result.settings["dtype"]
    console.print(kv("MODEL SIZE (params × bytes per element)", [
        (name + ("  ← .txt" if name == dtype else ""), f"{size(n)} ({n:,} B)")
        for name, n in result.model_size_by_dtype.items()
    ]))
    timings = {r["kind"]: r for r in _rows(result)}
    table = Table(title="PER BLOCK (numbers of the block named in Path)", title_justify="left",
                  title_style="bold cyan", box=box.SIMPLE_HEAD)
    for column in ("Part", "Path", "×", "Params", "Fwd FLOPs", "Bwd FLOPs", "Fwd time",
                   "Bwd time"):
        table.add_column(column, justify="left" if column in ("Part", "Path") else "right")
    for block in result.blocks:
        row = timings[block.kind]
        table.add_row(block.kind, block.path, str(block.count), count(block.params),
                      count(block.forward_flops), count(block.backward_flops),
                      duration(row["forward_median_s"]), duration(row["backward_median_s"]))
    console.print(table)
    timing = result.timing
    if timing:
        whole = timing.whole
        pairs = [
            ("Forward, blocks × count (.txt)", duration(timing.forward_s)),
            ("Backward, blocks × count (.txt)", duration(timing.backward_s)),
        ]
        if whole:
            pairs += [
                ("Forward, whole model", f"{duration(whole.forward.median_s)} "
                 f"({whole.forward.median_s / timing.forward_s:.2f}× the estimate)"),
                ("Backward, whole model", duration(whole.backward.median_s)
                 if whole.backward else "-"),
            ]
        console.print(kv(f"TIMING on {timing.device}, {timing.dtype} (median of "
                         f"{timing.repeats} after {timing.warmup} warm-up)", pairs))
        for note in timing.notes:
            console.print(Text(f"note: {note}", style="yellow"))
    for note in result.notes:
        console.print(Text(f"note: {note}", style="yellow"))
