"""Console view of a UniqueReport (`unique`): counts, ops by name, modules by occurrence, and the
ops a backend lacks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from ..text import safe
from .columns import Column, right, table

if TYPE_CHECKING:
    from ...tasks.unique import UniqueReport

OPS = (Column("op", 0), right("calls", 1), right("unique", 2))
MODULES = (Column("id", "id", options={"no_wrap": True}),
           Column("class", "class_name", options={"no_wrap": True}),
           right("occurrences", lambda m: len(m.occurrences), no_wrap=True),
           Column("first path", "module_path", options={"overflow": "fold", "min_width": 16}),
           Column("input -> output", lambda m: f"{', '.join(m.input_shapes) or '-'} -> "
                                               f"{', '.join(m.output_shapes) or '-'}",
                  options={"min_width": 14}, drop=1))
MISSING = (Column("op", "op_name"), right("calls", "occurrences"),
           right("unique", lambda e: len(e.op_ids)),
           Column("missing aten ops", "missing_aten_ops", ", ".join),
           Column("used by", lambda e: ", ".join(dict.fromkeys(m["class_name"]
                                                                for m in e.modules))))


def render(report: UniqueReport, console: Console, top: int = 20) -> None:
    """Counts, ops by name, modules by occurrence, ops a backend lacks; `top` rows per table
    (0: all)."""
    meta, ops_meta = report.modules.metadata, report.ops.metadata
    console.print(f"[bold cyan]{safe(meta.model_class)}[/] from {safe(meta.load_fn_location)} "
                  f"(capture: {safe(meta.capture_method)})")
    console.print(f"modules: {meta.total_modules} total, {meta.unique_modules} unique   "
                  f"ops ({safe(ops_meta.level)} level): {ops_meta.total_ops} calls, "
                  f"{ops_meta.unique_ops} unique")
    limit = top if top > 0 else None
    counts = report.ops.counts_by_name()
    columns = OPS
    if report.missing is not None:
        missing = {m.op_name for m in report.missing}
        columns += (Column("supported", lambda c: "[red]no[/]" if c[0] in missing else "yes",
                           markup=True),)
    console.print(table(columns, counts[:limit], "Ops by name"))
    _more(console, len(counts), limit)
    modules = sorted(report.modules.modules, key=lambda m: -len(m.occurrences))
    console.print(table(MODULES, modules[:limit], "Modules by occurrence"))
    _more(console, len(modules), limit)
    if report.missing is None:
        return
    if not report.missing:
        console.print("[green]every unique op is in the supported list[/]")
        return
    console.print(table(MISSING, report.missing, "Missing on this backend",
                        title_style="bold red"))


def _more(console: Console, total: int, limit: int | None) -> None:
    if limit is not None and total > limit:
        console.print(f"  ... {total - limit} more (--top 0 shows all)")
