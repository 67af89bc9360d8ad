"""Typed results of `profile`; every renderer (table, JSON, CSV, HTML) reads these."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Hashable

from ..capture import ModuleRecord, OpRecord
from ..costing.cost import OpCost
from ..hardware import Chip
from ..hardware.timemodel import OpTime
from ..io import document, to_jsonable
from .attention import AttentionCount
from .flops import FlopTotals, OperatorStats, UnsupportedOp
from .memory import MemoryEstimate
from .modules import ModuleStats
from .moe import MoEReport
from .params import ParamCounts
from .roofline import Bottleneck, Roofline, op_dtype

if TYPE_CHECKING:
    from .core import Analysis

_LAYER_INDEX = re.compile(r"(?<=\.)\d+(?=\.|$)|^\d+(?=\.|$)")
# The keys of a row in the JSON `ops` list, in order.
OP_ROW_KEYS = ("index", "name", "module", "phase", "category", "dtype", "flops", "flops_all",
               "bytes_read", "bytes_written", "intensity", "bound", "time_s", "input_shapes",
               "output_shapes")


def module_pattern(path: str) -> str:
    """'transformer.h.11.mlp' -> 'transformer.h.*.mlp': repeated layers share a pattern."""
    return _LAYER_INDEX.sub("*", path)


def _read(part: str, name: str) -> property:
    """A read-only attribute `name` of the row's `part` (its op, cost or timing)."""
    return property(lambda row: getattr(getattr(row, part), name),
                    doc=f"{part}.{name}")


@dataclass(frozen=True)
class OpRow:
    """One op that computes or moves data (views are left out): its record, its cost and its
    time on the result's chip, read through."""

    index: int  # in the capture's ops
    op: OpRecord
    cost: OpCost
    timing: OpTime

    name = _read("op", "name")
    module = _read("op", "module")
    phase = _read("op", "phase")
    category = _read("cost", "category")
    flops = _read("cost", "flops")
    flops_all = _read("cost", "flops_all")
    bytes_read = _read("cost", "bytes_read")
    bytes_written = _read("cost", "bytes_written")
    bytes = _read("cost", "bytes")
    intensity = _read("cost", "intensity")
    bound = _read("timing", "bound")
    time_s = _read("timing", "time_s")

    @property
    def dtype(self) -> str:
        """What the roofline times it in."""
        return op_dtype(self.op)

    @property
    def input_shapes(self) -> list[list[int]]:
        return [list(s.shape) for s in self.op.inputs]

    @property
    def output_shapes(self) -> list[list[int]]:
        return [list(s.shape) for s in self.op.outputs]

    def to_dict(self) -> dict[str, Any]:
        return {key: to_jsonable(getattr(self, key)) for key in OP_ROW_KEYS}


@dataclass
class OpGroup:
    """Ops with the same name, module pattern and shapes (one per repeated layer)."""

    first: OpRow
    module_pattern: str
    count: int

    @property
    def flops(self) -> int:
        return self.first.flops * self.count

    @property
    def bytes(self) -> int:
        return self.first.bytes * self.count


def _forward_flops(stats: list[OperatorStats]) -> dict[str, int]:
    return {s.name: s.flops for s in stats if s.phase == "forward"}


def group_ops(rows: list[OpRow]) -> list[OpGroup]:
    groups: dict[tuple, OpGroup] = {}
    for row in rows:
        pattern = module_pattern(row.module)
        key = (row.name, pattern, row.phase, str(row.input_shapes))
        group = groups.get(key)
        if group is None:
            groups[key] = OpGroup(row, pattern, 1)
        else:
            group.count += 1
    return list(groups.values())


@dataclass(frozen=True)
class ChipBottleneck:
    """The profile timed on one of several chips (`--hardware a,b,c`)."""

    chip: Chip
    bottleneck: Bottleneck
    backward_bottleneck: Bottleneck | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.chip.id, "name": self.chip.name,
                "memory_bytes": self.chip.memory_bytes,
                "bottleneck": to_jsonable(self.bottleneck),
                "backward_bottleneck": to_jsonable(self.backward_bottleneck)}


@dataclass(repr=False)
class ProfileResult:
    """Every profile view of one capture. `analysis` is the capture's Analysis (not part of
    the JSON): per-chip times and module signatures are read from it."""

    model: str
    model_class: str
    source: str
    capture_method: str
    input_description: str
    inputs: list[dict[str, Any]]
    settings: dict[str, Any]
    params: ParamCounts
    flops: FlopTotals
    memory: MemoryEstimate
    hardware: Chip
    bottleneck: Bottleneck
    modules: list[ModuleStats]
    ops: list[OpRow]
    operators: list[OperatorStats]
    unsupported: list[UnsupportedOp]
    backward_bottleneck: Bottleneck | None = None
    moe: MoEReport | None = None
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    attention: AttentionCount = field(default_factory=AttentionCount)  # the attention convention
    analysis: Analysis | None = field(default=None, repr=False, compare=False)
    per_chip: list[ChipBottleneck] = field(default_factory=list)  # every chip asked, in order

    @property
    def macs(self) -> int:
        return self.flops.forward_macs

    def _analysis(self) -> Analysis:
        if self.analysis is None:
            raise ValueError("this ProfileResult was built without its capture's Analysis")
        return self.analysis

    def roofline(self, chip: Chip) -> Roofline:
        """The capture timed on `chip` (precomputed for the chips the profile was asked for)."""
        return self._analysis().roofline(chip)

    def module_signatures(self, extra: Callable[[ModuleRecord], Hashable] | None = None
                          ) -> dict[str, int]:
        """Module path -> structural signature (see `Analysis.module_signatures`)."""
        return self._analysis().module_signatures(extra)

    def timing(self, row: OpRow, chip: Chip) -> OpTime:
        """One op's time on `chip`."""
        timing = self.roofline(chip).timings[row.index]
        assert timing is not None  # rows are timed ops
        return timing

    def top_ops(self, key: str = "flops", k: int = 10, phase: str = "forward") -> list[OpGroup]:
        """The k largest groups of identical ops by total `key` ("flops": matmul-class, or
        "bytes"); groups with none of it are not listed."""
        groups = [g for g in group_ops([r for r in self.ops if r.phase == phase])
                  if getattr(g, key) > 0]
        return sorted(groups, key=lambda g: getattr(g, key), reverse=True)[:k]

    # fvcore's verbs (`FlopCountAnalysis`), read from the Analysis: forward matmul-class FLOPs
    # (1 MAC = 2 FLOPs), modules inclusive of their children, "" the whole model.
    def total(self, module: str = "") -> int:
        """Forward FLOPs of `module` (inclusive; "" the model)."""
        if not module:
            return self.flops.forward
        stats = {m.path: m for m in self._analysis().by_module()}
        if module not in stats:
            raise KeyError(f"no module {module!r}")
        return stats[module].flops

    def by_module(self) -> dict[str, int]:
        """Module path -> forward FLOPs (inclusive)."""
        return {m.path: m.flops for m in self._analysis().by_module()}

    def by_operator(self, module: str = "") -> dict[str, int]:
        """Aten op -> forward FLOPs, in `module` ("" the model)."""
        if module:
            return self.by_module_and_operator()[module]
        return _forward_flops(self._analysis().by_operator())

    def by_module_and_operator(self) -> dict[str, dict[str, int]]:
        """Module path -> (aten op -> forward FLOPs) of its ops and its descendants'."""
        return {path: _forward_flops(stats)
                for path, stats in self._analysis().by_module_and_operator().items()}

    def unsupported_ops(self) -> dict[str, int]:
        """Ops with no FLOP convention -> how often they ran (counted as 0 FLOPs)."""
        return {u.name: u.count for u in self._analysis().unsupported_ops()}

    def uncalled_modules(self) -> list[str]:
        return self._analysis().uncalled_modules()

    def to_pandas(self, table: str = "modules"):
        """A pandas DataFrame of the modules (default) or the ops; needs pandas."""
        from .summary import dataframe

        if table == "modules":
            return dataframe([to_jsonable(m) for m in self.modules])
        if table == "ops":
            return dataframe([row.to_dict() for row in self.ops])
        raise ValueError(f"to_pandas(table={table!r}): 'modules' or 'ops'")

    def __str__(self) -> str:
        from .summary import summary_text

        return summary_text(self)

    def __repr__(self) -> str:
        from .. import units

        return (f"<ProfileResult {self.model}: {units.count(self.params.total)} params, "
                f"{units.count(self.flops.forward, 'FLOPs')} forward>")

    def _repr_html_(self) -> str:
        from .summary import summary_html

        return summary_html(self)

    def to_dict(self) -> dict[str, Any]:
        flops = self.flops
        return document({
            "model": self.model,
            "model_class": self.model_class,
            "source": self.source,
            "capture_method": self.capture_method,
            "inputs": self.inputs,
            "input_description": self.input_description,
            "settings": self.settings,
            "params": self.params,
            "flops": {
                "forward": flops.forward,
                "forward_all": flops.forward_all,
                "backward": flops.backward,
                "backward_all": flops.backward_all,
            },
            "macs": {"forward": flops.forward_macs, "backward": flops.backward_macs},
            "attention_flops": self.attention,
            "memory": self.memory,
            "hardware": self.hardware,
            "bottleneck": self.bottleneck,
            "backward_bottleneck": self.backward_bottleneck,
            # several chips asked (--hardware a,b,c): each one's bottleneck, the first `hardware`
            **({"chips": self.per_chip} if len(self.per_chip) > 1 else {}),
            "moe": self.moe,
            "modules": self.modules,
            "operators": self.operators,
            "ops": self.ops,
            "unsupported_ops": self.unsupported,
            "notes": list(self.notes),
            "timings": dict(self.timings),
        })
