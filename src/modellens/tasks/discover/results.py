"""What a discovery sweep records: the candidates tried, each model's outcome, and the counts per
library."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...io import JsonRecord, document, fields_dict

OK, FAILED_BUILD, FAILED_CAPTURE, TIMEOUT = "ok", "failed-at-build", "failed-at-capture", "timeout"
STATUSES = (OK, FAILED_BUILD, FAILED_CAPTURE, TIMEOUT)


@dataclass(frozen=True)
class Candidate:
    """One model to try: its library, a short name, and the spec `modellens profile` takes."""

    library: str
    name: str
    spec: str


@dataclass(frozen=True)
class InputSettings(JsonRecord):
    """Sample-input sizes for every model of a sweep; None: each model's native default."""

    batch_size: int = 1
    seq_len: int | None = None
    image_size: int | None = None

    def flags(self) -> str:
        """The `modellens profile` flags that reproduce these settings."""
        parts = [f"--batch-size {self.batch_size}"] if self.batch_size != 1 else []
        parts += [f"--seq-len {self.seq_len}"] if self.seq_len else []
        parts += [f"--image-size {self.image_size}"] if self.image_size else []
        return " ".join(parts)


@dataclass(frozen=True)
class StageCost(JsonRecord):
    """Params and forward FLOPs of one stage of a staged model (YOLO backbone / neck / head)."""

    stage: str
    params: int
    flops: int


@dataclass
class ModelResult(JsonRecord):
    """What happened to one candidate."""

    library: str
    name: str
    spec: str
    status: str  # one of STATUSES
    seconds: float
    method: str = ""  # capture method of ok models: fake | real
    params: int | None = None
    flops: int | None = None  # forward, matmul-class
    flops_all: int | None = None  # forward, every op class
    model_class: str = ""
    input_description: str = ""
    reason: str = ""  # one line, for failures and timeouts
    # failed at capture on real CPU tensors too: the model's (or its default config's) own error
    fails_on_real: bool = False
    unsupported_ops: list[str] = field(default_factory=list)  # ops counted 0 (no formula)
    stages: list[StageCost] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == OK

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelResult:
        data = dict(data)
        data["stages"] = [StageCost(**s) for s in data.get("stages", [])]
        return cls(**data)


@dataclass(frozen=True)
class LibrarySummary:
    """Counts for one library: tried, built, ok, by capture method, by failure."""

    library: str
    tried: int
    ok: int
    by_status: dict[str, int]
    by_method: dict[str, int]
    fail_on_real: int = 0  # failed at capture, and on real CPU tensors too

    @property
    def failed_at_build(self) -> int:
        return self.by_status.get(FAILED_BUILD, 0)

    @property
    def failed_at_capture(self) -> int:
        return self.by_status.get(FAILED_CAPTURE, 0)

    @property
    def timeouts(self) -> int:
        return self.by_status.get(TIMEOUT, 0)

    @property
    def built(self) -> int:
        """Models that got past building (ok, failed at capture, or timed out while capturing)."""
        return self.tried - self.failed_at_build

    @property
    def ok_of_built(self) -> float:
        return self.ok / self.built if self.built else 0.0

    @property
    def runnable(self) -> int:
        """Built models that do not fail on real tensors as well."""
        return self.built - self.fail_on_real

    def to_dict(self) -> dict[str, Any]:
        return fields_dict(self, built=self.built, ok_of_built=self.ok_of_built,
                           runnable=self.runnable)


@dataclass
class DiscoveryResult:
    """Every model tried, in candidate order, with the settings of the sweep."""

    results: list[ModelResult]
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def libraries(self) -> list[str]:
        return list(dict.fromkeys(r.library for r in self.results))

    def summaries(self) -> list[LibrarySummary]:
        return [summarize(lib, [r for r in self.results if r.library == lib])
                for lib in self.libraries()]

    def examples(self) -> list[str]:
        """A ready-to-run `modellens profile` command for each model that works."""
        flags = InputSettings(**self.settings.get("inputs", {})).flags()
        return [f"modellens profile {r.spec}" + (f" {flags}" if flags else "")
                for r in self.results if r.ok]

    def to_dict(self) -> dict[str, Any]:
        return document({"settings": self.settings, "seconds": self.seconds,
                         "summary": self.summaries(), "examples": self.examples(),
                         "models": self.results})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DiscoveryResult:
        return cls([ModelResult.from_dict(m) for m in data["models"]], data.get("settings", {}),
                   data.get("seconds", 0.0))


def summarize(library: str, results: list[ModelResult]) -> LibrarySummary:
    by_status = {s: n for s in STATUSES if (n := sum(r.status == s for r in results))}
    by_method: dict[str, int] = {}
    for r in results:
        if r.ok:
            by_method[r.method] = by_method.get(r.method, 0) + 1
    return LibrarySummary(library, len(results), by_status.get(OK, 0), by_status, by_method,
                          sum(r.fails_on_real for r in results))
