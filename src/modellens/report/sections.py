"""A result as a document of plain tables, the one source of the markdown (`--format markdown`)
and LaTeX (`--format latex`) views: `Document(title, sections, footnote)`, each `Section` a
header and rows of text cells (`Code` for identifiers, indented by tree depth). The builders
here read result objects; `markdown.document_markdown` and `latex.document_latex` render."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from .. import units
from ..costing.cost import FLOPS_PER_MAC
from .compare import cells as compare_cells

if TYPE_CHECKING:
    from ..analysis.results import ProfileResult
    from ..tasks.compare import CompareResult
    from ..tasks.llm import LLMReport
    from ..tasks.matrices import MatricesResult


@dataclass(frozen=True)
class Code:
    """An identifier (model, module, op): shown as code, `indent` levels in."""

    text: str
    indent: int = 0


Cell = Union[str, Code]


@dataclass(frozen=True)
class Section:
    """One table: `numbers` are the indices of right-aligned (numeric) columns."""

    title: str
    header: list[Cell]
    rows: list[list[Cell]]
    numbers: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Document:
    title: str
    sections: list[Section]
    footnote: str = ""
    notes: list[str] = field(default_factory=list)


def key_values(title: str, pairs: list[tuple[str, Cell]]) -> Section:
    """A (quantity, value) section."""
    return Section(title, ["", "value"], [[k, v] for k, v in pairs], frozenset({1}))


def _unit(unit: str) -> tuple[int, str]:
    return (FLOPS_PER_MAC, "MACs") if unit == "macs" else (1, "FLOPs")


# ---------------------------------------------------------------- profile

def profile_document(result: ProfileResult, depth: int = 2, top: int = 10,
                     unit: str = "flops") -> Document:
    """Summary, modules to `depth`, top ops by FLOPs (MACs with unit="macs"), time per chip
    when several chips were asked."""
    divisor, name = _unit(unit)
    flops, memory = result.flops, result.memory
    summary: list[tuple[str, Cell]] = [
        ("Model", Code(result.model)),
        ("Class", result.model_class),
        ("Input", result.input_description),
        ("Capture method", result.capture_method),
        ("Params", units.exact(result.params.total)),
        (f"Forward {name} (matmul-class)", units.exact(flops.forward // divisor, name)),
        (f"Forward {name} (all ops)", units.exact(flops.forward_all // divisor, name)),
    ]
    if flops.backward is not None:
        summary.append((f"Backward {name} (matmul-class)",
                        units.exact(flops.backward // divisor, name)))
    summary += [
        ("Attention", result.attention.describe()),
        ("Weights", units.size(memory.weights_bytes)),
        ("Peak live activations", units.size(memory.peak_activations_bytes)),
        (f"Predicted time ({result.hardware.name})",
         units.duration(result.bottleneck.predicted_time_s)),
        ("Arithmetic intensity", f"{result.bottleneck.arithmetic_intensity:.1f} FLOPs "
                                 "(all ops)/byte"),
    ]
    sections = [key_values("Summary", summary), Section(
        f"Modules (depth ≤ {depth}; inclusive)",
        ["Module", "Class", "Params", f"{name} (matmul)", "Bytes"],
        [[Code(m.path.rsplit(".", 1)[-1] or "(root)", m.depth), m.class_name,
          units.count(m.params), units.count(m.flops // divisor), units.size(m.bytes)]
         for m in result.modules if m.depth <= depth], frozenset(range(2, 5)))]
    if top:
        sections.append(Section(
            f"Top {top} ops by matmul-class {name} (forward; repeated layers grouped)",
            ["Op", "Module", "×", f"{name} (matmul)", "Bytes", "Bound"],
            [[Code(g.first.name), Code(g.module_pattern or "(root)"), str(g.count),
              units.count(g.flops // divisor), units.size(g.bytes), g.first.bound]
             for g in result.top_ops("flops", top)], frozenset(range(2, 5))))
    if len(result.per_chip) > 1:
        sections.append(Section(
            "Predicted time per chip", ["Chip", "Phase", "Time", "Compute-bound share"],
            [[Code(c.chip.id), b.phase, units.duration(b.predicted_time_s),
              f"{b.compute_bound_time_share:.1%}"]
             for c in result.per_chip for b in (c.bottleneck, c.backward_bottleneck) if b],
            frozenset({2, 3})))
    return Document(result.model, sections, "1 MiB = 1024² bytes; 1 MAC = 2 FLOPs.")


# ---------------------------------------------------------------- compare

def compare_document(result: CompareResult) -> Document:
    """Quantities down, models across (one table, no heading)."""
    header: list[Cell] = ["", *(Code(m.model) for m in result.models)]
    notes = ", ".join(f"{chip} = {name}" for chip, name in result.chip_names.items())
    return Document("", [Section("", header, [list(row) for row in compare_cells(result)],
                                 frozenset(range(1, len(header))))],
                    f"Predicted forward times on {notes}; 1 MiB = 1024² bytes; 1 MAC = 2 FLOPs.")


# ---------------------------------------------------------------- matrices

def matrices_document(result: MatricesResult) -> Document:
    """One row per model (as the console table)."""
    rows = [[Code(m.name), f"{m.total_matrices:,}", f"{m.total_matrix_params:,}",
             f"{m.model_params:,}", units.size(m.matrix_bytes),
             "-" if m.max_sequence_length is None else f"{m.max_sequence_length:,}",
             "unknown" if m.forward_flops is None else units.count(m.forward_flops, "FLOPs"),
             units.duration(m.stream_time_s)] for m in result.models]
    header: list[Cell] = ["Model", "Matrices", "Matrix params", "Model params", "Matrix bytes",
                          "Max seq", "Fwd FLOPs", "Stream time"]
    return Document("Weight matrices", [Section("", header, rows, frozenset(range(1, 8)))],
                    f"Stream time: every matrix read once at {result.bandwidth_source}; "
                    "1 MiB = 1024² bytes.")


# ---------------------------------------------------------------- llm

def llm_document(report: LLMReport) -> Document:
    """Settings and memory, prefill, decode per context, generation, training, chips."""
    s, prefill = report.settings, report.prefill
    turn = report.compute_bound_from_batch
    sections = [
        key_values("Settings and memory", [
            ("Batch × (prompt + generated)",
             f"{s['batch_size']} × ({s['prompt_len']} + {s['gen_len']})"),
            ("Weights / KV cache dtype", f"{s['weight_dtype']} / {s['kv_dtype']}"),
            ("GPUs (tp × pp)", f"{s['gpus']} ({s['tp']} × {s['pp']})"),
            ("Params (active per token)",
             f"{units.count(report.params)} ({units.count(report.active_params)})"),
            ("Weights", units.size(report.weights_bytes)),
            ("KV cache per token (one sequence)", units.size(report.kv_bytes_per_token)),
            ("KV cache, whole batch at full context", units.size(report.kv_cache_bytes)),
            ("Needed / available", f"{units.size(report.memory_needed_bytes)} / "
                                   f"{units.size(report.memory_available_bytes)} "
                                   f"({'fits' if report.fits else 'does not fit'})"),
            ("Largest batch at full context", str(report.max_batch)),
            ("Longest context at this batch", f"{report.max_context:,}"),
        ]),
        key_values("Prefill and generation", [
            ("Prefill FLOPs", units.count(prefill.flops, "FLOPs")),
            ("Prefill bytes moved", units.size(prefill.bytes)),
            ("Prefill bound", f"{prefill.bound} ({prefill.intensity:.0f} FLOPs/byte)"),
            ("Time to first token", units.duration(report.time_to_first_token_s)),
            ("Decode time (all tokens)", units.duration(report.decode_time_s)),
            ("Decode tokens/s (batch, average)", f"{report.decode_tokens_per_second:,.0f}"),
            ("End to end", units.duration(report.end_to_end_s)),
            ("Decode turns compute-bound from batch",
             str(turn) if turn else "never (KV reads grow with the batch)"),
        ]),
        Section("Decode (one step, whole batch)",
                ["Context", "FLOPs", "Bytes", "of which KV", "Bound", "Step time", "Tokens/s"],
                [[f"{p.context:,}", units.count(p.step.flops), units.size(p.step.bytes),
                  units.size(p.step.kv_bytes), p.step.bound, units.duration(p.step.time_s),
                  f"{p.tokens_per_second:,.0f}"] for p in report.decode],
                frozenset({0, 1, 2, 3, 5, 6})),
    ]
    if report.training is not None:
        t = report.training
        sections.append(key_values(f"Training ({t.optimizer}, seq {s.get('train_seq_len')})", [
            ("Weights + grads + optimizer",
             f"{units.size(t.weights_bytes + t.gradients_bytes + t.optimizer_bytes)}"),
            ("Activations per sequence (no / with checkpointing)",
             f"{units.size(t.activations_bytes)} / {units.size(t.activations_checkpointed_bytes)}"),
            ("FLOPs per token (fwd + bwd)", units.count(report.training_flops_per_token, "FLOPs")),
            (f"Tokens/day at {s['mfu']:.0%} MFU", units.count(report.training_tokens_per_day)),
        ]))
    if report.chips:
        sections.append(Section(
            "Per chip", ["Chip", "First token", "Decode tok/s", "End to end", "Fits",
                         "Max batch", "Train tok/day"],
            [[Code(e.chip.id), units.duration(e.time_to_first_token_s),
              f"{e.decode_tokens_per_second:,.0f}", units.duration(e.end_to_end_s),
              "yes" if e.fits else "no", f"{e.max_batch:,}",
              "-" if e.training_tokens_per_day is None else units.count(e.training_tokens_per_day)]
             for e in report.chips], frozenset({1, 2, 3, 5, 6})))
    return Document(f"{report.model} on {report.hardware.name}", sections,
                    "1 GiB = 1024³ bytes; 1 MAC = 2 FLOPs.")
