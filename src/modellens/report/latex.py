"""LaTeX view of a `sections.Document` (`--format latex`): one booktabs table per section
(`\\toprule`, `\\midrule`, `\\bottomrule`; needs `\\usepackage{booktabs}`), every cell escaped and
ASCII only, so the file compiles under pdflatex as well as lualatex."""

from __future__ import annotations

import unicodedata

from .sections import Cell, Code, Document, Section
from .text import clean

# LaTeX's special characters, then the non-ASCII characters modellens' units and titles use.
_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
            "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
            "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
            "|": r"\textbar{}"}
_SYMBOLS = {"µ": r"$\mu$", "μ": r"$\mu$", "×": r"$\times$", "≤": r"$\leq$", "≥": r"$\geq$",
            "²": r"$^{2}$", "³": r"$^{3}$", "·": r"$\cdot$", "≈": r"$\approx$", "…": r"\dots{}",
            "–": "--", "—": "---", "→": r"$\rightarrow$", "\u00a0": "~"}


def escape(text: str) -> str:
    """`text` as LaTeX source: specials escaped, known symbols as math, other non-ASCII
    letters by their ASCII base (é -> e), anything else as '?'."""
    out = []
    for char in clean(str(text)):
        if char in _SPECIAL:
            out.append(_SPECIAL[char])
        elif char in _SYMBOLS:
            out.append(_SYMBOLS[char])
        elif char.isascii():
            out.append(char)
        else:
            base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            out.append(escape(base) if base else "?")
    return "".join(out)


def _cell(cell: Cell) -> str:
    if isinstance(cell, Code):
        indent = rf"\hspace{{{cell.indent}em}}" if cell.indent else ""
        return indent + r"\texttt{" + escape(cell.text) + "}"
    return escape(cell)


def section_latex(section: Section, caption: str = "") -> list[str]:
    """One table environment: a caption (the section's title, after `caption`) and a tabular
    with the numeric columns right-aligned."""
    spec = "".join("r" if i in section.numbers else "l" for i in range(len(section.header)))
    title = ": ".join(part for part in (caption, section.title) if part)
    lines = [r"\begin{table}[htbp]", r"\centering"]
    if title:
        lines.append(r"\caption{" + escape(title) + "}")
    lines += [r"\begin{tabular}{" + spec + "}", r"\toprule",
              " & ".join(_cell(h) for h in section.header) + r" \\", r"\midrule"]
    lines += [" & ".join(_cell(c) for c in row) + r" \\" for row in section.rows]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return lines


def document_latex(document: Document) -> str:
    """Every section as a booktabs table (captions carry the document's title), then the
    footnote as a comment-free paragraph."""
    lines = [r"% modellens output; needs \usepackage{booktabs}"]
    for section in document.sections:
        lines += ["", *section_latex(section, document.title)]
    for note in [*document.notes, document.footnote]:
        if note:
            lines += ["", escape(note)]
    return "\n".join(lines) + "\n"
