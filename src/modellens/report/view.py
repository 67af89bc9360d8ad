"""Render-ready views of a ProfileResult, shared by the HTML report and the PNG plots: repeated
ops grouped, per-chip totals (both read from the times the result's Analysis computed; nothing
here times an op), the module tree with identical numbered blocks merged, and the per-layer
rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..analysis.modules import ModuleStats
from ..analysis.results import OpGroup, ProfileResult, group_ops
from ..analysis.roofline import COMPUTE, op_peak
from ..capture.structure import call_specs
from ..costing.registry import MATMUL
from ..hardware import Chip


@dataclass(frozen=True)
class ChipTotals:
    """Predicted time of one phase on one chip: the sum of its ops' times."""

    chip: Chip
    phase: str
    time_s: float
    compute_bound_share: float  # of the predicted time
    flops: int  # all FLOPs of the phase
    bytes: int

    @property
    def intensity(self) -> float:
        return self.flops / self.bytes if self.bytes else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"chip": self.chip.id, "phase": self.phase, "time_s": self.time_s,
                "compute_bound_share": self.compute_bound_share, "flops": self.flops,
                "bytes": self.bytes, "intensity": self.intensity}


def chip_totals(result: ProfileResult, chip: Chip, phase: str) -> ChipTotals | None:
    """None when the phase was not captured."""
    totals = result.roofline(chip).phase(phase)
    if totals is None:
        return None
    return ChipTotals(chip, phase, totals.time_s, totals.share(COMPUTE), totals.flops,
                      totals.bytes)


def roofs(result: ProfileResult, chip: Chip) -> list[tuple[str, float]]:
    """The distinct (label, peak FLOP/s) roofs the model's ops meet on `chip`, highest first."""
    kinds: dict[float, set[str]] = {}
    dtypes: dict[float, set[str]] = {}
    for row in result.ops:
        peak = op_peak(row.op, row.cost, chip)
        kinds.setdefault(peak, set()).add("matrix" if row.category == MATMUL else "vector")
        if "float" in row.dtype:
            dtypes.setdefault(peak, set()).add(row.dtype)
    return [(" ".join((" + ".join(sorted(kinds[p])), "/".join(sorted(dtypes.get(p, ()))))).strip(),
             p) for p in sorted(kinds, reverse=True)]


def op_groups(result: ProfileResult, chip: Chip) -> list[OpGroup]:
    """Repeated ops (same name, module pattern, phase, shapes) merged; slowest on `chip` first."""
    groups = group_ops(result.ops)
    return sorted(groups, key=lambda g: -result.timing(g.first, chip).time_s * g.count)


# ---------------------------------------------------------------- module tree


@dataclass
class TreeNode:
    """A module, or a run of identical numbered siblings (h.0 … h.11) merged into one node.
    Figures are totals over all instances the node stands for (`count`, ancestors' included)."""

    name: str
    path: str
    class_name: str
    count: int
    params: int
    flops: int
    flops_all: int
    bytes: int
    backward_flops: int
    input_shapes: list[list[int]]
    output_shapes: list[list[int]]
    children: list[TreeNode]
    omitted: int = 0  # children left out to keep the tree small
    times: list[float] = field(default_factory=list)  # predicted forward time per chip

    def size(self) -> int:
        return 1 + sum(child.size() for child in self.children)

    def keep_first(self, max_nodes: int) -> int:
        """Keep the first `max_nodes` nodes in breadth-first order; the number dropped."""
        kept, frontier, dropped = 1, [self], 0
        while frontier:
            following = []
            for node in frontier:
                room = max(0, max_nodes - kept)
                dropped += sum(c.size() for c in node.children[room:])
                node.omitted += len(node.children[room:])
                node.children = node.children[:room]
                kept += len(node.children)
                following += node.children
            frontier = following
        return dropped

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "cls": self.class_name, "n": self.count,
                "params": self.params, "flops": self.flops, "flops_all": self.flops_all,
                "bytes": self.bytes, "bwd": self.backward_flops, "in": self.input_shapes,
                "out": self.output_shapes, "kids": [c.to_dict() for c in self.children],
                "omitted": self.omitted, "t": self.times}


def _children(modules: list[ModuleStats]) -> dict[str, list[ModuleStats]]:
    kids: dict[str, list[ModuleStats]] = {}
    for module in modules:
        if module.parent is not None and module.path:
            kids.setdefault(module.parent, []).append(module)
    return kids


def _signatures(result: ProfileResult) -> dict[str, int]:
    """Per module, a value equal for two modules exactly when they are structurally the same
    (capture.structure) with the same call shapes and figures, all through their subtrees."""
    by_path = {m.path: m for m in result.modules}

    def facts(record) -> tuple:
        m = by_path[record.path]
        return (call_specs(record), m.params, m.flops, m.flops_all, m.bytes, m.backward_flops)

    return result.module_signatures(facts)


def _leaf_name(path: str) -> str:
    return path.rsplit(".", 1)[-1]


def _runs(siblings: list[ModuleStats], signature: dict[str, int]) -> list[list[ModuleStats]]:
    """Consecutive numbered siblings with equal subtrees, as runs (unnumbered ones alone)."""
    runs: list[list[ModuleStats]] = []
    for module in siblings:
        last = runs[-1][-1] if runs else None
        if (last is not None and _leaf_name(module.path).isdigit()
                and _leaf_name(last.path).isdigit()
                and signature[module.path] == signature[last.path]):
            runs[-1].append(module)
        else:
            runs.append([module])
    return runs


def module_times(result: ProfileResult, chips: list[Chip]) -> dict[str, list[float]]:
    """Per module path, the predicted forward time on each chip of the ops it runs, its
    submodules' included (an op counts for its innermost module and every ancestor)."""
    times: dict[str, list[float]] = {m.path: [0.0] * len(chips) for m in result.modules}
    for row in result.ops:
        if row.phase != "forward":
            continue
        spent = [result.timing(row, chip).time_s for chip in chips]
        path = row.op.module
        while True:
            entry = times.setdefault(path, [0.0] * len(chips))
            for i, t in enumerate(spent):
                entry[i] += t
            if not path:
                break
            path = path.rpartition(".")[0]
    return times


def module_tree(result: ProfileResult, max_nodes: int = 3000,
                chips: list[Chip] | None = None) -> tuple[TreeNode, int]:
    """The module tree with identical numbered blocks merged, and how many nodes were left
    out: beyond `max_nodes`, only the first nodes in breadth-first order are kept. With
    `chips`, each node carries its predicted forward time on each (`times`)."""
    modules = result.modules
    times = module_times(result, chips) if chips else {}
    kids = _children(modules)
    signature = _signatures(result)
    by_path = {m.path: m for m in modules}

    def build(run: list[ModuleStats], multiplier: int) -> TreeNode:
        first, count = run[0], multiplier * len(run)
        name = _leaf_name(first.path) or "(root)"
        if len(run) > 1:
            name = f"{name}–{_leaf_name(run[-1].path)}"
        return TreeNode(
            name=name, path=first.path, class_name=first.class_name, count=count,
            params=first.params * count, flops=first.flops * count,
            flops_all=first.flops_all * count, bytes=first.bytes * count,
            backward_flops=first.backward_flops * count, input_shapes=first.input_shapes,
            output_shapes=first.output_shapes,
            children=[build(r, count) for r in _runs(kids.get(first.path, []), signature)],
            times=[t * count for t in times.get(first.path, [])],
        )

    root = build([by_path[""]], 1)
    return root, root.keep_first(max_nodes)


def layers(result: ProfileResult) -> list[ModuleStats]:
    """The model as a sequence of layers for per-layer plots: numbered blocks (h.3, layer2.1)
    and the leaves outside them, in order, leaving out those with no params and no FLOPs."""
    kids = _children(result.modules)
    found: list[ModuleStats] = []

    def walk(module: ModuleStats) -> None:
        children = kids.get(module.path, [])
        if module.path and (not children or _leaf_name(module.path).isdigit()):
            if module.params or module.flops_all:
                found.append(module)
            return
        for child in children:
            walk(child)

    root = next(m for m in result.modules if not m.path)
    walk(root)
    return found or [root]
