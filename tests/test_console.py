"""Renderer building blocks: the one humanizer (units), declarative column specs, progress,
and how a command handler reports errors."""

import argparse
import io
from dataclasses import dataclass

import pytest
from rich.console import Console

from modellens import units
from modellens.commands.common import EXIT_ERROR, EXIT_INTERNAL, run_handler
from modellens.errors import SpecError
from modellens.report.console.columns import PLAIN, Column, kv_table, right, table
from modellens.report.progress import progress_bar, spinner


def test_units_by_hand():
    assert units.scale(2.5e9) == (1e9, "G") and units.scale(12) == (1.0, "")
    assert units.scale(3 * 2**30, units.BINARY, "bytes") == (2**30, "GiB")
    assert (units.count(1_234_567), units.count(999), units.count(None)) == ("1.23 M", "999", "-")
    assert units.count(32.23e9, "FLOPs") == "32.23 GFLOPs"
    assert (units.size(1536), units.size(512), units.size(5 * 2**40)) == (
        "1.50 KiB", "512 B", "5.00 TiB")
    assert units.exact(1_234_567, "FLOPs") == "1.23 MFLOPs (1,234,567)"
    assert units.significant(1.56e14, "FLOP/s") == "156 TFLOP/s"
    assert units.significant(7.24e9, steps=units.PARAMS, sep="") == "7.24B"
    assert units.significant(12, steps=units.PARAMS, sep="") == "12"
    assert (units.number(0.5), units.number(1e-7), units.number(0), units.number(None)) == (
        "0.500000", "1.000e-07", "0", "-")
    assert units.shape([768, 3072]) == "(768, 3072)"
    assert units.shapes([[1, 128], [3]]) == "[1, 128], [3]"


@dataclass
class Row:
    name: str
    params: int


def text(renderable, width=80) -> list[str]:
    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    console.print(renderable)
    return [line.rstrip() for line in console.export_text().splitlines()]


def test_a_table_is_built_from_column_specs():
    columns = (Column("name", "name"), right("params", "params", units.count),
               right("double", lambda r: r.params * 2))
    assert text(table(columns, [Row("a", 1500), Row("bb", 20)], "T", PLAIN)) == [
        "            T",
        "┏━━━━━━┳━━━━━━━━┳━━━━━━━━┓",
        "┃ name ┃ params ┃ double ┃",
        "┡━━━━━━╇━━━━━━━━╇━━━━━━━━┩",
        "│ a    │ 1.50 K │   3000 │",
        "│ bb   │     20 │     40 │",
        "└──────┴────────┴────────┘",
    ]


def test_dict_and_tuple_rows_and_key_value_sections():
    dict_rows = table([Column("k", "key"), right("v", "value")], [{"key": "x", "value": 7}])
    assert text(dict_rows)[1:4] == ["  k   v", " ───────", "  x   7"]
    pairs = kv_table("SECTION", [("Parameters", "1.23 M"), ("Layers", "12")])  # tuple rows
    assert text(pairs) == ["SECTION", "", " Parameters   1.23 M", " Layers           12", ""]


def test_progress_draws_nothing_off_a_terminal():
    with progress_bar("work") as progress:
        assert progress is None
    with spinner("work"):
        pass


@pytest.mark.parametrize("error, code, needle", [
    (SpecError("unknown model 'x'"), EXIT_ERROR, "modellens: error: unknown model 'x'"),
    (ValueError("boom\nsecond line"), EXIT_INTERNAL,
     "modellens: internal error: ValueError: boom (rerun with --debug"),
])
def test_run_handler_reports_one_line(capsys, error, code, needle):
    def handler(args):
        raise error

    assert run_handler(argparse.Namespace(handler=handler)) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(needle)


def test_run_handler_with_debug_shows_the_internal_error():
    def handler(args):
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_handler(argparse.Namespace(handler=handler, debug=True))
