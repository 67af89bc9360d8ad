"""Console table and plot of an LLMReport."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table

from .. import units


def _table(title: str) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold cyan", box=box.SIMPLE_HEAD,
                  show_header=False, pad_edge=False)
    table.add_column("key", style="bold")
    table.add_column("value", justify="right")
    return table


def render_llm(report, console: Console) -> None:
    s = report.settings
    head = _table(f"LLM COST: {report.model} on {report.hardware.name}")
    head.add_row("Batch × (prompt + generated)",
                 f"{s['batch_size']} × ({s['prompt_len']} + {s['gen_len']})")
    head.add_row("Weights / KV cache dtype", f"{s['weight_dtype']} / {s['kv_dtype']}")
    head.add_row("GPUs (tp × pp)", f"{s['gpus']} ({s['tp']} × {s['pp']})")
    head.add_row("Params (active per token)",
                 f"{units.count(report.params)} ({units.count(report.active_params)})")
    console.print(head)

    memory = _table("MEMORY (1 GiB = 1024³ bytes)")
    memory.add_row("Weights", units.size(report.weights_bytes))
    memory.add_row("KV cache per token (one sequence)", units.size(report.kv_bytes_per_token))
    memory.add_row("KV cache, whole batch at full context", units.size(report.kv_cache_bytes))
    fits = "[green]fits[/]" if report.fits else "[red]does not fit[/]"
    memory.add_row("Needed / available", f"{units.size(report.memory_needed_bytes)} / "
                   f"{units.size(report.memory_available_bytes)} ({fits})")
    memory.add_row("Largest batch at full context", str(report.max_batch))
    memory.add_row("Longest context at this batch", f"{report.max_context:,}")
    console.print(memory)

    prefill = _table("PREFILL")
    prefill.add_row("FLOPs", units.count(report.prefill.flops, "FLOPs"))
    prefill.add_row("Bytes moved", units.size(report.prefill.bytes))
    prefill.add_row("Bound", f"{report.prefill.bound} ({report.prefill.intensity:.0f} FLOPs/byte)")
    prefill.add_row("Time to first token", units.duration(report.time_to_first_token_s))
    console.print(prefill)

    decode = Table(title="DECODE (one step, whole batch)", title_justify="left",
                   title_style="bold cyan", box=box.SIMPLE_HEAD)
    for column in ("Context", "FLOPs", "Bytes", "of which KV", "Bound", "Step time", "Tokens/s"):
        decode.add_column(column, justify="right")
    for point in report.decode:
        decode.add_row(f"{point.context:,}", units.count(point.step.flops),
                       units.size(point.step.bytes), units.size(point.step.kv_bytes),
                       point.step.bound, units.duration(point.step.time_s),
                       f"{point.tokens_per_second:,.0f}")
    console.print(decode)
    summary = _table("GENERATION")
    summary.add_row("Decode time (all tokens)", units.duration(report.decode_time_s))
    summary.add_row("Decode tokens/s (batch, average)", f"{report.decode_tokens_per_second:,.0f}")
    summary.add_row("End to end", units.duration(report.end_to_end_s))
    turn = report.compute_bound_from_batch
    summary.add_row("Decode turns compute-bound from batch",
                    str(turn) if turn else "never (KV reads grow with the batch)")
    console.print(summary)

    if report.training is not None:
        t = report.training
        training = _table(f"TRAINING ({t.optimizer}, {'mixed precision' if t.mixed_precision else 'fp32'}"
                          f", seq {s.get('train_seq_len')})")
        training.add_row("Weights + grads + optimizer",
                         f"{units.size(t.weights_bytes + t.gradients_bytes + t.optimizer_bytes)}"
                         f" ({t.bytes_per_param:.1f} bytes/param)")
        training.add_row("Activations per sequence (no / with checkpointing)",
                         f"{units.size(t.activations_bytes)} / "
                         f"{units.size(t.activations_checkpointed_bytes)}")
        for strategy, value in t.per_gpu_bytes.items():
            training.add_row(f"Per GPU, {strategy} (checkpointed)",
                             f"{units.size(value)} ({units.size(t.per_gpu_checkpointed_bytes[strategy])})")
        training.add_row("FLOPs per token (fwd + bwd)",
                         units.count(report.training_flops_per_token, "FLOPs"))
        training.add_row(f"Tokens/day at {s['mfu']:.0%} MFU",
                         units.count(report.training_tokens_per_day))
        console.print(training)


def decode_rows(report) -> list[dict]:
    return [p.to_dict() for p in report.decode]


def plot_decode_throughput(report, chips: list[str], path: str) -> None:
    from ..hardware import get_chip
    from .plots import decode_throughput_figure, save

    save(decode_throughput_figure(report, [get_chip(name.strip()) for name in chips]), path)
