"""PNG plots with matplotlib: roofline of the ops on each chip, per-layer FLOPs and params, and
the memory breakdown. Each `*_figure` returns a Figure (no pyplot state); `write_plots` saves
them."""

from __future__ import annotations

import io
import os
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter, FuncFormatter

from .. import units
from ..analysis.results import ProfileResult
from ..costing.registry import MATMUL
from ..hardware import Chip
from ..io import write_bytes
from . import view
from .text import for_plot

COLORS = ("#4c5fd5", "#e0832f", "#1b9e77", "#d6457a", "#8e5bd6", "#b8a10f", "#2b8cbe", "#7f7f7f")


def roofline_figure(result: ProfileResult, chips: list[Chip] | None = None,
                    phase: str = "forward") -> Figure:
    """Every group of identical ops as a point on each chip's roofline (log–log); filled:
    matmul-class ops on the matrix roof, hollow: other ops on the vector roof."""
    chips = chips or [result.hardware]
    groups = [g for g in view.op_groups(result, chips[0])
              if g.first.phase == phase and g.first.flops_all > 0 and g.first.bytes > 0]
    fig = Figure(figsize=(10, 6.2), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    ax.set_xscale("log")
    ax.set_yscale("log")
    xs = [g.first.intensity for g in groups] or [1.0]
    lo = min(xs + [p / c.memory_bandwidth for c in chips for _, p in view.roofs(result, c)]) / 3
    hi = max(xs + [p / c.memory_bandwidth for c in chips for _, p in view.roofs(result, c)]) * 5
    for index, chip in enumerate(chips):
        color = COLORS[index % len(COLORS)]
        for rank, (label, peak) in enumerate(view.roofs(result, chip)):
            ridge = peak / chip.memory_bandwidth
            ax.plot([lo, ridge, hi], [lo * chip.memory_bandwidth, peak, peak], color=color, lw=1.8,
                    ls="-" if rank == 0 else "--",
                    label=f"{for_plot(chip.id)}: {label} {units.significant(peak, 'FLOP/s')}, "
                          f"{units.significant(chip.memory_bandwidth, 'B/s')}")
        times = [result.timing(g.first, chip).time_s * g.count for g in groups]
        total = sum(times) or 1.0
        for matmul in (True, False):
            chosen = [(g, t) for g, t in zip(groups, times)
                      if (g.first.category == MATMUL) == matmul]
            if not chosen:
                continue
            ax.scatter([g.first.intensity for g, _ in chosen],
                       [g.first.flops_all * g.count / t for g, t in chosen],
                       s=[24 + 300 * t / total for _, t in chosen], zorder=3, linewidths=1.2,
                       edgecolors=color, facecolors=color if matmul else "none",
                       alpha=0.75 if matmul else 0.9)
    ax.set_xlim(lo, hi)
    ax.set_xlabel("Arithmetic intensity (FLOPs/byte)")
    ax.set_ylabel("Attainable performance (FLOP/s)")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_major_formatter(EngFormatter(unit=""))
    ax.grid(True, which="major", color="#e3e8ef", lw=0.8)
    ax.set_title(f"Roofline of {for_plot(result.model)} ({phase}): {len(groups)} op groups on "
                 f"{for_plot(', '.join(c.id for c in chips))}\nfilled: matmul-class ops, "
                 "hollow: other ops; area ∝ share of time; ops with no FLOPs left out", fontsize=10.5)
    ax.legend(loc="lower right", fontsize=8, frameon=True)
    return fig


def layers_figure(result: ProfileResult) -> Figure:
    """Forward FLOPs and parameters per layer (numbered blocks and the leaves around them)."""
    layers = view.layers(result)
    names = [for_plot(m.path) for m in layers]
    fig = Figure(figsize=(11, min(40.0, 1.6 + 0.26 * len(layers))), dpi=110, layout="constrained")
    flops_ax, params_ax = fig.subplots(1, 2, sharey=True)
    flop_div, flop_prefix = units.scale(max((m.flops for m in layers), default=0))
    param_div, param_prefix = units.scale(max((m.params for m in layers), default=0))
    positions = range(len(layers))
    flops_ax.barh(positions, [m.flops / flop_div for m in layers], color=COLORS[0])
    params_ax.barh(positions, [m.params / param_div for m in layers], color=COLORS[1])
    flops_ax.set_yticks(list(positions), names, fontsize=8 if len(layers) < 60 else 6)
    flops_ax.invert_yaxis()
    flops_ax.margins(y=0.5 / max(1, len(layers)))
    flops_ax.set_xlabel(f"Forward FLOPs, matmul-class ({flop_prefix}FLOPs)")
    params_ax.set_xlabel(f"Parameters ({param_prefix or 'count'})")
    flops_ax.set_title("FLOPs per layer", fontsize=10.5)
    params_ax.set_title("Parameters per layer (tied weights counted once)", fontsize=10.5)
    for ax in (flops_ax, params_ax):
        ax.grid(True, axis="x", color="#e3e8ef", lw=0.8)
        ax.set_axisbelow(True)
    fig.suptitle(f"{for_plot(result.model)}: per-layer forward FLOPs and parameters", fontsize=12)
    return fig


def memory_figure(result: ProfileResult) -> Figure:
    """Weights, inputs, outputs, activations, peak live activations (and gradients)."""
    memory = result.memory
    items = [("Weights (params + buffers)", memory.weights_bytes), ("Inputs", memory.inputs_bytes),
             ("Outputs", memory.outputs_bytes),
             ("Activations (all, forward)", memory.activations_bytes),
             ("Peak live activations", memory.peak_activations_bytes)]
    if memory.gradients_bytes is not None:
        items.append(("Gradients", memory.gradients_bytes))
    values = [v for _, v in items]
    divisor, unit = units.scale(max(values), units.BINARY, "bytes")
    fig = Figure(figsize=(9, 0.5 * len(items) + 1.6), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    bars = ax.barh(range(len(items)), [v / divisor for v in values], color=COLORS[0])
    ax.set_yticks(range(len(items)), [name for name, _ in items])
    ax.invert_yaxis()
    positive = [v for v in values if v > 0]
    if positive and max(positive) / min(positive) >= 1000:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlim(min(positive) / divisor / 2, max(positive) / divisor * 20)
    else:
        ax.set_xlim(0, max(values) / divisor * 1.25 or 1)
    ax.bar_label(bars, labels=[units.size(v) for v in values], padding=4, fontsize=9)
    ax.set_xlabel(f"Memory ({unit}; 1 KiB = 1024 bytes)"
                  + (", log scale" if ax.get_xscale() == "log" else ""))
    ax.grid(True, axis="x", color="#e3e8ef", lw=0.8)
    ax.set_axisbelow(True)
    ax.set_title(for_plot(f"{result.model}: memory for {result.input_description}"), fontsize=11)
    return fig


def figures(result: ProfileResult, chips: list[Chip] | None = None) -> dict[str, Figure]:
    """The plots by file name."""
    found = {"roofline.png": roofline_figure(result, chips)}
    if result.flops.backward is not None:
        found["roofline_backward.png"] = roofline_figure(result, chips, phase="backward")
    found["layers.png"] = layers_figure(result)
    found["memory.png"] = memory_figure(result)
    return found


def save(fig: Figure, path: str | os.PathLike, dpi: float | None = None) -> Path:
    """Write a figure atomically, in the format its suffix names (PNG by default)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=Path(path).suffix.lstrip(".") or "png", dpi=dpi)
    return write_bytes(path, buffer.getvalue())


def decode_throughput_figure(report, chips: list[Chip]) -> Figure:
    """LLM decode tokens/s vs batch size, one line per chip (log–log), at the mid context."""
    batches = [2**i for i in range(0, 11)]
    fig = Figure(figsize=(8, 5), dpi=120)
    axes = fig.add_subplot()
    for color, chip in zip(COLORS * 4, chips):
        axes.plot(batches, report.tokens_per_second_by_batch(batches, chip), marker="o",
                  color=color, label=for_plot(chip.name))
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.set_xlabel("batch size (sequences)")
    axes.set_ylabel("decode throughput (tokens/s)")
    context = report.decode[len(report.decode) // 2].context
    axes.set_title(f"{for_plot(report.model)}: decode at context {context:,} "
                   f"({report.settings['dtype']})")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    fig.tight_layout()
    return fig


def write_plots(result: ProfileResult, directory: str | os.PathLike,
                chips: list[Chip] | None = None) -> list[Path]:
    return [save(fig, Path(directory) / name) for name, fig in figures(result, chips).items()]
