"""CSV views of result tables. Every string cell and header passes `text.csv_cell` (no cell a
spreadsheet would run as a formula; no control characters); numbers stay numbers."""

from __future__ import annotations

import csv
import io
from typing import Any, Iterable

from .text import csv_cell


def to_csv(rows: Iterable[dict[str, Any]]) -> str:
    rows = list(rows)
    if not rows:
        return ""
    buffer = io.StringIO()
    fields = list(rows[0])
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore",
                            lineterminator="\n")
    writer.writerow({k: csv_cell(str(k)) for k in fields})
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        value = "x".join(map(str, value)) if all(isinstance(v, int) for v in value) else str(value)
    return "" if value is None else csv_cell(value)
