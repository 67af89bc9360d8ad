"""Tables from declarative column specs, in torchinfo's manner: a table is a list of `Column`s
(header, where the value comes from, how it is shown, how it is justified) and a list of rows,
never a hand-written sequence of add_column / add_row calls.

Every cell and title is shown literally (`report.text`): names from checkpoints, module trees and
file paths can neither apply rich markup nor send terminal escapes. A column whose cells are
meant as markup says so (`markup=True`); a cell may also be a rich Text, which is cleaned."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from rich import box
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from ..text import clean, safe

# The look of every section table: a left-aligned bold cyan title over a light header rule.
SECTION: Mapping[str, Any] = {"title_justify": "left", "title_style": "bold cyan",
                              "box": box.SIMPLE_HEAD}
PLAIN: Mapping[str, Any] = {}  # rich's default look (heavy header box, centred title)


def as_cell(value: Any) -> RenderableType:
    """The default format: a rich renderable (a styled Text) as it is, anything else as str."""
    return value if hasattr(value, "__rich_console__") else str(value)


@dataclass(frozen=True)
class Column:
    """One column: `value` is a row's attribute (a key of a dict row, an index of a tuple row)
    or a function of the row; `format` turns that value into the cell; `options` go to rich's
    add_column (no_wrap, overflow, max_width, style); `markup`: the cells are rich markup
    written by the renderer (never data), so they are not escaped."""

    header: str
    value: str | int | Callable[[Any], Any]
    format: Callable[[Any], RenderableType] = as_cell
    justify: str = "left"
    options: Mapping[str, Any] = field(default_factory=dict)
    markup: bool = False
    drop: int = 0  # 0: always shown; otherwise dropped on a narrow console, highest first

    def cell(self, row: Any) -> RenderableType:
        if callable(self.value):
            shown = self.format(self.value(row))
        elif isinstance(self.value, str) and not isinstance(row, Mapping):
            shown = self.format(getattr(row, self.value))
        else:
            shown = self.format(row[self.value])  # a dict's key, a tuple's index
        return shown if self.markup else literal(shown)


def literal(shown: RenderableType) -> RenderableType:
    """A cell shown as it is: a string with its markup escaped and control characters gone, a
    Text cleaned; other renderables (tables, groups) as they are."""
    if isinstance(shown, str):
        return safe(shown)
    if isinstance(shown, Text) and clean(shown.plain) != shown.plain:
        return Text(clean(shown.plain), style=shown.style, justify=shown.justify)
    return shown


def right(header: str, value: str | int | Callable[[Any], Any],
          format: Callable[[Any], RenderableType] = as_cell, drop: int = 0,
          **options: Any) -> Column:
    """A right-justified column (numbers)."""
    return Column(header, value, format, "right", options, drop=drop)


def _grid(columns: Sequence[Column], cells: Sequence[Sequence[RenderableType]], title: str,
          style: Mapping[str, Any], options: Mapping[str, Any]) -> Table:
    grid = Table(title=safe(title) if title else None, **{**style, **options})
    for column in columns:
        grid.add_column(safe(column.header), justify=column.justify, **column.options)
    for row in cells:
        grid.add_row(*row)
    return grid


def _cut(console: Console, width: int, columns: Sequence[Column], grid: Table) -> bool:
    """Whether rich would cut a cell to lay `grid` out in `width`: a column narrower than its
    min_width, a no_wrap column narrower than its widest cell, or the table wider than `width`."""
    probe = Console(width=width, file=_Sink(), color_system=None, legacy_windows=False,
                    emoji=False)
    inner = width - grid._extra_width  # what rich's Table gives its columns (borders aside)
    widths = grid._calculate_column_widths(probe, probe.options.update(max_width=inner))
    for column, rich_column, used in zip(columns, grid.columns, widths):
        padding = grid._get_padding_width(rich_column._index)
        needed = column.options.get("min_width") or 0
        if column.options.get("overflow") != "fold":  # whole words (no_wrap: whole cells)
            cells = [Text.from_markup(c) if isinstance(c, str) else c
                     for c in [rich_column.header, *rich_column._cells]]
            sizes = [probe.measure(c) for c in cells]
            needed = max(needed, *(m.maximum if column.options.get("no_wrap") else m.minimum
                                   for m in sizes))
        if used - padding < needed:
            return True
    return sum(widths) > inner


class _Sink:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass


class FittedTable:
    """A table that fits the console it is printed on: when rich would cut a cell, the columns
    with the highest `drop` are left out (a caption names them) until nothing is cut; the
    columns that remain fold or wrap as their options say, so names and units stay whole."""

    def __init__(self, columns: Sequence[Column], rows: Iterable[Any], title: str,
                 style: Mapping[str, Any], options: Mapping[str, Any]) -> None:
        self.columns = list(columns)
        self.cells = [[column.cell(row) for column in self.columns] for row in rows]
        self.title, self.style, self.options = title, style, options

    def fit(self, console: Console, width: int) -> Table:
        keep = list(range(len(self.columns)))
        dropped: list[str] = []
        while True:
            columns = [self.columns[i] for i in keep]
            cells = [[row[i] for i in keep] for row in self.cells]
            grid = _grid(columns, cells, self.title, self.style, self.options)
            candidates = [i for i in keep if self.columns[i].drop]
            if not candidates or not _cut(console, width, columns, grid):
                break
            worst = max(candidates, key=lambda i: (self.columns[i].drop, i))
            keep.remove(worst)
            dropped.append(self.columns[worst].header.replace("\n", " "))
        if dropped:
            grid.caption = Text(f"(columns left out to fit {width} columns: "
                                f"{', '.join(dropped)}; widen the terminal or set COLUMNS)",
                                style="dim")
            grid.caption_justify = "left"
        return grid

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.fit(console, options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.fit(console, options.max_width))

    # what callers of the former plain Table use
    @property
    def row_count(self) -> int:
        return len(self.cells)


def table(columns: Sequence[Column], rows: Iterable[Any], title: str = "",
          style: Mapping[str, Any] = SECTION, **options: Any) -> Table | FittedTable:
    """A rich Table of `rows` under `columns`; `style` and `options` go to rich's Table. With
    droppable columns (`drop`), a FittedTable that leaves them out where the console is narrow."""
    if any(column.drop for column in columns):
        return FittedTable(columns, rows, title, style, options)
    return _grid(columns, [[column.cell(row) for column in columns] for row in rows], title,
                 style, options)


KEY_VALUE = (Column("key", 0, options={"style": "bold"}), right("value", 1))


def kv_table(title: str, pairs: Iterable[tuple[str, RenderableType]], *,
             columns: Sequence[Column] = KEY_VALUE, pad_edge: bool = False) -> Table:
    """A section of (key, value) lines: bold keys, right-aligned values, no header."""
    return table(columns, pairs, title, show_header=False, pad_edge=pad_edge)
