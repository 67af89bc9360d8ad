"""The HTML report: one self-contained file (inline CSS, JS and data; no network) that opens
from disk. Python prepares the data (report_data); the page's own script draws it."""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from importlib import resources
from typing import Any

from ..analysis.results import OpGroup, ProfileResult
from ..hardware import Chip
from ..io import to_jsonable
from . import view

MAX_OP_ROWS = 2000  # op groups embedded (slowest first on the first chip)
MAX_TREE_NODES = 3000  # module tree nodes embedded (after merging identical blocks)
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


def _group_dict(result: ProfileResult, group: OpGroup, chips: list[Chip]) -> dict[str, Any]:
    row = group.first
    timed = [result.timing(row, chip) for chip in chips]
    return {
        "op": row.name, "module": group.module_pattern or "(root)", "phase": row.phase,
        "cat": row.category, "dtype": row.dtype, "n": group.count, "flops": row.flops,
        "flops_all": row.flops_all, "br": row.bytes_read, "bw": row.bytes_written,
        "ai": row.intensity, "in": row.input_shapes, "out": row.output_shapes,
        "t": [t.time_s for t in timed], "b": [t.bound for t in timed],
    }


def _chip_dict(result: ProfileResult, chip: Chip) -> dict[str, Any]:
    phases = {}
    for phase in ("forward", "backward"):
        totals = view.chip_totals(result, chip, phase)
        phases[phase] = totals.to_dict() if totals else None
    return {**chip.to_dict(), "roofs": [{"label": label, "peak": peak}
                                        for label, peak in view.roofs(result, chip)], **phases}


def _module_classes(result: ProfileResult) -> list[dict[str, Any]]:
    counts: Counter[str] = Counter()
    params: Counter[str] = Counter()
    for module in result.modules:
        counts[module.class_name] += 1
        params[module.class_name] += module.own_params
    return [{"cls": name, "count": n, "own_params": params[name]}
            for name, n in counts.most_common()]


def report_data(result: ProfileResult, chips: list[Chip]) -> dict[str, Any]:
    """result.to_dict() with the flat module and op lists replaced by the merged module tree,
    grouped ops timed on every chip, per-chip totals and roofs, and what was left out."""
    data = result.to_dict()
    del data["modules"], data["ops"]
    tree, omitted = view.module_tree(result, MAX_TREE_NODES)
    groups = view.op_groups(result, chips[0])
    data.update(
        chips=[_chip_dict(result, chip) for chip in chips],
        module_tree=tree.to_dict(),
        op_groups=[_group_dict(result, g, chips) for g in groups[:MAX_OP_ROWS]],
        module_classes=_module_classes(result),
        report={
            "ops": len(result.ops), "op_groups": len(groups),
            "op_groups_shown": min(len(groups), MAX_OP_ROWS), "modules": len(result.modules),
            "tree_nodes": tree.size(), "tree_omitted": omitted,
            "bytes_forward": sum(r.bytes for r in result.ops if r.phase == "forward"),
        },
    )
    return data


def script_json(data: Any) -> str:
    """JSON safe inside <script>: no '<', '>' or '&' can end the element or open a comment."""
    text = json.dumps(to_jsonable(data), separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(result: ProfileResult, chips: list[Chip] | None = None) -> str:
    """The report as one HTML document; `chips` (default: the result's chip) get a roofline
    and a predicted time each."""
    from .. import __version__

    chips = chips or [result.hardware]
    parts = {
        "title": html.escape(f"{result.model} · modellens report"),
        "version": html.escape(__version__),
        "css": _asset("report.css"),
        "js": _asset("report.js"),
        "data": script_json(report_data(result, chips)),
    }
    return _PLACEHOLDER.sub(lambda m: parts[m.group(1)], _asset("report.html"))
