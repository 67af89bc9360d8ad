"""The HTML report's LLM section: tasks.llm's LLMReport (prefill, decode points, KV cache,
memory fit on its chip) plus decode tokens/s vs batch on every chip of the report, read from
the report's own batch scaling (nothing here recomputes a step)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..hardware import Chip

if TYPE_CHECKING:
    from ..tasks.llm import LLMReport

BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def llm_section(report: LLMReport, chips: list[Chip]) -> dict[str, Any]:
    """report.to_dict() and, per chip, its usable memory and tokens/s at each of BATCHES."""
    headroom = report.settings["memory_headroom"] * report.settings["gpus"]
    return {
        **report.to_dict(),
        "batches": list(BATCHES),
        "per_chip": [{"chip": chip.id, "name": chip.name,
                      "usable_bytes": int(chip.memory_bytes * headroom),
                      "tokens_per_second": report.tokens_per_second_by_batch(list(BATCHES), chip)}
                     for chip in chips],
    }
