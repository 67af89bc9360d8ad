"""Rich console rendering of a ProfileResult."""

from __future__ import annotations

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from .. import units
from ..analysis.results import ProfileResult
from ..costing.cost import FLOPS_PER_MAC


def _kv_table(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_header=False,
                  title_style="bold cyan", pad_edge=False)
    table.add_column("key", style="bold")
    table.add_column("value", justify="right")
    for key, value in rows:
        table.add_row(key, value)
    return table


def _exact(value: int | None, unit: str) -> str:
    return "-" if value is None else f"{units.count(value, unit)} ({value:,})"


def compute_rows(result: ProfileResult, unit: str = "flops") -> list[tuple[str, str]]:
    """FLOPs (or MACs with unit="macs": FLOPs / 2) rows of the summary."""
    flops = result.flops
    divisor, name = (FLOPS_PER_MAC, "MACs") if unit == "macs" else (1, "FLOPs")

    def value(x: int | None) -> int | None:
        return None if x is None else x // divisor

    rows = [
        (f"Forward {name} (matmul-class)", _exact(value(flops.forward), name)),
        (f"Forward {name} (all ops)", _exact(value(flops.forward_all), name)),
    ]
    if unit != "macs":
        rows.insert(1, ("Forward MACs", _exact(flops.forward_macs, "MACs")))
    if flops.backward is not None:
        ratio = f"  ({flops.backward / flops.forward:.2f}x fwd)" if flops.forward else ""
        rows.append((f"Backward {name} (matmul-class)", _exact(value(flops.backward), name) + ratio))
        rows.append((f"Backward {name} (all ops)", _exact(value(flops.backward_all), name)))
    if result.moe is not None:
        moe = result.moe
        rows += [
            ("MoE experts (active per token)", f"{moe.num_experts} ({moe.experts_per_token})"),
            ("MoE active params per token", _exact(moe.active_params, "")),
            (f"Forward {name}, top-{moe.experts_per_token} experts",
             _exact(value(moe.forward_flops_active), name)),
            (f"Forward {name}, every expert", _exact(value(moe.forward_flops_all_experts), name)),
        ]
    return rows


def summary_tables(result: ProfileResult, unit: str = "flops") -> list[Table]:
    memory, params = result.memory, result.params
    header = _kv_table("MODEL", [
        ("Model", result.model),
        ("Class", f"{result.model_class} ({result.source})"),
        ("Input", result.input_description),
        ("Capture method", result.capture_method),
    ])
    param_rows = [
        ("Total", _exact(params.total, "")),
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
    return [
        header,
        _kv_table("PARAMETERS", param_rows),
        _kv_table("COMPUTE (1 MAC = 2 FLOPs)", compute_rows(result, unit)),
        _kv_table("MEMORY (1 MiB = 1024² bytes)", memory_rows),
        bottleneck_table(result),
    ]


def bottleneck_table(result: ProfileResult) -> Table:
    chip = result.hardware
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
            (f"{prefix}Arithmetic intensity", f"{summary.arithmetic_intensity:.1f} FLOPs/byte"
             f" (ridge {summary.ridge_point:.1f})"),
            (f"{prefix}Predicted time", units.duration(summary.predicted_time_s)),
        ]
    return _kv_table(f"BOTTLENECK on {chip.name}", rows)


def module_table(result: ProfileResult, depth: int = 2, show_shapes: bool = False,
                 unit: str = "flops") -> Table:
    total_flops = result.flops.forward or 1
    divisor, name = (FLOPS_PER_MAC, "MACs") if unit == "macs" else (1, "FLOPs")
    table = Table(title=f"MODULES (depth ≤ {depth}; FLOPs/bytes inclusive)", title_justify="left",
                  title_style="bold cyan", box=box.SIMPLE_HEAD)
    table.add_column("Module", no_wrap=True)
    table.add_column("Class", style="dim", no_wrap=True)
    for column in ("Params", name, f"% {name}", "Bytes") + (
        (f"Bwd {name}",) if result.flops.backward is not None else ()
    ):
        table.add_column(column, justify="right", no_wrap=True)
    if show_shapes:
        table.add_column("Input shapes")
        table.add_column("Output shapes")
    for module in result.modules:
        if module.depth > depth:
            continue
        label = ("  " * module.depth) + (module.path.rsplit(".", 1)[-1] or "(root)")
        row = [label, module.class_name, units.count(module.params),
               units.count(module.flops // divisor), units.percent(module.flops, total_flops),
               units.size(module.bytes)]
        if result.flops.backward is not None:
            row.append(units.count(module.backward_flops // divisor))
        if show_shapes:
            row += [units.shapes(module.input_shapes), units.shapes(module.output_shapes)]
        table.add_row(*row)
    return table


def top_ops_table(result: ProfileResult, key: str, k: int) -> Table:
    label = {"flops": "FLOPs", "bytes": "bytes"}[key]
    table = Table(title=f"TOP {k} OPS BY {label.upper()} (forward; repeated layers grouped)",
                  title_justify="left", title_style="bold cyan", box=box.SIMPLE_HEAD)
    for column, justify in (("Op", "left"), ("Module", "left"), ("×", "right"),
                            ("FLOPs", "right"), ("Bytes", "right"), ("FLOPs/B", "right"),
                            ("Bound", "left"), ("Time each", "right"), ("Input shapes", "left")):
        if column == "Op":  # long kernel names fold rather than squeeze the shapes
            table.add_column(column, overflow="fold", max_width=28)
        else:
            table.add_column(column, justify=justify, no_wrap=column != "Input shapes")
    for group in result.top_ops(key, k):
        row = group.first
        table.add_row(
            row.name.removeprefix("aten.").removesuffix(".default"),
            group.module_pattern or "(root)", str(group.count),
            units.count(group.flops), units.size(group.bytes), f"{row.intensity:.1f}",
            row.bound, units.duration(row.time_s), units.shapes(row.input_shapes),
        )
    return table


def render_profile(result: ProfileResult, console: Console, *, depth: int = 2,
                   show_shapes: bool = False, top: int = 10, unit: str = "flops") -> None:
    for table in summary_tables(result, unit):
        console.print(table)
    console.print(module_table(result, depth, show_shapes, unit))
    if top:
        console.print(top_ops_table(result, "flops", top))
        console.print(top_ops_table(result, "bytes", top))
    for note in result.notes:
        console.print(Text(f"note: {note}", style="yellow"))


def unsupported_table(result: ProfileResult) -> Group | Text:
    if not result.unsupported:
        return Text("Every op the capture met has a FLOP convention.", style="green")
    table = Table(title="OPS WITH NO FLOP CONVENTION (counted as 0)", title_justify="left",
                  title_style="bold yellow", box=box.SIMPLE_HEAD)
    for column in ("Op", "Count", "Modules", "Example input shapes"):
        table.add_column(column)
    for op in result.unsupported:
        table.add_row(op.name, str(op.count), ", ".join(op.modules), units.shapes(op.example_shapes))
    return Group(table)


def sweep_table(result) -> Group:
    """Profiles at several sizes and the fitted growth a + b·s + c·s²."""
    table = Table(title=f"{result.model}: scaling with {result.dimension}", title_justify="left",
                  title_style="bold cyan", box=box.SIMPLE_HEAD)
    for column in (result.dimension, "FLOPs", "FLOPs (all)", "Bytes moved", "Peak activations",
                   f"Predicted time ({result.hardware})"):
        table.add_column(column, justify="right")
    for p in result.points:
        table.add_row(str(p.size), units.count(p.flops), units.count(p.flops_all),
                      units.size(p.bytes), units.size(p.peak_activations_bytes),
                      units.duration(p.predicted_time_s))
    fits = Table(title="Fit: value ≈ a + b·s + c·s²", title_justify="left",
                 title_style="bold cyan", box=box.SIMPLE_HEAD)
    for column in ("quantity", "a", "b", "c", "max rel. error"):
        fits.add_column(column, justify="right")
    for fit in result.fits:
        fits.add_row(fit.quantity, f"{fit.a:.4g}", f"{fit.b:.4g}", f"{fit.c:.4g}",
                     f"{fit.max_relative_error:.1e}")
    return Group(table, fits)
