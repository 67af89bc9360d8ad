"""Console view of an LLMReport (`llm`): settings, memory, prefill, decode per context,
generation and training."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ... import units
from .columns import Column, kv_table, right, table

if TYPE_CHECKING:
    from ...tasks.llm import LLMReport

DECODE = (right("Context", "context", "{:,}".format),
          right("FLOPs (all)", lambda p: p.step.flops, units.count),
          right("Bytes", lambda p: p.step.bytes, units.size),
          right("of which KV", lambda p: p.step.kv_bytes, units.size),
          right("Bound", lambda p: p.step.bound),
          right("Step time", lambda p: p.step.time_s, units.duration),
          right("Tokens/s", "tokens_per_second", "{:,.0f}".format))


PER_CHIP = (Column("Chip", lambda e: e.chip.id, options={"no_wrap": True}),
            right("First token", "time_to_first_token_s", units.duration, no_wrap=True),
            right("Decode tok/s", "decode_tokens_per_second", "{:,.0f}".format, no_wrap=True),
            right("End to end", "end_to_end_s", units.duration, no_wrap=True),
            Column("Fits", lambda e: "yes" if e.fits else "no", options={"no_wrap": True}),
            right("Max batch", "max_batch", "{:,}".format, drop=1, no_wrap=True),
            right("Train tok/day", "training_tokens_per_day",
                  lambda n: "-" if n is None else units.count(n), drop=2, no_wrap=True))


def render_llm(report: LLMReport, console: Console) -> None:
    for part in (_settings(report), _memory(report), _prefill(report),
                 table(DECODE, report.decode, "DECODE (one step, whole batch)"),
                 _generation(report)):
        console.print(part)
    if report.training is not None:
        console.print(_training(report))
    if report.chips:
        console.print(table(PER_CHIP, report.chips, "PER CHIP (same captures, each chip's "
                                                    "time model and memory)"))


def _settings(report: LLMReport) -> Table:
    s = report.settings
    return kv_table(f"LLM COST: {report.model} on {report.hardware.name}", [
        ("Batch × (prompt + generated)", f"{s['batch_size']} × ({s['prompt_len']} + {s['gen_len']})"),
        ("Weights / KV cache dtype", f"{s['weight_dtype']} / {s['kv_dtype']}"),
        ("GPUs (tp × pp)", f"{s['gpus']} ({s['tp']} × {s['pp']})"),
        ("Params (active per token)",
         f"{units.count(report.params)} ({units.count(report.active_params)})"),
        ("Attention FLOPs", report.attention.describe()),
    ])


def _memory(report: LLMReport) -> Table:
    fits = Text("fits", style="green") if report.fits else Text("does not fit", style="red")
    return kv_table("MEMORY (1 GiB = 1024³ bytes)", [
        ("Weights", units.size(report.weights_bytes)),
        ("KV cache per token (one sequence)", units.size(report.kv_bytes_per_token)),
        ("KV cache, whole batch at full context", units.size(report.kv_cache_bytes)),
        ("Needed / available", Text.assemble(f"{units.size(report.memory_needed_bytes)} / "
                                             f"{units.size(report.memory_available_bytes)} (",
                                             fits, ")")),
        ("Largest batch at full context", str(report.max_batch)),
        ("Longest context at this batch", f"{report.max_context:,}"),
    ])


def _prefill(report: LLMReport) -> Table:
    prefill = report.prefill
    return kv_table("PREFILL", [
        ("FLOPs (all ops)", units.count(prefill.flops, "FLOPs")),
        ("Bytes moved", units.size(prefill.bytes)),
        ("Bound", f"{prefill.bound} ({prefill.intensity:.0f} FLOPs/byte)"),
        ("Time to first token", units.duration(report.time_to_first_token_s)),
    ])


def _generation(report: LLMReport) -> Table:
    turn = report.compute_bound_from_batch
    return kv_table("GENERATION", [
        ("Decode time (all tokens)", units.duration(report.decode_time_s)),
        ("Decode tokens/s (batch, average)", f"{report.decode_tokens_per_second:,.0f}"),
        ("End to end", units.duration(report.end_to_end_s)),
        ("Decode turns compute-bound from batch",
         str(turn) if turn else "never (KV reads grow with the batch)"),
    ])


def _training(report: LLMReport) -> Table:
    t, s = report.training, report.settings
    precision = "mixed precision" if t.mixed_precision else "fp32"
    rows = [
        ("Weights + grads + optimizer",
         f"{units.size(t.weights_bytes + t.gradients_bytes + t.optimizer_bytes)}"
         f" ({t.bytes_per_param:.1f} bytes/param)"),
        ("Activations per sequence (no / with checkpointing)",
         f"{units.size(t.activations_bytes)} / {units.size(t.activations_checkpointed_bytes)}"),
    ]
    rows += [(f"Per GPU, {strategy} (checkpointed)",
              f"{units.size(value)} ({units.size(t.per_gpu_checkpointed_bytes[strategy])})")
             for strategy, value in t.per_gpu_bytes.items()]
    rows += [
        ("Matmul-class FLOPs per token (fwd + bwd)", units.count(report.training_flops_per_token, "FLOPs")),
        (f"Tokens/day at {s['mfu']:.0%} MFU", units.count(report.training_tokens_per_day)),
    ]
    return kv_table(f"TRAINING ({t.optimizer}, {precision}, seq {s.get('train_seq_len')})", rows)
