"""Where a peer's total differs from modellens': compare the FLOPs each attributes to every
module class (a module's own ops, not its children's), largest differences first."""

from __future__ import annotations

import re
from dataclasses import dataclass

THRESHOLD = 0.01  # totals further apart than 1 % get explained


@dataclass(frozen=True)
class ClassDiff:
    class_name: str
    modellens: int
    peer: int
    modellens_ops: tuple[str, ...]  # modellens' ops in those modules (aten packets)

    @property
    def delta(self) -> int:
        return self.peer - self.modellens


@dataclass(frozen=True)
class Agreement:
    model: str
    tool: str
    modellens_flops: int
    peer_flops: int
    modellens_params: int | None
    peer_params: int | None
    diffs: tuple[ClassDiff, ...]  # largest |delta| first; empty when no per-module detail
    op_diffs: tuple[tuple[str, int, int], ...] = ()  # (op, modellens, peer) for per-op tools
    # the part of the peer's total that is in no module's own count (e.g. a shared module the
    # tool adds once per parent); 0 without per-module detail
    unattributed: int = 0

    @property
    def ratio(self) -> float:
        return self.peer_flops / self.modellens_flops if self.modellens_flops else float("nan")

    @property
    def needs_reason(self) -> bool:
        return abs(self.ratio - 1) > THRESHOLD

    def explained(self) -> float:
        """The share of the total difference the listed class differences account for."""
        total = self.peer_flops - self.modellens_flops
        return sum(d.delta for d in self.diffs) / total if total else 1.0


def by_class(modules: dict[str, int], classes: dict[str, str]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for path, flops in modules.items():
        name = classes.get(path, "?")
        totals[name] = totals.get(name, 0) + flops
    return totals


def ops_by_class(ops_by_module: dict[str, dict[str, int]], classes: dict[str, str]):
    found: dict[str, set[str]] = {}
    for path, ops in ops_by_module.items():
        found.setdefault(classes.get(path, "?"), set()).update(ops)
    return found


def class_diffs(modellens: dict, peer: dict, limit: int = 4) -> tuple[ClassDiff, ...]:
    """The `limit` module classes where the two counts differ most (by at least 0.05 %)."""
    if peer.get("modules") is None:
        return ()
    ours = by_class(modellens["modules"], modellens["classes"])
    theirs = by_class(peer["modules"], peer["classes"])
    ops = ops_by_class(modellens["extra"].get("ops_by_module", {}), modellens["classes"])
    floor = 0.0005 * max(modellens["flops"], 1)
    diffs = [
        ClassDiff(name, ours.get(name, 0), theirs.get(name, 0), tuple(sorted(ops.get(name, ()))))
        for name in ours.keys() | theirs.keys()
        if abs(theirs.get(name, 0) - ours.get(name, 0)) >= floor
    ]
    diffs.sort(key=lambda d: -abs(d.delta))
    return tuple(diffs[:limit])


def normalize_op(name: str) -> str:
    """'aten::_convolution' and 'aten.convolution' -> 'convolution'."""
    return re.sub(r"^aten(::|\.)_?", "", name)


def op_diffs(modellens: dict, peer: dict, limit: int = 4) -> tuple[tuple[str, int, int], ...]:
    """Per-operator comparison for tools that only report operators (torchprofile)."""
    theirs = peer.get("extra", {}).get("by_operator")
    if theirs is None:
        return ()
    ours: dict[str, int] = {}
    for ops in modellens["extra"].get("ops_by_module", {}).values():
        for name, flops in ops.items():
            key = normalize_op(name)
            ours[key] = ours.get(key, 0) + flops
    theirs = {normalize_op(k): v for k, v in theirs.items()}
    floor = 0.0005 * max(modellens["flops"], 1)
    rows = [(k, ours.get(k, 0), theirs.get(k, 0)) for k in ours.keys() | theirs.keys()
            if abs(theirs.get(k, 0) - ours.get(k, 0)) >= floor]
    rows.sort(key=lambda r: -abs(r[2] - r[1]))
    return tuple(rows[:limit])


def compare(modellens: dict, peer: dict) -> Agreement:
    """modellens and peer: worker results (dicts) for the same model."""
    return Agreement(
        model=peer["model"],
        tool=peer["tool"],
        modellens_flops=modellens["flops"],
        peer_flops=peer["flops"],
        modellens_params=modellens.get("params"),
        peer_params=peer.get("params"),
        diffs=class_diffs(modellens, peer),
        op_diffs=op_diffs(modellens, peer),
        unattributed=unattributed(peer),
    )


def unattributed(run: dict) -> int:
    modules = run.get("modules")
    return 0 if modules is None else run["flops"] - sum(modules.values())
