"""Human-readable numbers for renderers. Bytes use base 1024 (KiB, MiB, GiB); counts base 1000."""

from __future__ import annotations


def count(value: float | int | None, unit: str = "") -> str:
    """1234567 -> '1.23 M'; with unit 'FLOPs' -> '1.23 GFLOPs'."""
    if value is None:
        return "-"
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= factor:
            return f"{value / factor:.2f} {prefix}{unit}".rstrip()
    return f"{value:g} {unit}".rstrip()


def size(value: float | int | None) -> str:
    """Bytes, base 1024: 1536 -> '1.50 KiB'."""
    if value is None:
        return "-"
    for factor, name in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if abs(value) >= factor:
            return f"{value / factor:.2f} {name}"
    return f"{int(value)} B"


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


def shapes(shape_list: list[list[int]]) -> str:
    return ", ".join("[" + ", ".join(map(str, s)) + "]" for s in shape_list)
