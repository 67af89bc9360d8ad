"""Model-zoo discovery (seed 003): profile every candidate model of a library and report what works.

Each model runs in a worker process with a time limit (`jobs` workers in parallel, `pool`), so
one model that fails, hangs or crashes never stops the sweep. Every model goes the same way as
`modellens profile SPEC` (`engine`: resolve -> capture -> analyze). `candidates` lists what is
tried per library; `results` holds what a sweep records; the renderers are in
`report.console.discover` and `report.markdown`.
"""

from .candidates import LIBRARIES, candidates, find_candidate, timm_sample
from .engine import check_model, profile_candidate
from .results import (
    FAILED_BUILD,
    FAILED_CAPTURE,
    OK,
    STATUSES,
    TIMEOUT,
    Candidate,
    DiscoveryResult,
    InputSettings,
    LibrarySummary,
    ModelResult,
    StageCost,
)
from .sweep import DEFAULT_TIMEOUT_S, discover, library_versions

__all__ = [
    "DEFAULT_TIMEOUT_S", "FAILED_BUILD", "FAILED_CAPTURE", "LIBRARIES", "OK", "STATUSES",
    "TIMEOUT", "Candidate", "DiscoveryResult", "InputSettings", "LibrarySummary", "ModelResult",
    "StageCost", "candidates", "check_model", "discover", "find_candidate", "library_versions",
    "profile_candidate", "timm_sample",
]
