"""Console views of ModelInfo (SUMMARY, LAYER DETAILS, WEIGHT STATISTICS, BUFFERS) and of
CheckpointDiff; the same tables serve the CLI and the plain text `dump_model_info` prints."""

from __future__ import annotations

import io
from typing import Iterable

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from .. import units
from ..tasks.model_info import CheckpointDiff, LayerInfo, ModelInfo, largest_layers

TEXT_WIDTH = 1000  # plain text: every table at its natural width, trailing blanks stripped
LIST_LIMIT = 20  # names shown per list of missing / extra / mismatched tensors


def number(value: float | None) -> str:
    """Fixed six decimals in the usual weight range, scientific outside it."""
    if value is None:
        return "-"
    if value == 0:
        return "0"
    return f"{value:.6f}" if 1e-4 <= abs(value) < 1e5 else f"{value:.3e}"


def _value(value: float | None, dtype: str) -> str:
    """A statistic of an integer or bool tensor prints as an integer."""
    if value is not None and not dtype.startswith(("float", "bfloat")):
        return f"{value:,.0f}"
    return number(value)


def shape(dims: Iterable[int]) -> str:
    return str(tuple(dims))


def _table(title: str, columns: list[tuple[str, str]], **kwargs) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold cyan", box=box.SIMPLE_HEAD,
                  pad_edge=False, **kwargs)
    for i, (name, justify) in enumerate(columns):
        # On a narrow terminal the name column folds; numbers are never cut.
        table.add_column(name, justify=justify, no_wrap=i > 0, overflow="fold")
    return table


def _kv(title: str, rows: list[tuple[str, str]]) -> Table:
    table = _table(title, [("key", "left"), ("value", "right")], show_header=False)
    for row in rows:
        table.add_row(*row)
    return table


def _subset_title(title: str, shown: int, total: int) -> str:
    return title if shown == total else f"{title} ({shown} largest of {total})"


def summary_table(info: ModelInfo) -> Table:
    rows = [
        ("Source", f"{info.source} ({info.kind})"),
        ("Total parameters", f"{info.total_params:,}"),
        ("Trainable params", f"{info.trainable_params:,}"),
        ("Non-trainable params", f"{info.non_trainable_params:,}"),
        ("Total memory", units.size(info.params_bytes + info.buffers_bytes)),
        ("Total layers", f"{info.num_layers:,}"),
    ]
    if info.buffers:
        rows.insert(4, ("Buffers (not params)",
                        f"{sum(b.num_params for b in info.buffers):,} in {len(info.buffers)} "
                        + ("tensor" if len(info.buffers) == 1 else "tensors")))
        rows.insert(6, ("  params / buffers",
                        f"{units.size(info.params_bytes)} / {units.size(info.buffers_bytes)}"))
    return _kv("SUMMARY (1 MiB = 1024² bytes)", rows)


def layer_table(layers: list[LayerInfo], total: int) -> Table:
    table = _table(_subset_title("LAYER DETAILS", len(layers), total),
                   [("Layer Name", "left"), ("Shape", "left"), ("Params", "right"),
                    ("Memory", "right"), ("Dtype", "left"), ("Grad", "center")])
    for layer in layers:
        grad = "✓" if layer.requires_grad else "✗"
        table.add_row(layer.name, shape(layer.shape), f"{layer.num_params:,}",
                      units.size(layer.nbytes), layer.dtype, grad)
    return table


def stats_table(layers: list[LayerInfo], total: int) -> Table:
    table = _table(_subset_title("WEIGHT STATISTICS", len(layers), total),
                   [("Layer", "left"), ("Mean", "right"), ("Std", "right"), ("Min", "right"),
                    ("Max", "right"), ("AbsMax", "right"), ("L2 norm", "right"),
                    ("Zeros", "right"), ("Kurtosis", "right"), ("NaN/Inf", "right")])
    for layer in layers:
        bad = layer.nan_count + layer.inf_count
        table.add_row(layer.name, number(layer.mean), number(layer.std), number(layer.min),
                      number(layer.max), number(layer.absmax), number(layer.l2_norm),
                      "-" if layer.zero_fraction is None else f"{layer.zero_fraction:.2%}",
                      "-" if layer.kurtosis is None else f"{layer.kurtosis:.2f}",
                      Text(f"{layer.nan_count}/{layer.inf_count}", style="bold red" if bad else ""))
    return table


def buffers_table(buffers: list[LayerInfo]) -> Table:
    table = _table("BUFFERS (not parameters)",
                   [("Name", "left"), ("Shape", "left"), ("Elements", "right"), ("Memory", "right"),
                    ("Dtype", "left"), ("Min", "right"), ("Max", "right")])
    for buffer in buffers:
        table.add_row(buffer.name, shape(buffer.shape), f"{buffer.num_params:,}",
                      units.size(buffer.nbytes), buffer.dtype, _value(buffer.min, buffer.dtype),
                      _value(buffer.max, buffer.dtype))
    return table


def _messages(notes: list[str], warnings: list[str]) -> list[Text]:
    return ([Text(f"note: {n}", style="yellow") for n in notes]
            + [Text(f"warning: {w}", style="bold red") for w in warnings])


def info_renderables(info: ModelInfo, top: int | None = None) -> list[RenderableType]:
    layers = largest_layers(info.layers, top)
    parts: list[RenderableType] = [summary_table(info), layer_table(layers, len(info.layers))]
    if info.stats_available:
        parts.append(stats_table([l for l in layers if l.has_stats], len(info.layers)))
    elif info.layers:
        parts.append(Text("WEIGHT STATISTICS: unavailable (no weight values; see the notes)",
                          style="bold cyan"))
    if info.buffers:
        parts.append(buffers_table(info.buffers))
    return parts + _messages(info.notes, info.warnings)


def diff_renderables(diff: CheckpointDiff, top: int | None = 20) -> list[RenderableType]:
    changed = len(diff.tensors) - diff.identical
    summary = _kv("SUMMARY", [
        ("A", diff.a),
        ("B", diff.b),
        ("Compared tensors", f"{len(diff.tensors):,}"),
        ("Identical", f"{diff.identical:,}"),
        ("Changed", f"{changed:,}"),
        ("Overall relative change ‖B−A‖/‖A‖", number(diff.overall_relative_change)),
        ("Only in A (missing from B)", f"{len(diff.missing):,}"),
        ("Only in B (extra)", f"{len(diff.extra):,}"),
        ("Shape mismatches", f"{len(diff.shape_mismatches):,}"),
        ("Dtype mismatches (compared)", f"{len(diff.dtype_mismatches):,}"),
    ])
    shown = diff.tensors[:top] if top else diff.tensors
    title = "DRIFT (largest relative change first)"
    if len(shown) < len(diff.tensors):
        title += f", top {len(shown)} of {len(diff.tensors)}"
    drift = _table(title, [("Tensor", "left"), ("Shape", "left"), ("Rel. change", "right"),
                           ("Cosine", "right"), ("Max |Δ|", "right"), ("Dtype", "left")])
    for t in shown:
        dtype = t.dtype_a if t.dtype_a == t.dtype_b else f"{t.dtype_a} → {t.dtype_b}"
        drift.add_row(t.name, shape(t.shape), number(t.relative_change), number(t.cosine),
                      number(t.max_abs_diff), dtype)
    parts: list[RenderableType] = [summary, drift]
    for title, names in (("ONLY IN A (missing from B)", diff.missing),
                         ("ONLY IN B (extra)", diff.extra),
                         ("SHAPE MISMATCHES (not compared)",
                          [f"{m.name}: {shape(m.shape_a)} → {shape(m.shape_b)}"
                           for m in diff.shape_mismatches])):
        if names:
            lines = [title] + [f"  {n}" for n in names[:LIST_LIMIT]]
            if len(names) > LIST_LIMIT:
                lines.append(f"  … and {len(names) - LIST_LIMIT} more")
            parts.append(Text("\n".join(lines)))
    return parts + _messages([], diff.warnings)


def info_text(info: ModelInfo, top: int | None = None, width: int = TEXT_WIDTH) -> str:
    """The console sections as plain text (for print or a logger)."""
    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    for part in info_renderables(info, top):
        console.print(part)
    return "\n".join(line.rstrip() for line in console.export_text(styles=False).splitlines())
