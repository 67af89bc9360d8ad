"""Rich console rendering of a ProfileResult."""

from __future__ import annotations

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ..results import ProfileResult
from . import units


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


def summary_tables(result: ProfileResult) -> list[Table]:
    flops, memory, params = result.flops, result.memory, result.params
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
    flop_rows = [
        ("Forward FLOPs (matmul-class)", _exact(flops.forward, "FLOPs")),
        ("Forward MACs", _exact(flops.forward_macs, "MACs")),
        ("Forward FLOPs (all ops)", _exact(flops.forward_all, "FLOPs")),
    ]
    if flops.backward is not None:
        ratio = f"  ({flops.backward / flops.forward:.2f}x fwd)" if flops.forward else ""
        flop_rows.append(("Backward FLOPs (matmul-class)", _exact(flops.backward, "FLOPs") + ratio))
        flop_rows.append(("Backward FLOPs (all ops)", _exact(flops.backward_all, "FLOPs")))
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
        _kv_table("COMPUTE", flop_rows),
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


def module_table(result: ProfileResult, depth: int = 2, show_shapes: bool = False) -> Table:
    total_flops = result.flops.forward or 1
    table = Table(title=f"MODULES (depth ≤ {depth}; FLOPs/bytes inclusive)", title_justify="left",
                  title_style="bold cyan", box=box.SIMPLE_HEAD)
    table.add_column("Module", no_wrap=True)
    table.add_column("Class", style="dim", no_wrap=True)
    for column in ("Params", "FLOPs", "% FLOPs", "Bytes") + (
        ("Bwd FLOPs",) if result.flops.backward is not None else ()
    ):
        table.add_column(column, justify="right", no_wrap=True)
    if show_shapes:
        table.add_column("Input shapes")
        table.add_column("Output shapes")
    for module in result.modules:
        if module.depth > depth:
            continue
        name = ("  " * module.depth) + (module.path.rsplit(".", 1)[-1] or "(root)")
        row = [name, module.class_name, units.count(module.params), units.count(module.flops),
               units.percent(module.flops, total_flops), units.size(module.bytes)]
        if result.flops.backward is not None:
            row.append(units.count(module.backward_flops))
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
        table.add_column(column, justify=justify, no_wrap=column != "Input shapes")
    for group in result.top_ops(key, k):
        row = group.first
        table.add_row(
            row.name.removeprefix("aten."), group.module_pattern or "(root)", str(group.count),
            units.count(group.flops), units.size(group.bytes), f"{row.intensity:.1f}",
            row.bound, units.duration(row.time_s), units.shapes(row.input_shapes),
        )
    return table


def render_profile(result: ProfileResult, console: Console, *, depth: int = 2,
                   show_shapes: bool = False, top: int = 10) -> None:
    for table in summary_tables(result):
        console.print(table)
    console.print(module_table(result, depth, show_shapes))
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
