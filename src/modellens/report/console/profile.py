"""Console view of a ProfileResult (`profile`, `report`, `discover --test-model`): summary
sections, module table, top ops, ops with no FLOP convention, sweeps, and time per chip."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ... import units
from ...capture.replay import is_replay_note
from ...costing.cost import FLOPS_PER_MAC
from .. import view
from ..text import styled
from .columns import Column, kv_table, right, table

if TYPE_CHECKING:
    from ...analysis.results import ProfileResult
    from ...analysis.training_peak import TrainingPeak
    from ...hardware import Chip
    from ...tasks.sweep import SweepResult


def compute_rows(result: ProfileResult, unit: str = "flops") -> list[tuple[str, str]]:
    """FLOPs (or MACs with unit="macs": FLOPs / 2) rows of the summary."""
    flops = result.flops
    divisor, name = (FLOPS_PER_MAC, "MACs") if unit == "macs" else (1, "FLOPs")

    def value(x: int | None) -> int | None:
        return None if x is None else x // divisor

    rows = [
        (f"Forward {name} (matmul-class)", units.exact(value(flops.forward), name)),
        (f"Forward {name} (all ops)", units.exact(value(flops.forward_all), name)),
    ]
    if unit != "macs":
        rows.insert(1, ("Forward MACs", units.exact(flops.forward_macs, "MACs")))
    if flops.backward is not None:
        ratio = f"  ({flops.backward / flops.forward:.2f}x fwd)" if flops.forward else ""
        rows.append((f"Backward {name} (matmul-class)",
                     units.exact(value(flops.backward), name) + ratio))
        rows.append((f"Backward {name} (all ops)", units.exact(value(flops.backward_all), name)))
    rows.append(("Attention", result.attention.describe()))
    if result.moe is not None:
        moe = result.moe
        rows += [
            ("MoE experts (active per token)", f"{moe.num_experts} ({moe.experts_per_token})"),
            ("MoE active params per token", units.exact(moe.active_params)),
            (f"Forward {name}, top-{moe.experts_per_token} experts",
             units.exact(value(moe.forward_flops_active), name)),
            (f"Forward {name}, every expert",
             units.exact(value(moe.forward_flops_all_experts), name)),
        ]
    return rows


def summary_tables(result: ProfileResult, unit: str = "flops") -> list[Table]:
    memory, params = result.memory, result.params
    header = kv_table("MODEL", [
        ("Model", result.model),
        ("Class", f"{result.model_class} ({result.source})"),
        ("Input", result.input_description),
        ("Capture method", result.capture_method),
    ])
    param_rows = [
        ("Total", units.exact(params.total)),
        ("Trainable", f"{params.trainable:,}"),
        ("Non-trainable", f"{params.non_trainable:,}"),
    ]
    param_rows += [(f"  {dtype}", f"{n:,}") for dtype, n in params.by_dtype.items()]
    if params.buffers:
        param_rows.append(("Buffers (not params)", f"{params.buffers:,}"))
    memory_rows = [
        ("Weights (params + buffers)", units.size(memory.weights_bytes)),
        ("Inputs", units.size(memory.inputs_bytes)),
        ("Outputs", units.size(memory.outputs_bytes)),
        ("Activations (all, forward)", units.size(memory.activations_bytes)),
        ("Peak live activations", units.size(memory.peak_activations_bytes)),
    ]
    if memory.gradients_bytes is not None:
        memory_rows.append(("Gradients", units.size(memory.gradients_bytes)))
    if memory.training is not None:
        memory_rows += training_rows(memory.training)
    return [
        header,
        kv_table("PARAMETERS", param_rows),
        kv_table("COMPUTE (1 MAC = 2 FLOPs)", compute_rows(result, unit)),
        kv_table("MEMORY (1 MiB = 1024² bytes)", memory_rows),
        bottleneck_table(result),
    ]


def training_rows(peak: TrainingPeak) -> list[tuple[str, str]]:
    """The training step's peak, then each line of its breakdown (zero lines left out)."""
    how = [peak.optimizer] + (["mixed precision"] if peak.mixed_precision else [])
    if peak.activation_checkpointing:
        how.append("checkpointing " + (", ".join(peak.checkpointed_blocks) or "no blocks found"))
    rows = [(f"Training peak ({', '.join(how)}; at {peak.at})", units.size(peak.peak_bytes))]
    rows += [(f"  {line.name}", units.size(line.bytes) + (f" ({line.note})" if line.note else ""))
             for line in peak.lines if line.bytes]
    return rows


def bottleneck_table(result: ProfileResult) -> Table:
    rows = []
    for summary in filter(None, (result.bottleneck, result.backward_bottleneck)):
        total = summary.compute_bound_ops + summary.memory_bound_ops
        prefix = "" if summary.phase == "forward" else "Backward: "
        rows += [
            (f"{prefix}Compute-bound ops",
             f"{summary.compute_bound_ops} ({units.percent(summary.compute_bound_ops, total)} of ops,"
             f" {summary.compute_bound_time_share:.1%} of time)"),
            (f"{prefix}Memory-bound ops",
             f"{summary.memory_bound_ops} ({units.percent(summary.memory_bound_ops, total)} of ops,"
             f" {summary.memory_bound_time_share:.1%} of time)"),
            (f"{prefix}Arithmetic intensity", f"{summary.arithmetic_intensity:.1f} FLOPs "
             "(all ops)/byte"
             f" (ridge {summary.ridge_point:.1f})"),
            (f"{prefix}Predicted time", units.duration(summary.predicted_time_s)),
        ]
    return kv_table(f"BOTTLENECK on {result.hardware.name}", rows)


def module_table(result: ProfileResult, depth: int = 2, show_shapes: bool = False,
                 unit: str = "flops") -> Table:
    total_flops = result.flops.forward or 1
    divisor, name = (FLOPS_PER_MAC, "MACs") if unit == "macs" else (1, "FLOPs")
    fixed = {"no_wrap": True}
    columns = [
        Column("Module", lambda m: "  " * m.depth + (m.path.rsplit(".", 1)[-1] or "(root)"),
               options=fixed),
        Column("Class", "class_name", options={"style": "dim", **fixed}, drop=3),
        right("Params", "params", units.count, **fixed),
        right(f"{name}\n(matmul)", lambda m: m.flops // divisor, units.count, **fixed),
        right(f"% {name}", lambda m: units.percent(m.flops, total_flops), drop=4, **fixed),
        right("Bytes", "bytes", units.size, **fixed),
    ]
    if result.flops.backward is not None:
        columns.append(right(f"Bwd {name}\n(matmul)", lambda m: m.backward_flops // divisor, units.count,
                             **fixed))
    if show_shapes:
        columns += [Column("Input shapes", "input_shapes", units.shapes, drop=6),
                    Column("Output shapes", "output_shapes", units.shapes, drop=5)]
    return table(columns, [m for m in result.modules if m.depth <= depth],
                 f"MODULES (depth ≤ {depth}; FLOPs/bytes inclusive)")


def top_ops_columns(unit: str = "flops") -> tuple[Column, ...]:
    """The top-ops table; its count column in FLOPs or MACs (unit="macs": FLOPs / 2)."""
    divisor, name = (FLOPS_PER_MAC, "MACs") if unit == "macs" else (1, "FLOPs")
    return (*TOP_OPS[:3], right(f"{name}\n(matmul)", lambda g: g.flops // divisor, units.count,
                                 no_wrap=True),
            *TOP_OPS[4:])


# Long kernel names fold rather than squeeze the shapes.
TOP_OPS = (
    Column("Op", lambda g: g.first.name.removeprefix("aten.").removesuffix(".default"),
           options={"overflow": "fold", "max_width": 28, "min_width": 12}),
    Column("Module", lambda g: g.module_pattern or "(root)",
           options={"overflow": "fold", "max_width": 30, "min_width": 16}),
    right("×", "count", no_wrap=True),
    right("FLOPs\n(matmul)", "flops", units.count, no_wrap=True),  # top_ops_columns swaps in MACs
    right("Bytes", "bytes", units.size, no_wrap=True),
    right("FLOPs/B\n(all)", lambda g: f"{g.first.intensity:.1f}", drop=4, no_wrap=True),
    Column("Bound", lambda g: g.first.bound, options={"no_wrap": True}, drop=2),
    right("Time each", lambda g: g.first.time_s, units.duration, drop=3, no_wrap=True),
    Column("Input shapes", lambda g: g.first.input_shapes, units.shapes, drop=5),
)


def top_ops_table(result: ProfileResult, key: str, k: int, unit: str = "flops") -> Table:
    label = {"flops": "MATMUL-CLASS MACS" if unit == "macs" else "MATMUL-CLASS FLOPS",
             "bytes": "BYTES"}[key]
    return table(top_ops_columns(unit), result.top_ops(key, k),
                 f"TOP {k} OPS BY {label} (forward; repeated layers grouped)")


def render_profile(result: ProfileResult, console: Console, *, depth: int = 2,
                   show_shapes: bool = False, top: int = 10, unit: str = "flops",
                   verbose: bool = False) -> None:
    """The profile's sections; notes on how the capture was made (block replay) only when
    `verbose`."""
    for part in summary_tables(result, unit):
        console.print(part)
    console.print(module_table(result, depth, show_shapes, unit))
    if top:
        console.print(top_ops_table(result, "flops", top, unit))
        console.print(top_ops_table(result, "bytes", top, unit))
    for note in shown_notes(result.notes, verbose):
        console.print(styled(f"note: {note}", "yellow"))


def shown_notes(notes: list[str], verbose: bool = False) -> list[str]:
    """The notes a console view prints: block-replay notes only when `verbose`."""
    return [note for note in notes if verbose or not is_replay_note(note)]


UNSUPPORTED = (Column("Op", "name"), Column("Count", "count"),
               Column("Modules", "modules", ", ".join),
               Column("Example input shapes", "example_shapes", units.shapes))


def unsupported_table(result: ProfileResult) -> Group | Text:
    if not result.unsupported:
        return Text("Every op the capture met has a FLOP convention.", style="green")
    return Group(table(UNSUPPORTED, result.unsupported, "OPS WITH NO FLOP CONVENTION (counted as 0)",
                       title_style="bold yellow"))


FITS = (right("quantity", "quantity"), right("a", "a", "{:.4g}".format),
        right("b", "b", "{:.4g}".format), right("c", "c", "{:.4g}".format),
        right("max rel. error", "max_relative_error", "{:.1e}".format))


def sweep_table(result: SweepResult) -> Group:
    """Profiles at several sizes and the fitted growth a + b·s + c·s²."""
    points = (right(result.dimension, "size"), right("FLOPs (matmul)", "flops", units.count),
              right("FLOPs (all)", "flops_all", units.count),
              right("Bytes moved", "bytes", units.size),
              right("Peak activations", "peak_activations_bytes", units.size),
              right(f"Predicted time ({result.hardware})", "predicted_time_s", units.duration))
    return Group(table(points, result.points, f"{result.model}: scaling with {result.dimension}"),
                 table(FITS, result.fits, "Fit: value ≈ a + b·s + c·s²"))


CHIP_TIMES = (Column("Chip", lambda r: r[0].id), Column("Phase", lambda r: r[1]),
              right("Time", lambda r: r[2].time_s, units.duration),
              right("Compute-bound share", lambda r: f"{r[2].compute_bound_share:.1%}"),
              right("All FLOPs/byte", lambda r: f"{r[2].intensity:.1f}"))


def chip_table(result: ProfileResult, chips: list[Chip]) -> Table:
    """Predicted time of each captured phase on every chip (`report`)."""
    rows = [(chip, phase, totals) for chip in chips for phase in ("forward", "backward")
            if (totals := view.chip_totals(result, chip, phase))]
    return table(CHIP_TIMES, rows, "PREDICTED TIME PER CHIP (roofline, ops run one after another)")
