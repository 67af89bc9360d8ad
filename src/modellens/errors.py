"""User-facing errors: every failure the CLI reports in one line is a ModellensError."""

from __future__ import annotations


class ModellensError(Exception):
    """Base class; its message is shown to the user as is."""


class UsageError(ModellensError):
    """The command line asks for something impossible (a bad output path, missing arguments):
    found before any work; the CLI exits 2, as for argparse's own usage errors."""


class SpecError(ModellensError):
    """The model spec names nothing we can build (unknown id, missing file, bad `file::fn`)."""


class ConfigError(ModellensError):
    """A config file or dict is malformed or has an invalid field."""


class BuildError(ModellensError):
    """The model could not be constructed from its source."""


class CaptureError(ModellensError):
    """No capture method could run the model; the message names the op or line that failed."""


class CheckpointError(ModellensError):
    """A checkpoint cannot be read safely (corrupt, truncated, or needs unpickling)."""


class HardwareError(ModellensError):
    """Unknown chip name or malformed hardware YAML."""


class FormulaError(ModellensError):
    """A registered cost formula raised or returned something that is not a count."""
