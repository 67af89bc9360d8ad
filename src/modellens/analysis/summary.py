"""The few-line summary of a ProfileResult that `print(result)` and Jupyter show (torchinfo's
manner), and its rows as pandas DataFrames. Plain text and a small HTML table built from the
result's numbers with the one humanizer; the full renderers live in `report/`."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from .. import units

if TYPE_CHECKING:
    from .results import ProfileResult

SUMMARY_DEPTH = 1  # modules shown in the summary: the root's children


def summary_pairs(result: ProfileResult) -> list[tuple[str, str]]:
    """(label, value) lines of the summary."""
    flops, memory = result.flops, result.memory
    pairs = [
        ("Model", f"{result.model} ({result.model_class})"),
        ("Input", result.input_description),
        ("Capture", result.capture_method),
        ("Params", f"{units.exact(result.params.total)} "
                   f"(trainable {units.count(result.params.trainable)})"),
        ("Forward FLOPs", f"{units.count(flops.forward, 'FLOPs')} matmul-class, "
                          f"{units.count(flops.forward_all, 'FLOPs')} all ops "
                          f"(1 MAC = 2 FLOPs)"),
    ]
    if flops.backward is not None:
        pairs.append(("Backward FLOPs", units.count(flops.backward, "FLOPs")))
    pairs += [
        ("Weights", units.size(memory.weights_bytes)),
        ("Peak activations", units.size(memory.peak_activations_bytes)),
        (f"Time on {result.hardware.id}",
         f"{units.duration(result.bottleneck.predicted_time_s)} predicted, "
         f"{result.bottleneck.arithmetic_intensity:.1f} FLOPs/byte"),
    ]
    if result.unsupported:
        pairs.append(("No FLOP convention", ", ".join(u.name for u in result.unsupported[:5])))
    return pairs


def _top_modules(result: ProfileResult) -> list:
    return [m for m in result.modules if m.depth == SUMMARY_DEPTH]


def summary_text(result: ProfileResult) -> str:
    pairs = summary_pairs(result)
    width = max(len(label) for label, _ in pairs)
    lines = [f"{label:<{width}}  {value}" for label, value in pairs]
    modules = _top_modules(result)
    if modules:
        name_width = max(len(m.path) for m in modules)
        lines.append("")
        lines.append(f"{'Module':<{name_width}}  {'Class':<18} {'Params':>10} {'FLOPs':>10}")
        for m in modules:
            lines.append(f"{m.path:<{name_width}}  {m.class_name[:18]:<18} "
                         f"{units.count(m.params):>10} {units.count(m.flops):>10}")
    lines.append("(result.by_module(), .by_operator(), .to_pandas() for more)")
    return "\n".join(lines)


def summary_html(result: ProfileResult) -> str:
    esc = html.escape
    cards = "".join(f"<tr><th style='text-align:left'>{esc(label)}</th>"
                    f"<td style='text-align:left'>{esc(value)}</td></tr>"
                    for label, value in summary_pairs(result))
    rows = "".join(f"<tr><td style='text-align:left'>{esc(m.path)}</td><td>{esc(m.class_name)}"
                   f"</td><td>{esc(units.count(m.params))}</td>"
                   f"<td>{esc(units.count(m.flops))}</td>"
                   f"<td>{esc(units.size(m.bytes))}</td></tr>" for m in _top_modules(result))
    modules = ("<table><thead><tr><th>Module</th><th>Class</th><th>Params</th><th>FLOPs</th>"
               f"<th>Bytes</th></tr></thead><tbody>{rows}</tbody></table>" if rows else "")
    return f"<div class='modellens-summary'><table>{cards}</table>{modules}</div>"


def dataframe(rows: list[dict[str, Any]]):
    """A pandas DataFrame of `rows`; ImportError with the install hint without pandas."""
    try:
        import pandas
    except ImportError as exc:
        raise ImportError("to_pandas() needs pandas (pip install pandas)") from exc
    return pandas.DataFrame(rows)
