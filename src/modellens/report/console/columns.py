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
from rich.console import RenderableType
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
          format: Callable[[Any], RenderableType] = as_cell, **options: Any) -> Column:
    """A right-justified column (numbers)."""
    return Column(header, value, format, "right", options)


def table(columns: Sequence[Column], rows: Iterable[Any], title: str = "",
          style: Mapping[str, Any] = SECTION, **options: Any) -> Table:
    """A rich Table of `rows` under `columns`; `style` and `options` go to rich's Table."""
    grid = Table(title=safe(title) if title else None, **{**style, **options})
    for column in columns:
        grid.add_column(safe(column.header), justify=column.justify, **column.options)
    for row in rows:
        grid.add_row(*(column.cell(row) for column in columns))
    return grid


KEY_VALUE = (Column("key", 0, options={"style": "bold"}), right("value", 1))


def kv_table(title: str, pairs: Iterable[tuple[str, RenderableType]], *,
             columns: Sequence[Column] = KEY_VALUE, pad_edge: bool = False) -> Table:
    """A section of (key, value) lines: bold keys, right-aligned values, no header."""
    return table(columns, pairs, title, show_header=False, pad_edge=pad_edge)
