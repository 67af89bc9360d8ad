"""The HTML report: one self-contained file (inline CSS, JS and data; no network) that opens
from disk. Python prepares the data (report_data); the page's own script draws it."""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from importlib import resources
from typing import Any

from ..analysis.memory_fit import chip_fits, memory_needs
from ..analysis.results import OpGroup, ProfileResult
from ..hardware import Chip, get_chip
from ..io import to_jsonable
from . import view

DEFAULT_CHIPS = ("a100", "h100", "l4", "rtx4090")  # a datacenter pair, an inference card, a desktop
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


def default_chips(first: Chip) -> list[Chip]:
    """`first`, then the common chips of DEFAULT_CHIPS it is not."""
    chips = [first]
    for name in DEFAULT_CHIPS:
        chip = get_chip(name)
        if all(c.id != chip.id for c in chips):
            chips.append(chip)
    return chips


def _fit(result: ProfileResult, chips: list[Chip]) -> dict[str, Any] | None:
    """Inference and training memory against every chip (None without an Analysis)."""
    if result.analysis is None:
        return None
    needs = memory_needs(result.analysis)
    return {**needs.to_dict(),
            "chips": [{k: v.to_dict() for k, v in chip_fits(needs, chip).items()}
                      for chip in chips]}


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


def report_data(result: ProfileResult, chips: list[Chip],
                llm: dict[str, Any] | None = None) -> dict[str, Any]:
    """result.to_dict() with the flat module and op lists replaced by the merged module tree
    (forward time per chip on each node), grouped ops timed on every chip, per-chip totals and
    roofs, the memory fit on every chip, what was left out, and `llm` (an LLM section's data,
    report.llm_section) where given."""
    data = result.to_dict()
    del data["modules"], data["ops"]
    tree, omitted = view.module_tree(result, MAX_TREE_NODES, chips)
    groups = view.op_groups(result, chips[0])
    data.update(
        chips=[_chip_dict(result, chip) for chip in chips],
        module_tree=tree.to_dict(),
        op_groups=[_group_dict(result, g, chips) for g in groups[:MAX_OP_ROWS]],
        module_classes=_module_classes(result),
        fit=_fit(result, chips),
        llm=llm,
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


def page(title: str, data: dict[str, Any]) -> str:
    """The report page around `data` (its "kind": profile, compare or porting)."""
    from .. import __version__

    parts = {
        "title": html.escape(f"{title} · modellens report"),
        "version": html.escape(__version__),
        "css": _asset("report.css"),
        "js": _asset("report.js"),
        "data": script_json(data),
    }
    return _PLACEHOLDER.sub(lambda m: parts[m.group(1)], _asset("report.html"))


def render_html(result: ProfileResult, chips: list[Chip] | None = None,
                llm: dict[str, Any] | None = None) -> str:
    """The report as one HTML document; `chips` (default: the result's chip and the common
    DEFAULT_CHIPS) get a roofline, a predicted time and a memory fit each; `llm` adds the LLM
    section (report.llm_section)."""
    chips = chips or default_chips(result.hardware)
    return page(result.model, {"kind": "profile", **report_data(result, chips, llm)})


def render_compare_html(profiles: list[ProfileResult], compared: dict[str, Any],
                        chips: list[Chip]) -> str:
    """Several models on one page, side by side: `compared` is CompareResult.to_dict(), each
    profile gets the full per-model report (chosen with a switch)."""
    names = " vs ".join(p.model for p in profiles)
    return page(names, {"kind": "compare", "compare": compared,
                        "models": [report_data(p, chips) for p in profiles]})
