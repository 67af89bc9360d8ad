"""Run the model once and record what it did: aten ops, module calls, parameters. Records only.

`capture()` (in `run`) is the entry point; `records` holds what every analysis reads.
"""

from .records import (
    BACKWARD,
    FORWARD,
    Capture,
    ModuleRecord,
    OpRecord,
    ParamRecord,
    SampleInputs,
    TensorSpec,
    iter_specs,
    iter_tensors,
    map_leaves,
    map_specs,
)
from .run import DEFAULT_MAX_REAL_BYTES, capture, gc_paused, parameter_records

__all__ = ["BACKWARD", "DEFAULT_MAX_REAL_BYTES", "FORWARD", "Capture", "ModuleRecord", "OpRecord",
    "ParamRecord", "SampleInputs", "TensorSpec", "capture", "iter_specs", "iter_tensors",
    "gc_paused", "map_leaves", "map_specs", "parameter_records"]
