"""CSV views of result tables."""

from __future__ import annotations

import csv
import io
from typing import Any, Iterable


def to_csv(rows: Iterable[dict[str, Any]]) -> str:
    rows = list(rows)
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return "x".join(map(str, value)) if all(isinstance(v, int) for v in value) else str(value)
    return "" if value is None else value
