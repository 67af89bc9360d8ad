"""`Analysis(capture)`: every view of one capture, each computed once and cached (fvcore's
`FlopCountAnalysis` manner). It holds the per-op costs; nothing else pairs ops with costs."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Hashable, Iterator

from ..capture import FORWARD, Capture, ModuleRecord, OpRecord
from ..capture.opkey import op_keys
from ..capture.structure import module_signatures
from ..costing.cost import OpCost, op_costs
from ..hardware import Chip
from ..hardware.timemodel import OpTime, TimeModel
from . import flops, kernels, memory, modules, moe, params, roofline, training_peak
from .attention import FULL, AttentionCount, attention_costs
from .fusion import EAGER


def in_subtree(path: str, prefix: str) -> bool:
    """Whether module `path` is `prefix` or below it ('' is the whole model)."""
    return not prefix or path == prefix or path.startswith(prefix + ".")


class Analysis:
    """Views of one capture. Views return shared objects: read them, do not change them."""

    def __init__(self, capture: Capture, costs: list[OpCost] | None = None,
                 attention: str | AttentionCount = FULL) -> None:
        """`attention`: the attention FLOP convention, "full" (torch's) or "causal" (see
        `analysis.attention`); an AttentionCount when `costs` already follow it."""
        self.capture = capture
        self._views: dict[Hashable, Any] = {}
        if isinstance(attention, AttentionCount) and costs is not None:  # a slice's costs
            self.costs, self.attention = costs, attention
        else:
            convention = getattr(attention, "convention", attention)
            # aligned with capture.ops; computed once per distinct op (see capture.opkey)
            base = op_costs(capture, self.op_keys()) if costs is None else costs
            self.costs, self.attention = attention_costs(capture, base, convention)

    def op_keys(self) -> list[Hashable]:
        """`capture.opkey.op_key` of every op: equal for ops whose cost and time are equal."""
        return self._once("op_keys", lambda: op_keys(self.capture.ops))

    def _once(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        if key not in self._views:
            self._views[key] = compute()
        return self._views[key]

    def items(self, phase: str | None = None) -> Iterator[tuple[OpRecord, OpCost]]:
        """(op, cost) of every op (of `phase`), in capture order."""
        for op, cost in zip(self.capture.ops, self.costs):
            if phase is None or op.phase == phase:
                yield op, cost

    # -- counts -------------------------------------------------------------------------------

    def totals(self) -> flops.FlopTotals:
        return self._once("totals", lambda: flops.totals(self))

    def params(self) -> params.ParamCounts:
        return self._once("params", lambda: params.count_params(self.capture.params))

    def by_operator(self) -> list[flops.OperatorStats]:
        return self._once("by_operator", lambda: flops.by_operator(self.items()))

    def by_module(self) -> list[modules.ModuleStats]:
        return self._once("by_module", lambda: modules.module_stats(self))

    def by_module_and_operator(self) -> dict[str, list[flops.OperatorStats]]:
        return self._once("by_module_and_operator", lambda: flops.by_module_and_operator(self))

    def unsupported_ops(self) -> list[flops.UnsupportedOp]:
        return self._once("unsupported", lambda: flops.unsupported_ops(self))

    def uncalled_modules(self) -> list[str]:
        """Paths of the modules the captured run never called, in tree order."""
        return [path for path, record in self.capture.modules.items() if not record.calls]

    def moe(self, num_experts: int, experts_per_token: int) -> moe.MoEReport:
        return self._once(("moe", num_experts, experts_per_token),
                          lambda: moe.moe_report(self, num_experts, experts_per_token))

    # -- memory and time ----------------------------------------------------------------------

    def activations(self, phases: tuple[str, ...] = (FORWARD,)) -> tuple[int, int]:
        """(total, peak live) bytes of the tensors the ops of `phases` create."""
        return self._once(("activations", phases), lambda: memory.peak_live_bytes(self, phases))

    def memory(self) -> memory.MemoryEstimate:
        return self._once("memory", lambda: memory.estimate_memory(self))

    def training_peak(self, optimizer: str = "none", activation_checkpointing: bool = False,
                      gpu: bool = False) -> training_peak.TrainingPeak:
        """Peak bytes of a training step (needs a backward capture; see `training_peak`)."""
        return self._once(("training_peak", optimizer, activation_checkpointing, gpu),
                          lambda: training_peak.training_peak(
                              self, optimizer, activation_checkpointing, gpu))

    def roofline(self, chip: Chip, shards: int = 1, compute_dtype: str | None = None,
                 execution: str = EAGER) -> roofline.Roofline:
        """Every op timed on `chip` under the chip's time model (THE per-op time loop): the
        calibrated model where the chip has one, else the plain roofline; per-phase totals.
        `shards` (tensor parallelism) and `compute_dtype`: see `roofline.op_time`; `execution`
        (eager, or fused kernels): see `roofline.time_ops`."""
        # the lower bound (the same chip on the plain roofline) is cached beside, not over, it
        key = ("roofline", chip.id, chip.time_model.is_roofline, shards, compute_dtype, execution)
        cached = self._views.get(key)
        if cached is None or cached.chip != chip:
            cached = self._views[key] = roofline.time_ops(self, chip, shards, compute_dtype,
                                                          execution)
        return cached

    def kernels(self, execution: str = EAGER, shards: int = 1, compute_dtype: str | None = None
                ) -> dict[str, tuple[list[kernels.Kernel], int]]:
        """Per phase, (the kernels its ops run as, the views among them): chip-independent
        descriptions `Kernel.time` times on any chip (see `kernels.phase_kernels`)."""
        def build() -> dict[str, tuple[list[kernels.Kernel], int]]:
            params = self.capture.storages("params")
            items = list(self.items())
            phases = dict.fromkeys(op.phase for op, _ in items)
            return {phase: kernels.phase_kernels(
                        [(i, op, cost) for i, (op, cost) in enumerate(items) if op.phase == phase],
                        params, execution, shards, compute_dtype)
                    for phase in phases}
        return self._once(("kernels", execution, shards, compute_dtype), build)

    def lower_bound(self, chip: Chip) -> roofline.Roofline:
        """The same loop under the plain roofline: datasheet peaks, no fixed cost (the lower
        bound every calibrated time is shown beside)."""
        return self.roofline(chip.with_time_model(TimeModel.ROOFLINE))

    def timed_ops(self, chip: Chip) -> Iterator[tuple[int, OpRecord, OpCost, OpTime]]:
        """(index, op, cost, roofline time on `chip`) of every op that takes time, in order."""
        timings = self.roofline(chip).timings
        for index, (op, cost) in enumerate(self.items()):
            if timings[index] is not None:
                yield index, op, cost, timings[index]

    # -- structure ----------------------------------------------------------------------------

    def module_signatures(self, extra: Callable[[ModuleRecord], Hashable] | None = None
                          ) -> dict[str, int]:
        """Module path -> int equal for structurally identical modules (see capture.structure)."""
        if extra is not None:
            return module_signatures(self.capture, extra)
        return self._once("signatures", lambda: module_signatures(self.capture))

    def where(self, keep: Callable[[str], bool]) -> Analysis:
        """An Analysis of the ops, modules and parameters whose module path passes `keep`. It
        has no model outputs: its tensors die at their last use inside it."""
        chosen = [i for i, op in enumerate(self.capture.ops) if keep(op.module)]
        capture = dataclasses.replace(
            self.capture,
            ops=[self.capture.ops[i] for i in chosen],
            modules={p: r for p, r in self.capture.modules.items() if keep(p)},
            params=[p for p in self.capture.params if keep(p.module)],
            outputs=[],
        )
        return Analysis(capture, [self.costs[i] for i in chosen], self.attention)

    def slice(self, prefix: str) -> Analysis:
        """The Analysis of one module subtree (e.g. one decoder block), paths unchanged."""
        return self.where(lambda path: in_subtree(path, prefix))
