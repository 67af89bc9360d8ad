"""File views of a porting run (tasks.porting.PortingResult): the roll-up as markdown and CSV
rows, one CSV row per configuration (the console view is report/console/porting.py)."""

from __future__ import annotations

from typing import Any

from .csv_io import to_csv
from .text import clean


def _shapes(config) -> str:
    return ", ".join(f"{'x'.join(map(str, i['shape'])) or 'scalar'}:{i['dtype']}"
                     for i in config.inputs)


def _error(result) -> str:
    return result.error if result is not None else ""


def config_rows(result) -> list[dict[str, Any]]:
    """One row per unique configuration."""
    rows = []
    for c in result.configs:
        r = c.result
        rows.append({
            "id": c.id, "op": c.op, "torch_ops": " ".join(c.torch_ops),
            "inputs": _shapes(c), "status": c.status, "stage": r.stage if r else "",
            "error": _error(r), "max_abs": r.max_abs if r else None,
            "max_rel": r.max_rel if r else None, "reference": r.reference if r else "",
            "calls": c.calls, "models": " ".join(c.models),
            "modules": " ".join(f"{m}:{p}" for m, ps in c.models.items() for p in ps[:3]),
            "test_file": c.test_file or "",
        })
    return rows


def rollup_rows(result) -> list[dict[str, Any]]:
    """The roll-up: one row per blocking aten op, most models unblocked per fix first."""
    return [{"op": b.op, "torch_ops": " ".join(b.torch_ops),
             "models_unblocked": len(b.unblocks), "models_blocked": len(b.models_blocked),
             "failing_configs": len(b.failing_configs), "blocked": " ".join(b.models_blocked),
             "unblocks": " ".join(b.unblocks),
             "stages": " ".join(f"{s}:{n}" for s, n in b.stages.items()),
             "configs": " ".join(b.failing_configs), "error": b.error}
            for b in result.rollup]


def _cell(text: Any) -> str:
    return clean(text).replace("|", "\\|").replace("\n", " ")


def rollup_markdown(result) -> str:
    """Markdown: models, the roll-up (op -> models blocked), failing configurations."""
    counts = result.counts()
    lines = [f"# Porting report: {result.backend} on {result.device}", "",
             f"{len(result.configs)} unique op configurations across {len(result.models)} "
             f"models: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + ".", "",
             "| model | class | configs | failing | blocked by |", "|---|---|---:|---:|---|"]
    for m in result.models:
        lines.append(f"| {_cell(m.name)} | {_cell(m.model_class)} | {m.configs} | "
                     f"{len(m.failing)} | {_cell(', '.join(m.blocked_by) or '-')} |")
    lines += ["", "## Op -> models blocked (most models unblocked per fix first)", ""]
    if not result.rollup:
        lines.append("Nothing blocks any model.")
    else:
        lines += ["| op | called as | unblocks | blocks | failing configs | stages | error |",
                  "|---|---|---:|---|---:|---|---|"]
        for b in result.rollup:
            lines.append(
                f"| {_cell(b.op)} | {_cell(', '.join(b.torch_ops))} | "
                f"{len(b.unblocks)} ({_cell(', '.join(b.unblocks) or '-')}) | "
                f"{len(b.models_blocked)} ({_cell(', '.join(b.models_blocked))}) | "
                f"{len(b.failing_configs)} | "
                f"{_cell(', '.join(f'{s}: {n}' for s, n in b.stages.items()))} | "
                f"{_cell(b.error)} |")
    failing = [c for c in result.configs if c.status in ("fail", "not runnable alone")]
    if failing:
        lines += ["", "## Failing configurations", "",
                  "| id | op | inputs | stage | error | models |", "|---|---|---|---|---|---|"]
        for c in failing:
            lines.append(f"| {c.id} | {_cell(c.op)} | {_cell(_shapes(c))} | {c.result.stage} | "
                         f"{_cell(c.result.error)} | {_cell(', '.join(c.models))} |")
    for note in result.notes:
        lines += ["", f"> {note}"]
    return "\n".join(lines) + "\n"


def rollup_text(result, path: str) -> str:
    """The roll-up for a file: markdown for .md, CSV otherwise."""
    return rollup_markdown(result) if path.endswith((".md", ".markdown")) else to_csv(
        rollup_rows(result))


def render_porting_html(result) -> str:
    """The porting run as a page of the HTML report: the roll-up (op -> models blocked), the
    models, and one row per configuration with its stage, status and error."""
    from .html import page

    title = f"porting to {result.backend} ({', '.join(m.name for m in result.models)})"
    return page(title, {"kind": "porting", "porting": result.to_dict()})
