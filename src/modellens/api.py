"""The public calls that compose a task with a renderer (the commands do the same for the CLI):
`dump_model_info` prints (or logs) a model's weight report and plots it, `plot_model_info` saves
the weight-distribution plots of a ModelInfo."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from .measure.checkpoints import TensorStore, as_store
from .report import weight_plots
from .tasks.model_info import ModelInfo, collect_model_info, layer_histograms

DEFAULT_PLOT_PATH = "model_weight_distributions.png"


def plot_model_info(info: ModelInfo, store: TensorStore, path: str | Path, *,
                    top: int | None = None, per_page: int = 16, bins: int = 60) -> list[str]:
    """Histogram grids of the parameters (the `top` largest, or all, paged); the files written.
    ImportError when matplotlib is missing."""
    weight_plots.require_matplotlib()
    pairs = layer_histograms(store, info.largest_layers(top), bins)
    return weight_plots.save_distributions(info.source, pairs, path, per_page=per_page)


def dump_model_info(model: Any, logger: logging.Logger | None = None,
                    plot_distributions: bool = True, save_path: str | None = None) -> ModelInfo:
    """Print (or log) a model's SUMMARY, LAYER DETAILS and WEIGHT STATISTICS, plot its weight
    distributions, and return them as a ModelInfo.

    `model` is an nn.Module, a state dict, or a checkpoint path (.safetensors, .pt, HF
    directory). Never raises: a problem (unreadable weights, no matplotlib, meta tensors, NaN)
    becomes an entry of `warnings` or `notes` in the result.
    """
    store = None
    try:
        store = as_store(model)
        info = collect_model_info(store)
    except Exception as exc:
        label = str(model) if isinstance(model, (str, Path)) else type(model).__name__
        info = ModelInfo(0, 0, 0, 0.0, [], 0, source=label,
                         warnings=[f"could not read the weights: {type(exc).__name__}: {exc}"])
    if plot_distributions and info.stats_available and store is not None:
        try:
            info.plot_paths = plot_model_info(info, store, save_path or DEFAULT_PLOT_PATH)
        except ImportError:
            info.warnings.append("matplotlib not available: distribution plots skipped "
                                 "(pip install matplotlib)")
        except Exception as exc:
            info.warnings.append(f"distribution plots failed: {type(exc).__name__}: {exc}")
    _emit(info, logger)
    return info


def _emit(info: ModelInfo, logger: logging.Logger | None) -> None:
    """The report to `logger` at INFO (or print), its warnings at WARNING level, so a logger
    set to WARNING still shows them (matplotlib missing, a plot that failed)."""
    say = logger.info if logger else print
    shown = dataclasses.replace(info, warnings=[]) if logger else info
    try:
        from .report.console.weights import info_text

        text = info_text(shown)
    except Exception as exc:  # rendering must not break the caller either
        text = f"model info: {info.total_params:,} params (rendering failed: {exc})"
    for line in text.splitlines():
        say(line)
    if logger:
        for warning in info.warnings:
            logger.warning(warning)
    for path in info.plot_paths:
        say(f"saved weight distributions to {path}")
