"""The CSV view of each result: flat rows of plain values (one function per command), written by
`csv_io.to_csv`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..analysis.results import ProfileResult
    from ..hardware import Chip
    from ..tasks.discover import ModelResult
    from ..tasks.llm import LLMReport
    from ..tasks.matrices import MatricesResult
    from ..tasks.model_info import ModelInfo
    from ..tasks.time import TimeResult
    from ..tasks.transformer import TransformerProfile
    from ..tasks.unique import UniqueReport

Row = dict[str, Any]


def module_rows(result: ProfileResult, depth: int) -> list[Row]:
    """The module table to `depth` (as the console shows it); the root row is "(root)", the
    name its children's `parent` holds."""
    return [m.to_dict() for m in result.modules if m.depth <= depth]


def op_rows(result: ProfileResult, chips: list[Chip]) -> list[Row]:
    """`report`: one row per group of identical ops, with its time on every chip."""
    from . import view  # analysis and torch, only for the one command that needs them

    rows = []
    for group in view.op_groups(result, chips[0]):
        row = group.first
        entry = {
            "op": row.name, "module_pattern": group.module_pattern or "(root)",
            "phase": row.phase, "category": row.category, "dtype": row.dtype,
            "count": group.count, "flops_each": row.flops, "flops_all_each": row.flops_all,
            "bytes_read_each": row.bytes_read, "bytes_written_each": row.bytes_written,
            "intensity": row.intensity, "input_shapes": row.input_shapes,
            "output_shapes": row.output_shapes,
        }
        for chip in chips:
            timing = result.timing(row, chip)
            entry[f"time_total_s_{chip.id}"] = timing.time_s * group.count
            entry[f"bound_{chip.id}"] = timing.bound
        rows.append(entry)
    return rows


def unique_op_rows(report: UniqueReport) -> list[Row]:
    """`unique`: one row per unique op."""
    missing = {m.op_name for m in report.missing or []}
    rows = []
    for op in report.ops.ops:
        types = op.tensor_types
        row = {
            "id": op.id, "op_name": op.op_name, "calls": len(op.occurrences),
            "source_module_id": op.source_module_id,
            "source_module_class": op.source_module_class,
            "input_shapes": " ".join(t["shape"] or "scalar" for t in types["inputs"]),
            "input_dtypes": " ".join(t["dtype"] for t in types["inputs"]),
            "output_shape": (types["output"] or {}).get("shape", ""),
            "output_dtype": (types["output"] or {}).get("dtype", ""),
            "attributes": json.dumps(op.attributes, sort_keys=True),
            "aten_ops": " ".join(op.aten_ops),
        }
        if report.missing is not None:
            row["supported"] = op.op_name not in missing
        rows.append(row)
    return rows


def transformer_rows(result: TransformerProfile) -> list[Row]:
    """`transformer`: one row per kind of block, with its median times when timed."""
    parts = {}
    if result.timing:
        timing = result.timing
        parts = {p.name: p for p in timing.blocks + ([timing.whole] if timing.whole else [])}
    rows = []
    for block in result.blocks:
        part = parts.get(block.kind)
        rows.append({**block.to_dict(),
                     "forward_median_s": part.forward.median_s if part else None,
                     "backward_median_s": part.backward.median_s if part and part.backward
                     else None})
    return rows


def discover_row(model: ModelResult) -> Row:
    """`discover`: one model, its lists joined into one cell each."""
    row = model.to_dict()
    row["unsupported_ops"] = " ".join(row["unsupported_ops"])
    row["stages"] = " ".join(f"{s['stage']}={s['params']}/{s['flops']}" for s in row["stages"])
    return row


def matrix_rows(result: MatricesResult) -> list[Row]:
    """`matrices`: one row per matrix, with its model."""
    return [{"model": m.name, **matrix.to_dict()} for m in result.models for matrix in m.matrices]


def tensor_rows(info: ModelInfo) -> list[Row]:
    """`info`: one row per parameter, then per buffer."""
    return [{"kind": "buffer" if t.is_buffer else "parameter", **t.to_dict()}
            for t in info.layers + info.buffers]


def decode_rows(report: LLMReport) -> list[Row]:
    """`llm`: one row per decode context."""
    return [p.to_dict() for p in report.decode]


def chip_rows(chips: list[Chip]) -> list[Row]:
    """`hardware`: one row per chip, dense bf16 and fp32 peaks."""
    return [
        {"id": c.id, "name": c.name, "bf16_flops": c.peak_flops.get("bf16"),
         "fp32_flops": c.peak_flops.get("fp32"), "memory_bandwidth": c.memory_bandwidth,
         "memory_bytes": c.memory_bytes, "aliases": ", ".join(c.aliases), "source": c.source}
        for c in chips
    ]


def time_rows(result: TimeResult) -> list[Row]:
    """`time`: one row per unique op configuration."""
    return [row.to_dict() for row in result.ops]
