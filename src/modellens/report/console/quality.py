"""Console views of WeightQuality: ESD metrics, quantization preview, outliers, GGUF tables."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich import box
from rich.console import RenderableType
from rich.table import Table

from ... import units
from ..text import styled

if TYPE_CHECKING:  # renderers read results; they import no task
    from ...tasks.weight_quality import WeightQuality


def _table(title: str, columns: list[tuple[str, str]], fold: int = 0) -> Table:
    """Column `fold` (a name) folds on a narrow terminal; numbers are never cut."""
    table = Table(title=title, title_justify="left", title_style="bold cyan", box=box.SIMPLE_HEAD,
                  pad_edge=False)
    for i, (name, justify) in enumerate(columns):
        table.add_column(name, justify=justify, no_wrap=i != fold, overflow="fold")
    return table


def _f(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


def esd_table(quality: WeightQuality, top: int | None) -> Table:
    rows = quality.esd if not top else quality.esd[:top]
    table = _table("SPECTRAL METRICS (ESD of WᵀW; alpha < 2 over-trained, > 6 under-trained)",
                   [("Matrix", "left"), ("N×M", "left"), ("Alpha", "right"),
                    ("Alpha-w", "right"), ("log λmax", "right"), ("Stable rank", "right"),
                    ("Tail", "right"), ("SVD", "left"), ("Warning", "left")])
    for s in rows:
        table.add_row(s.name, f"{s.matrix[0]}×{s.matrix[1]}", _f(s.alpha), _f(s.alpha_weighted),
                      _f(s.log_spectral_norm), _f(s.stable_rank, 1),
                      f"{s.num_tail}/{s.total_evals}", s.method,
                      styled(s.warning or "", "bold red" if s.warning else ""))
    return table


def quant_tables(quality: WeightQuality, top: int | None) -> list[RenderableType]:
    totals = _table("QUANTIZATION PREVIEW (round to nearest; sizes with fp16 scales)",
                    [("Format", "left"), ("Tensors", "right"), ("Before", "right"),
                     ("After", "right"), ("Saved", "right"), ("Median SQNR", "right"),
                     ("Suffers most", "left")], fold=6)
    for row in quality.format_totals():
        totals.add_row(row["format"], f"{row['tensors']:,}", units.size(row["original_bytes"]),
                       units.size(row["quantized_bytes"]), units.size(row["bytes_saved"]),
                       f"{_f(row['median_sqnr_db'], 1)} dB", ", ".join(row["worst"][:3]))
    per = _table("ROUND-TRIP ERROR PER TENSOR (rel. Frobenius error / SQNR dB)",
                 [("Tensor", "left")] + [(fmt, "right") for fmt in quality.formats])
    by_name: dict[str, dict[str, tuple[float, float]]] = {}
    for q in quality.quant:
        by_name.setdefault(q.name, {})[q.format] = (q.relative_error, q.sqnr_db)
    first = quality.formats[0]
    names = sorted(by_name, key=lambda n: -by_name[n][first][0])
    for name in names[:top] if top else names:
        per.add_row(name, *(f"{by_name[name][f][0]:.4f} / {_f(by_name[name][f][1], 1)}"
                            for f in quality.formats))
    parts: list[RenderableType] = [totals, per]
    flagged = sorted((o for o in quality.outliers if o.outlier_count),
                     key=lambda o: -o.max_ratio)
    if flagged:
        out = _table("OUTLIER CHANNELS (input channels with absmax > 6σ: keep apart for int8)",
                     [("Tensor", "left"), ("Channels", "right"), ("Outliers", "right"),
                      ("Max absmax/σ", "right"), ("Median", "right"), ("Largest", "left")])
        for o in flagged[:top] if top else flagged:
            out.add_row(o.name, f"{o.channels:,}", f"{o.outlier_count:,}", _f(o.max_ratio, 1),
                        _f(o.median_ratio, 1), ", ".join(map(str, o.outlier_channels[:6])))
        parts.append(out)
    return parts


def gguf_tables(quality: WeightQuality) -> list[RenderableType]:
    assert quality.gguf is not None
    meta = _table("GGUF METADATA", [("Key", "left"), ("Value", "left")])
    for key, value in quality.gguf["metadata"].items():
        text = str(value)
        meta.add_row(key, text if len(text) <= 80 else text[:77] + "...")
    types = _table("GGUF TENSOR TYPES", [("Type", "left"), ("Tensors", "right"),
                                         ("Elements", "right"), ("Size", "right"),
                                         ("Bits/weight", "right")])
    for row in quality.gguf["types"]:
        types.add_row(row["type"], f"{row['tensors']:,}", f"{row['elements']:,}",
                      units.size(row["bytes"]), _f(row["bits_per_weight"]))
    return [meta, types]


def quality_renderables(quality: WeightQuality, top: int | None = None) -> list[RenderableType]:
    parts: list[RenderableType] = []
    if quality.gguf is not None:
        parts += gguf_tables(quality)
    if quality.esd:
        parts.append(esd_table(quality, top))
    if quality.formats and quality.quant:
        parts += quant_tables(quality, top)
    return parts + [styled(f"note: {n}", "yellow") for n in quality.notes]
