"""Console view of a porting run (tasks.porting.PortingResult): models, the roll-up op -> models
blocked, every failing configuration."""

from __future__ import annotations

from ..porting import _shapes
from ..text import safe


def render(result, console, top: int = 20) -> None:
    """Console summary: per model, the roll-up, every failing configuration."""
    from rich import box
    from rich.table import Table

    counts = result.counts()
    console.print(f"[bold cyan]{safe(result.backend)}[/] on {safe(result.device)}: "
                  f"{len(result.configs)} unique op configurations across "
                  f"{len(result.models)} models in {result.seconds:.1f} s   "
                  + "  ".join(f"{s}: {n}" for s, n in sorted(counts.items())))
    table = Table(title="Models", title_justify="left", box=box.SIMPLE_HEAD,
                  title_style="bold cyan")
    for column in ("model", "class", "configs", "failing", "blocked by"):
        table.add_column(column, justify="right" if column in ("configs", "failing") else "left")
    for m in result.models:
        table.add_row(safe(m.name), safe(m.model_class), str(m.configs), str(len(m.failing)),
                      safe(", ".join(m.blocked_by)) or "[green]runs[/]")
    console.print(table)
    if result.rollup:
        table = Table(title="Op -> models blocked (most unblocked per fix first)",
                      title_justify="left", box=box.SIMPLE_HEAD, title_style="bold red")
        for column in ("op", "called as", "unblocks", "blocks", "configs", "stages"):
            table.add_column(column, justify="right" if column in ("unblocks", "configs")
                             else "left")
        for b in result.rollup:
            table.add_row(safe(b.op), safe(", ".join(b.torch_ops)), str(len(b.unblocks)),
                          safe(f"{len(b.models_blocked)}: {', '.join(b.models_blocked)}"),
                          str(len(b.failing_configs)),
                          safe(", ".join(f"{s}: {n}" for s, n in b.stages.items())))
        console.print(table)
    failing = [c for c in result.configs if c.status in ("fail", "not runnable alone")]
    if failing:
        limit = top if top > 0 else None
        table = Table(title="Failing configurations", title_justify="left", box=box.SIMPLE_HEAD,
                      title_style="bold red")
        for column in ("id", "op", "inputs", "stage", "error", "models"):
            table.add_column(column, overflow="fold")
        for c in failing[:limit]:
            table.add_row(safe(c.id), safe(c.op), safe(_shapes(c)), safe(c.result.stage),
                          safe(c.result.error), safe(", ".join(c.models)))
        console.print(table)
        if limit is not None and len(failing) > limit:
            console.print(f"  ... {len(failing) - limit} more (--top 0 shows all)")
    else:
        console.print("[green]every configuration that ran passed[/]")
    for note in result.notes:
        console.print(f"[yellow]note:[/] {safe(note)}")
