"""Console views of ModelInfo (SUMMARY, LAYER DETAILS, WEIGHT STATISTICS, BUFFERS) and of
CheckpointDiff (`info`, `diff`); the same tables serve the plain text `dump_model_info` prints."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, Callable

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from ... import units
from ..text import styled
from .columns import Column, kv_table, table

if TYPE_CHECKING:
    from ...tasks.model_info import CheckpointDiff, LayerInfo, ModelInfo

TEXT_WIDTH = 1000  # plain text: every table at its natural width, trailing blanks stripped
LIST_LIMIT = 20  # names shown per list of missing / extra / mismatched tensors


def _column(header: str, value: str | Callable[[Any], Any], format: Callable = str,
            justify: str = "left", drop: int = 0) -> Column:
    """On a narrow terminal the name column folds and the columns with a `drop` are left out,
    highest first, so numbers are never cut."""
    return Column(header, value, format, justify, {"no_wrap": True}, drop=drop)


def _name(header: str) -> Column:
    return Column(header, "name", options={"overflow": "fold", "min_width": 20})


def _fixed(value: float | None, dtype: str) -> str:
    """A statistic of an integer or bool tensor prints as an integer."""
    if value is not None and not dtype.startswith(("float", "bfloat")):
        return f"{value:,.0f}"
    return units.number(value)


def _thousands(value: int) -> str:
    return f"{value:,}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _kurtosis(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _bad_values(layer: LayerInfo) -> Text:
    bad = layer.nan_count + layer.inf_count
    return Text(f"{layer.nan_count}/{layer.inf_count}", style="bold red" if bad else "")


_KEY_VALUE = (Column("key", 0, options={"no_wrap": True}),
              Column("value", 1, justify="right", options={"overflow": "fold"}))
LAYERS = (_name("Layer Name"), _column("Shape", "shape", units.shape),
          _column("Params", "num_params", _thousands, "right"),
          _column("Memory", "nbytes", units.size, "right"), _column("Dtype", "dtype"),
          _column("Grad", lambda l: "✓" if l.requires_grad else "✗", justify="center"))
STATS = (_name("Layer"), *(_column(header, key, units.number, "right", drop) for header, key, drop in (
             ("Mean", "mean", 0), ("Std", "std", 0), ("Min", "min", 2), ("Max", "max", 1),
             ("AbsMax", "absmax", 6), ("L2 norm", "l2_norm", 7))),
         _column("Zeros", "zero_fraction", _percent, "right", 4),
         _column("Kurtosis", "kurtosis", _kurtosis, "right", 5),
         _column("NaN/Inf", lambda l: l, _bad_values, "right", 3))
BUFFERS = (_name("Name"), _column("Shape", "shape", units.shape),
           _column("Elements", "num_params", _thousands, "right"),
           _column("Memory", "nbytes", units.size, "right"), _column("Dtype", "dtype"),
           _column("Min", lambda b: _fixed(b.min, b.dtype), justify="right"),
           _column("Max", lambda b: _fixed(b.max, b.dtype), justify="right"))
DRIFT = (_name("Tensor"), _column("Shape", "shape", units.shape),
         _column("Rel. change", "relative_change", units.number, "right"),
         _column("Cosine", "cosine", units.number, "right"),
         _column("Max |Δ|", "max_abs_diff", units.number, "right"),
         _column("Dtype", lambda t: t.dtype_a if t.dtype_a == t.dtype_b
                 else f"{t.dtype_a} → {t.dtype_b}"))


def _section(columns: tuple[Column, ...], rows: list, title: str) -> Table:
    return table(columns, rows, title, pad_edge=False)


def _kv(title: str, rows: list[tuple[str, str]]) -> Table:
    return kv_table(title, rows, columns=_KEY_VALUE)


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
    return _section(LAYERS, layers, _subset_title("LAYER DETAILS", len(layers), total))


def stats_table(layers: list[LayerInfo], total: int) -> Table:
    return _section(STATS, layers, _subset_title("WEIGHT STATISTICS", len(layers), total))


def buffers_table(buffers: list[LayerInfo]) -> Table:
    return _section(BUFFERS, buffers, "BUFFERS (not parameters)")


def _messages(notes: list[str], warnings: list[str]) -> list[Text]:
    return ([styled(f"note: {n}", "yellow") for n in notes]
            + [styled(f"warning: {w}", "bold red") for w in warnings])


def info_renderables(info: ModelInfo, top: int | None = None) -> list[RenderableType]:
    layers = info.largest_layers(top)
    parts: list[RenderableType] = [summary_table(info), layer_table(layers, len(info.layers))]
    if info.stats_available:
        parts.append(stats_table([l for l in layers if l.has_stats], len(info.layers)))
    elif info.layers:
        parts.append(Text("WEIGHT STATISTICS: unavailable (no weight values; see the notes)",
                          style="bold cyan"))
    if info.buffers:
        parts.append(buffers_table(info.buffers))
    return parts + _messages(info.notes, info.warnings)


def _name_lists(diff: CheckpointDiff) -> list[Text]:
    """The keys in one side only and the shape mismatches, LIST_LIMIT names each."""
    parts = []
    for title, names in (("ONLY IN A (missing from B)", diff.missing),
                         ("ONLY IN B (extra)", diff.extra),
                         ("SHAPE MISMATCHES (not compared)",
                          [f"{m.name}: {units.shape(m.shape_a)} → {units.shape(m.shape_b)}"
                           for m in diff.shape_mismatches])):
        if names:
            lines = [title] + [f"  {n}" for n in names[:LIST_LIMIT]]
            if len(names) > LIST_LIMIT:
                lines.append(f"  … and {len(names) - LIST_LIMIT} more")
            parts.append(styled("\n".join(lines)))
    return parts


def diff_renderables(diff: CheckpointDiff, top: int | None = 20) -> list[RenderableType]:
    changed = len(diff.tensors) - diff.identical
    summary = _kv("SUMMARY", [
        ("A", diff.a),
        ("B", diff.b),
        ("Compared tensors", f"{len(diff.tensors):,}"),
        ("Identical", f"{diff.identical:,}"),
        ("Changed", f"{changed:,}"),
        ("Overall relative change ‖B−A‖/‖A‖", units.number(diff.overall_relative_change)),
        ("Only in A (missing from B)", f"{len(diff.missing):,}"),
        ("Only in B (extra)", f"{len(diff.extra):,}"),
        ("Shape mismatches", f"{len(diff.shape_mismatches):,}"),
        ("Dtype mismatches (compared)", f"{len(diff.dtype_mismatches):,}"),
    ])
    shown = diff.tensors[:top] if top else diff.tensors
    title = "DRIFT (largest relative change first)"
    if len(shown) < len(diff.tensors):
        title += f", top {len(shown)} of {len(diff.tensors)}"
    parts: list[RenderableType] = [summary, _section(DRIFT, shown, title), *_name_lists(diff)]
    return parts + _messages([], diff.warnings)


def info_text(info: ModelInfo, top: int | None = None, width: int = TEXT_WIDTH) -> str:
    """The console sections as plain text (for print or a logger)."""
    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    for part in info_renderables(info, top):
        console.print(part)
    return "\n".join(line.rstrip() for line in console.export_text(styles=False).splitlines())
