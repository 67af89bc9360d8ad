"""Views of one capture: `Analysis(capture)` (FLOPs, memory, roofline, modules, MoE, slices),
plus matrices, uniqueness, inference and training accounting as pure functions."""

from .core import Analysis

__all__ = ["Analysis"]
