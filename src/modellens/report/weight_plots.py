"""Weight-distribution plots: grids of per-layer histograms with the statistics in each title.

Histograms arrive precomputed (`tasks.model_info.layer_histograms`), so plotting never touches the
weights. Many layers are split into pages of `per_page` plots: `out.png`, `out-2.png`, ...
matplotlib is optional and imported only here, through its object API on the Agg canvas (no
pyplot state, no global backend switch).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from ..measure.weights import Histogram
    from ..tasks.model_info import LayerInfo

MAX_COLUMNS = 4
NAME_CHARS = 48
HEAVY_TAILS = 10.0  # excess kurtosis above which the y axis goes logarithmic, to show outliers


def require_matplotlib() -> None:
    """ImportError (with the install hint) when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError("matplotlib is not installed (pip install 'modellens[plots]')") from exc


def page_paths(path: str | Path, pages: int) -> list[Path]:
    """out.png, out-2.png, out-3.png, ..."""
    path = Path(path)
    return [path] + [path.with_name(f"{path.stem}-{i}{path.suffix}") for i in range(2, pages + 1)]


def _short(name: str) -> str:
    from .text import for_plot

    name = name if len(name) <= NAME_CHARS else "…" + name[-(NAME_CHARS - 1):]
    return for_plot(name)


def _stat(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _draw(ax, layer: LayerInfo, hist: Histogram) -> None:
    heavy = layer.kurtosis is not None and layer.kurtosis > HEAVY_TAILS
    ax.stairs(hist.counts, hist.edges, fill=True, color="tab:blue", alpha=0.75)
    if heavy:
        ax.set_yscale("log")
    if layer.mean is not None:
        ax.axvline(layer.mean, color="tab:red", linewidth=0.8)
    kurt = "" if layer.kurtosis is None else f"  kurt {layer.kurtosis:.1f}"
    if heavy:
        kurt += " (log y)"
    ax.set_title(f"{_short(layer.name)}  {tuple(layer.shape)}\n"
                 f"μ {_stat(layer.mean)}  σ {_stat(layer.std)}  "
                 f"[{_stat(layer.min)}, {_stat(layer.max)}]{kurt}", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.locator_params(axis="x", nbins=5)
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 3))


def _save(fig, path: Path) -> None:
    from .plots import save

    save(fig, path, dpi=110)


def save_histogram_grid(pairs: Sequence[tuple[LayerInfo, Histogram]], path: str | Path, *,
                        per_page: int = 16, title: str = "") -> list[Path]:
    """One grid of up to `per_page` histograms per page; returns the files written."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    per_page = max(1, per_page)
    pages = [pairs[i:i + per_page] for i in range(0, len(pairs), per_page)]
    paths = page_paths(path, len(pages))
    for number, (page, out) in enumerate(zip(pages, paths), 1):
        cols = min(MAX_COLUMNS, len(page))
        rows = math.ceil(len(page) / cols)
        height = 3.0 * rows + 1.0
        fig = Figure(figsize=(4.4 * cols, height))  # fixed margins: constrained layout is slow
        FigureCanvasAgg(fig)
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax, (layer, hist) in zip(axes, page):
            _draw(ax, layer, hist)
        for ax in axes[len(page):]:
            ax.set_visible(False)
        suffix = f" (page {number} of {len(pages)})" if len(pages) > 1 else ""
        fig.suptitle(f"{title}{suffix}", fontsize=11)
        fig.subplots_adjust(left=0.06, right=0.98, bottom=0.5 / height, top=1 - 0.95 / height,
                            wspace=0.25, hspace=0.7)
        _save(fig, out)
    return paths


def save_distributions(source: str, pairs: Sequence[tuple[LayerInfo, Histogram]],
                       path: str | Path, *, per_page: int = 16) -> list[str]:
    """The weight distributions of a model or checkpoint (`source`), paged; the files written
    (none when no tensor has statistics)."""
    if not pairs:
        return []
    from .text import for_plot

    title = for_plot(f"{Path(source).name or source}: weight distributions")
    return [str(p) for p in save_histogram_grid(pairs, path, per_page=per_page, title=title)]
