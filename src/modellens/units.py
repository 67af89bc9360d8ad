"""The one humanizer: numbers for renderers. Bytes use base 1024 (KiB, MiB, GiB); counts base 1000."""

from __future__ import annotations

from typing import Iterable

Steps = tuple[tuple[float, str], ...]
DECIMAL: Steps = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K"))
BINARY: Steps = ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"))
PARAMS: Steps = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))  # model sizes: 7B, 124M


def scale(value: float, steps: Steps = DECIMAL, base: str = "") -> tuple[float, str]:
    """(divisor, prefix) that shows `value` as a number below the next step: 2.5e9 -> (1e9, 'G');
    (1, base) below the smallest step."""
    for factor, prefix in steps:
        if abs(value) >= factor:
            return factor, prefix
    return 1.0, base


def count(value: float | int | None, unit: str = "") -> str:
    """1234567 -> '1.23 M'; with unit 'FLOPs' -> '1.23 GFLOPs'."""
    if value is None:
        return "-"
    factor, prefix = scale(value)
    if factor == 1:
        return f"{value:g} {unit}".rstrip()
    return f"{value / factor:.2f} {prefix}{unit}".rstrip()


def exact(value: int | None, unit: str = "") -> str:
    """The count and the exact number: '1.23 M (1,234,567)'."""
    return "-" if value is None else f"{count(value, unit)} ({value:,})"


def significant(value: float, unit: str = "", steps: Steps = DECIMAL, sep: str = " ") -> str:
    """Three significant digits: 1.56e14 FLOP/s -> '156 TFLOP/s'; with PARAMS, sep '': '7.24B'."""
    factor, prefix = scale(value, steps)
    return f"{value / factor:.3g}{sep}{prefix}{unit}"


def size(value: float | int | None) -> str:
    """Bytes, base 1024: 1536 -> '1.50 KiB'."""
    if value is None:
        return "-"
    factor, name = scale(value, BINARY)
    if factor == 1:
        return f"{int(value)} B"
    return f"{value / factor:.2f} {name}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds * 1e6:.1f} µs"


def percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def number(value: float | None) -> str:
    """A statistic: six decimals in the usual weight range, scientific outside it."""
    if value is None:
        return "-"
    if value == 0:
        return "0"
    return f"{value:.6f}" if 1e-4 <= abs(value) < 1e5 else f"{value:.3e}"


def shape(dims: Iterable[int]) -> str:
    """(768, 3072)"""
    return str(tuple(dims))


def shapes(shape_list: list[list[int]]) -> str:
    """[1, 128], [1, 128]"""
    return ", ".join("[" + ", ".join(map(str, s)) + "]" for s in shape_list)
