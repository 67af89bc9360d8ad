import os
from functools import lru_cache

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["MODELLENS_NO_CACHE"] = "1"  # the suite never reads or writes a user's result cache


@lru_cache(maxsize=None)
def _profiled(spec: str, backward: bool = False, **kwargs):
    from modellens import profile

    return profile(spec, backward=backward, **kwargs)


@pytest.fixture(scope="session")
def profiled():
    """profiled(spec, backward=False) -> ProfileResult, computed once per session."""
    return _profiled
