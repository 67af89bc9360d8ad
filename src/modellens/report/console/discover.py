"""Console view of a discovery sweep (`discover`): models per library, the models that failed (or
every model), params and FLOPs per stage; and one model in full (`discover --test-model`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from ... import units
from ..markdown import SUMMARY_HEADER, summary_cells
from ..text import clean
from .columns import PLAIN, Column, right, table
from .profile import render_profile

if TYPE_CHECKING:
    from ...analysis.results import ProfileResult
    from ...tasks.discover import DiscoveryResult, ModelResult

# At 80 columns the breakdown columns go first; library, tried, ok and the failures stay.
_SUMMARY_DROP = {"built": 8, "ok of built": 9, "runnable": 6, "ok of runnable": 7, "fake": 5,
                 "real": 4, "fail on real too": 3, "timeout": 2}
SUMMARY = tuple(Column(header, i, justify="left" if header == "library" else "right",
                       options={"no_wrap": True} if header == "library" else {},
                       drop=_SUMMARY_DROP.get(header, 0))
                for i, header in enumerate(SUMMARY_HEADER))
MODELS = (Column("model", "spec"), Column("status", "status"),
          Column("method", lambda r: r.method or "-"), right("params", "params", units.count),
          right("FLOPs fwd", "flops", units.count), right("seconds", "seconds", "{:.1f}".format),
          Column("reason", "reason"))


def line(model: ModelResult) -> str:
    """One model as one line: status, spec, and its numbers or why it failed."""
    if model.ok:
        return (f"ok      {model.spec}: {model.method}, {units.count(model.params)} params, "
                f"{units.count(model.flops, 'FLOPs')} fwd, {model.seconds:.1f} s")
    return f"{model.status:<7} {model.spec}: {model.reason} ({model.seconds:.1f} s)"


def render(result: DiscoveryResult, console: Console, verbose: bool = False,
           examples: bool = False) -> None:
    """The summary per library, the failed (`verbose`: every) model, the stage table, and
    (`examples`) a ready-to-run command per working model."""
    console.print(table(SUMMARY, [summary_cells(s) for s in result.summaries()],
                        "discover: models per library", PLAIN))
    shown = result.results if verbose else [r for r in result.results if not r.ok]
    if shown:
        console.print(table(MODELS, shown, "every model" if verbose else "models that failed",
                            PLAIN))
    staged = [r for r in result.results if r.stages]
    if staged:
        console.print(_stages_table(staged))
    console.print(f"{sum(r.ok for r in result.results)} of {len(result.results)} models ok "
                  f"in {result.seconds:.0f} s")
    if examples:
        console.print("\nready-to-run commands:")
        for command in result.examples():
            console.print(clean(command), markup=False, highlight=False)


def _stages_table(staged: list[ModelResult]):
    def cell(stage: str):
        return lambda r: next((f"{units.count(s.params)} / {units.count(s.flops)}"
                               for s in r.stages if s.stage == stage), "-")

    stages = list(dict.fromkeys(s.stage for r in staged for s in r.stages))
    columns = [Column("model", "spec"), *(right(stage, cell(stage)) for stage in stages)]
    return table(columns, staged, "by stage: params / forward FLOPs", PLAIN)


def render_one(model: ModelResult, profiled: ProfileResult | None, console: Console) -> None:
    """One model in full: its line, its inputs, and its whole profile when it worked."""
    console.print(clean(line(model)), markup=False, highlight=False)
    if model.input_description:
        console.print(clean(f"inputs: {model.input_description}"), markup=False, highlight=False)
    if profiled is not None:
        render_profile(profiled, console)
        console.print(clean(f"run it: modellens profile {model.spec}"), markup=False,
                      highlight=False)
