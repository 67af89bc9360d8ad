"""Console view of a TransformerProfile (`transformer`, seed 001): the model, FLOPs, model size
per dtype, numbers per block, and the measured timings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from ... import units
from ..csv_rows import transformer_rows
from ..text import styled
from .columns import Column, kv_table, right, table

if TYPE_CHECKING:
    from ...measure.timing import TimingReport
    from ...tasks.transformer import TransformerProfile

BLOCKS = (Column("Part", "kind"), Column("Path", "path"), right("×", "count"),
          right("Params", "params", units.count), right("Fwd FLOPs", "forward_flops", units.count),
          right("Bwd FLOPs", "backward_flops", units.count),
          right("Fwd time", "forward_median_s", units.duration),
          right("Bwd time", "backward_median_s", units.duration))


def _kv(title: str, pairs: list[tuple[str, str]]) -> Table:
    return kv_table(title, pairs, pad_edge=True)


def render(result: TransformerProfile, console: Console) -> None:
    cfg, flops = result.config, result.flops
    console.print(_kv(f"TRANSFORMER {result.name}", [
        ("Blocks", f"{cfg.num_encoder_blocks} encoder, {cfg.num_decoder_blocks} decoder"),
        ("Width", f"embed {cfg.embed_dim}, {cfg.num_heads} heads, ff {cfg.ff_dim}"),
        ("Inputs", result.settings["inputs"]),
        ("Parameters", units.exact(result.params)),
        ("Capture method", result.capture_method),
    ]))
    ratio = f" ({flops.backward / flops.forward:.3f}× fwd)" if flops.forward else ""
    chosen = lambda source: "  ← .txt" if result.backward_source == source else ""
    console.print(_kv("FLOPs (matmul-class, 1 MAC = 2 FLOPs)", [
        ("Forward", units.exact(flops.forward, "FLOPs")),
        ("Backward, measured", units.exact(flops.backward, "FLOPs") + ratio + chosen("measured")),
        (f"Backward, {result.scale_bwd_flops:g}× forward",
         units.exact(result.backward_scaled, "FLOPs") + chosen("scaled")),
        ("Forward, all ops", units.exact(flops.forward_all, "FLOPs")),
        ("Attention", result.attention.describe()),
    ]))
    dtype = result.settings["dtype"]
    console.print(_kv("MODEL SIZE (params × bytes per element)", [
        (name + ("  ← .txt" if name == dtype else ""), f"{units.size(n)} ({n:,} B)")
        for name, n in result.model_size_by_dtype.items()
    ]))
    console.print(table(BLOCKS, transformer_rows(result),
                        "PER BLOCK (numbers of the block named in Path)"))
    if result.timing:
        console.print(_timing_table(result.timing))
        for note in result.timing.notes:
            console.print(styled(f"note: {note}", "yellow"))
    for note in result.notes:
        console.print(styled(f"note: {note}", "yellow"))


def _timing_table(timing: TimingReport) -> Table:
    whole = timing.whole
    pairs = [
        ("Forward, blocks × count (.txt)", units.duration(timing.forward_s)),
        ("Backward, blocks × count (.txt)", units.duration(timing.backward_s)),
    ]
    if whole:
        pairs += [
            ("Forward, whole model", f"{units.duration(whole.forward.median_s)} "
             f"({whole.forward.median_s / timing.forward_s:.2f}× the estimate)"),
            ("Backward, whole model", units.duration(whole.backward.median_s)
             if whole.backward else "-"),
        ]
    return _kv(f"TIMING on {timing.device}, {timing.dtype} (median of {timing.repeats} after "
               f"{timing.warmup} warm-up)", pairs)
