"""CLI subcommands. Each module has `register(subparsers)`; modules import only argparse-level
code at import time so `modellens --help` stays fast."""

from __future__ import annotations

import argparse
import importlib

# Order shown in `modellens --help`.
COMMANDS = ("profile", "compare", "report", "matrices", "transformer", "unique", "info", "diff", "llm",
            "discover", "models", "hardware", "time", "cache")


def register_all(subparsers: argparse._SubParsersAction) -> None:
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
