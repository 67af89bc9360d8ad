"""Markdown view of a discovery sweep (docs/coverage.md): a summary per library, then every model
of each library (and the per-stage table of staged models)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..units import percent
from .sections import Cell, Code, Document, Section, profile_document
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


def _md_cell(cell: Cell) -> str:
    if isinstance(cell, Code):
        return "&nbsp;" * 2 * cell.indent + _code(cell.text)
    return _md(cell)


def _table(section: Section) -> list[str]:
    """A GitHub table; the section's numeric columns right-aligned."""
    align = ["---:" if i in section.numbers else "---" for i in range(len(section.header))]
    return ([_row([_md_cell(h) for h in section.header]), "|" + "|".join(align) + "|"]
            + [_row([_md_cell(c) for c in row]) for row in section.rows])


def document_markdown(document: Document) -> str:
    """A Document as GitHub markdown: `## title`, then each section under `### its title`."""
    lines = [f"## {_md(document.title)}", ""] if document.title else []
    for section in document.sections:
        if section.title:
            lines += [f"### {_md(section.title)}", ""]
        lines += [*_table(section), ""]
    lines += [_md(note) for note in document.notes]
    if document.footnote:
        lines.append(_md(document.footnote))
    return "\n".join(lines).rstrip("\n") + "\n"


def profile_markdown(result, depth: int = 2, top: int = 10, unit: str = "flops") -> str:
    """A ProfileResult as GitHub markdown: summary, modules to `depth`, top ops by FLOPs."""
    return document_markdown(profile_document(result, depth, top, unit))
