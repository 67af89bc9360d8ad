"""Text from untrusted places (checkpoint tensor names, module trees, file paths, op names,
error messages) made safe for each renderer: no terminal escape can run, no rich markup can
apply, no spreadsheet formula can start, no matplotlib mathtext can parse.

- `clean`: removes ANSI CSI/OSC sequences (colours, cursor moves, OSC-8 hyperlinks, window
  titles) whole, then every remaining control character (C0 but newline, DEL, C1) and the
  Unicode bidirectional overrides that reorder what a terminal shows; a tab becomes a space; the
  undecodable bytes of a non-UTF-8 file name (surrogate escapes) are shown as `\xff`.
- `safe`: `clean`, then rich markup escaped — for any string rich will parse as markup.
- `styled`: a rich Text (never parsed as markup) of cleaned text.
- `csv_cell`: OWASP's CSV-injection rule for a string cell (a leading =, +, -, @, tab or CR
  gets a leading quote); numbers are left as numbers.
- `for_plot`: `clean`, and `$` escaped so matplotlib shows it instead of starting mathtext.
"""

from __future__ import annotations

import re
from typing import Any

from rich.markup import escape
from rich.text import Text

# ESC [ ... final byte (CSI), ESC ] ... BEL or ESC \ (OSC: hyperlinks, titles), ESC P/X/^/_ ...
# ST (DCS, SOS, PM, APC), the 8-bit CSI/OSC forms, and any other two-byte ESC sequence.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|$)"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|\x1b[@-Z\\-~]?",
    re.DOTALL,
)
# C0 controls but newline, DEL, C1 controls, bidi embeddings/overrides/isolates, marks
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SURROGATES = re.compile("[\ud800-\udfff]")
# OWASP: cells starting with these are read as formulas by spreadsheets
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")


def clean(text: Any) -> str:
    """`text` as a string with no terminal escape sequence or control character left."""
    text = str(text)
    if text.isprintable():  # the common case: nothing to do
        return text
    if _SURROGATES.search(text):
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raw = text.encode("utf-8", "backslashreplace")
        text = raw.decode("utf-8", "backslashreplace")
    text = _ESCAPES.sub("", text).replace("\t", " ")
    return _CONTROLS.sub("", text)


def safe(text: Any) -> str:
    """`text` cleaned and with rich markup escaped: shown literally by console.print."""
    return escape(clean(text))


def styled(text: Any, style: str = "") -> Text:
    """A rich Text of `text`, cleaned (a Text is never parsed as markup)."""
    return Text(clean(text), style=style)


def csv_cell(value: Any) -> Any:
    """A CSV cell that no spreadsheet runs: a string starting with =, +, -, @, tab or CR gets a
    leading single quote (OWASP); control characters go. Numbers stay numbers: int and float
    values, and strings that are only a number ('-1.5e3') or a lone sign ('-' for none)."""
    if not isinstance(value, str):
        return value
    if value.startswith(CSV_FORMULA_STARTS) and len(value) > 1 and not _NUMBER.match(value):
        return "'" + clean(value)
    return clean(value)


def for_plot(text: Any) -> str:
    """`text` for a matplotlib label or title: cleaned, `$` shown as a dollar sign."""
    return clean(text).replace("$", r"\$")
