"""Markdown view of a discovery sweep (docs/coverage.md): a summary per library, then every model
of each library (and the per-stage table of staged models)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..units import percent
from .text import clean

if TYPE_CHECKING:
    from ..tasks.discover import DiscoveryResult, LibrarySummary

SUMMARY_HEADER = ("library", "tried", "ok", "built", "ok of built", "runnable", "ok of runnable",
                  "fake", "real", "failed at build", "failed at capture", "fail on real too",
                  "timeout")
MODELS_HEADER = ("| model | status | method | params | GFLOPs fwd | seconds | note |\n"
                 "|---|---|---|---:|---:|---:|---|")


def summary_cells(s: LibrarySummary) -> list[str]:
    """One summary row as text, in SUMMARY_HEADER order (for the markdown and console tables)."""
    return [s.library, str(s.tried), str(s.ok), str(s.built), percent(s.ok, s.built),
            str(s.runnable), percent(s.ok, s.runnable), str(s.by_method.get("fake", 0)),
            str(s.by_method.get("real", 0)), str(s.failed_at_build), str(s.failed_at_capture),
            str(s.fail_on_real), str(s.timeouts)]


def _gflops(value: int | None) -> str:
    return "-" if value is None else f"{value / 1e9:,.2f}"


def _params(value: int | None) -> str:
    return "-" if value is None else f"{value / 1e6:,.2f} M"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def render_markdown(result: DiscoveryResult) -> str:
    """The coverage page: a summary per library, then one table of every model per library
    (and the YOLO per-stage table)."""
    lines = [_row(list(SUMMARY_HEADER)), "|---|" + "---:|" * (len(SUMMARY_HEADER) - 1)]
    lines += [_row(summary_cells(s)) for s in result.summaries()]
    for library in result.libraries():
        rows = [r for r in result.results if r.library == library]
        lines += ["", f"## {library}", "", MODELS_HEADER]
        for r in rows:
            note = r.reason or (f"no FLOP formula: {', '.join(r.unsupported_ops)}"
                                if r.unsupported_ops else "")
            lines.append(_row([_code(r.spec), r.status, r.method or "-", _params(r.params),
                               _gflops(r.flops), f"{r.seconds:.1f}", _cell(note)]))
        staged = [r for r in rows if r.stages]
        if staged:
            lines += ["", f"### {library} by stage (params / forward GFLOPs)", ""]
            lines += _stage_lines(staged)
    return "\n".join(lines) + "\n"


def _stage_lines(staged: list) -> list[str]:
    names = list(dict.fromkeys(s.stage for r in staged for s in r.stages))
    lines = [_row(["model", *names]), "|---|" + "---:|" * len(names)]
    for r in staged:
        cells = {s.stage: f"{_params(s.params)} / {_gflops(s.flops)}" for s in r.stages}
        lines.append(_row([_code(r.spec), *(cells.get(n, "-") for n in names)]))
    return lines


def _cell(text: str) -> str:
    return clean(text).replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return f"`{_cell(text).replace('`', '')}`"


def _md(text: str) -> str:
    return _cell(str(text))


def _table(header: list[str], rows: list[list[str]], numbers: range | set[int]) -> list[str]:
    """A GitHub table; the columns in `numbers` right-aligned."""
    align = ["---:" if i in numbers else "---" for i in range(len(header))]
    return ([_row([_md(h) for h in header]), "|" + "|".join(align) + "|"]
            + [_row([_md(c) for c in row]) for row in rows])


def profile_markdown(result, depth: int = 2, top: int = 10, unit: str = "flops") -> str:
    """A ProfileResult as GitHub markdown: summary, modules to `depth`, top ops by FLOPs."""
    from .. import units
    from ..costing.cost import FLOPS_PER_MAC

    divisor, name = (FLOPS_PER_MAC, "MACs") if unit == "macs" else (1, "FLOPs")
    flops, memory = result.flops, result.memory
    summary = [
        ["Model", f"`{result.model}` ({result.model_class})"],
        ["Input", result.input_description],
        ["Capture method", result.capture_method],
        ["Params", units.exact(result.params.total)],
        [f"Forward {name} (matmul-class)", units.exact(flops.forward // divisor, name)],
        [f"Forward {name} (all ops)", units.exact(flops.forward_all // divisor, name)],
    ]
    if flops.backward is not None:
        summary.append([f"Backward {name} (matmul-class)",
                        units.exact(flops.backward // divisor, name)])
    summary += [
        ["Weights", units.size(memory.weights_bytes)],
        ["Peak live activations", units.size(memory.peak_activations_bytes)],
    ]
    if memory.training is not None:
        summary.append([f"Training peak ({memory.training.optimizer})",
                        units.size(memory.training.peak_bytes)])
    summary += [
        [f"Predicted time ({result.hardware.name})",
         units.duration(result.bottleneck.predicted_time_s)],
        ["Arithmetic intensity", f"{result.bottleneck.arithmetic_intensity:.1f} FLOPs/byte"],
    ]
    lines = [f"## {_md(result.model)}", "", *_table(["", "value"], summary, {1}), ""]
    lines += [f"### Modules (depth ≤ {depth}; inclusive)", ""]
    lines += _table(["Module", "Class", "Params", name, "Bytes"],
                    [["&nbsp;" * 2 * m.depth + f"`{m.path.rsplit('.', 1)[-1] or '(root)'}`",
                      m.class_name, units.count(m.params), units.count(m.flops // divisor),
                      units.size(m.bytes)]
                     for m in result.modules if m.depth <= depth], range(2, 5))
    if top:
        lines += ["", f"### Top {top} ops by FLOPs (forward; repeated layers grouped)", ""]
        lines += _table(["Op", "Module", "×", "FLOPs", "Bytes", "Bound"],
                        [[f"`{g.first.name}`", f"`{g.module_pattern or '(root)'}`", str(g.count),
                          units.count(g.flops), units.size(g.bytes), g.first.bound]
                         for g in result.top_ops("flops", top)], range(2, 5))
    return "\n".join(lines) + "\n"
