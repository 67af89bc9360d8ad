"""Model-zoo discovery (seed 003): profile every candidate model of a library and report what works.

Each model runs in a worker process with a time limit (`jobs` workers in parallel), so one model
that fails, hangs or crashes never stops the sweep. Every model goes the same way as
`modellens profile SPEC`: `profiler.model_source` -> `capture_source` -> `analyze`.

Libraries and their candidates (`candidates(library)`):
  catalog       the offline catalog (`modellens models`)
  transformers  every model_type AutoModel / AutoModelForCausalLM / AutoModelForSeq2SeqLM can build,
                from transformers' default config (`hf:type:MODEL_TYPE`)
  torchvision   every name in `torchvision.models.list_models()`
  timm          the first model (alphabetically) of each family (leading letters of the name)
  yolo          YOLOv5u / v8 / 11 in sizes n, s, m, l, x; v8 and 11 also -seg and -pose
"""

from __future__ import annotations

import os
import re
import time
import traceback
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable

SCHEMA_VERSION = 1
LIBRARIES = ("catalog", "torchvision", "timm", "yolo", "transformers")
OK, FAILED_BUILD, FAILED_CAPTURE, TIMEOUT = "ok", "failed-at-build", "failed-at-capture", "timeout"
STATUSES = (OK, FAILED_BUILD, FAILED_CAPTURE, TIMEOUT)
DEFAULT_TIMEOUT_S = 120.0
YOLO_FAMILIES = {"yolov5": ("",), "yolov8": ("", "-seg", "-pose"), "yolo11": ("", "-seg", "-pose")}
YOLO_SIZES = "nsmlx"
_TASKS_PER_WORKER = 25  # a fresh worker after this many models bounds leaked memory
_PRELOAD = {"catalog": "transformers", "transformers": "transformers", "torchvision": "torchvision",
            "timm": "timm", "yolo": "ultralytics"}  # imported once per worker, not per model
_DOING = {"build": "building", "capture": "capturing"}
_ENVIRONMENT = {"HF_HUB_OFFLINE": "1", "YOLO_OFFLINE": "1", "YOLO_VERBOSE": "False",
                "TRANSFORMERS_VERBOSITY": "error", "TOKENIZERS_PARALLELISM": "false"}


@dataclass(frozen=True)
class Candidate:
    """One model to try: its library, a short name, and the spec `modellens profile` takes."""

    library: str
    name: str
    spec: str


@dataclass(frozen=True)
class InputSettings:
    """Sample-input sizes for every model of a sweep; None: each model's native default."""

    batch_size: int = 1
    seq_len: int | None = None
    image_size: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    def flags(self) -> str:
        """The `modellens profile` flags that reproduce these settings."""
        parts = [f"--batch-size {self.batch_size}"] if self.batch_size != 1 else []
        parts += [f"--seq-len {self.seq_len}"] if self.seq_len else []
        parts += [f"--image-size {self.image_size}"] if self.image_size else []
        return " ".join(parts)


@dataclass(frozen=True)
class StageCost:
    """Params and forward FLOPs of one stage of a staged model (YOLO backbone / neck / head)."""

    stage: str
    params: int
    flops: int

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class ModelResult:
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

    def to_dict(self) -> dict[str, Any]:
        data = dict(vars(self))
        data["stages"] = [s.to_dict() for s in self.stages]
        return data

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
    def built(self) -> int:
        """Models that got past building (ok, failed at capture, or timed out while capturing)."""
        return self.tried - self.by_status.get(FAILED_BUILD, 0)

    @property
    def ok_of_built(self) -> float:
        return self.ok / self.built if self.built else 0.0

    @property
    def runnable(self) -> int:
        """Built models that do not fail on real tensors as well."""
        return self.built - self.fail_on_real

    def to_dict(self) -> dict[str, Any]:
        return {**vars(self), "built": self.built, "ok_of_built": self.ok_of_built,
                "runnable": self.runnable}


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
        return {
            "schema_version": SCHEMA_VERSION,
            "settings": dict(self.settings),
            "seconds": self.seconds,
            "summary": [s.to_dict() for s in self.summaries()],
            "examples": self.examples(),
            "models": [r.to_dict() for r in self.results],
        }

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


# --------------------------------------------------------------------------------------------
# Candidates


def candidates(library: str = "all", limit: int | None = None) -> list[Candidate]:
    """The models `discover` tries for `library` ("all": every library), at most `limit` each."""
    libraries = LIBRARIES if library == "all" else (library,)
    found: list[Candidate] = []
    for lib in libraries:
        if lib not in LIBRARIES:
            from ..errors import ConfigError

            raise ConfigError(f"unknown library {lib!r}; expected all or {', '.join(LIBRARIES)}")
        found += _LISTERS[lib]()[:limit]
    return found


def _catalog() -> list[Candidate]:
    from ..sources import hf

    return [Candidate("catalog", name, name) for name in hf.catalog_names()]


def _transformers() -> list[Candidate]:
    from ..sources import hf

    return [Candidate("transformers", t, f"hf:{hf.TYPE_PREFIX}{t}") for t in hf.model_types()]


def _torchvision() -> list[Candidate]:
    from ..sources import torchvision

    return [Candidate("torchvision", n, f"tv:{n}") for n in torchvision.list_names()]


def _timm() -> list[Candidate]:
    return [Candidate("timm", n, f"timm:{n}") for n in timm_sample()]


def timm_sample() -> list[str]:
    """The alphabetically first model of each timm family (the name's leading letters:
    resnet, resnetv, vit, convnext, ...): one representative per architecture, deterministic."""
    import timm

    first: dict[str, str] = {}
    for name in sorted(timm.list_models()):
        first.setdefault(re.match(r"[a-z]*", name).group(0), name)
    return list(first.values())


def _yolo() -> list[Candidate]:
    names = [f"{family}{size}{task}" for family, tasks in YOLO_FAMILIES.items()
             for task in tasks for size in YOLO_SIZES]
    return [Candidate("yolo", n, f"yolo:{n}") for n in names]


_LISTERS: dict[str, Callable[[], list[Candidate]]] = {
    "catalog": _catalog, "transformers": _transformers, "torchvision": _torchvision,
    "timm": _timm, "yolo": _yolo,
}


def find_candidate(name: str, library: str = "all") -> Candidate:
    """A candidate by its short name ('resnet50', 'bert') or a spec ('tv:resnet50', 'gpt2')."""
    libraries = LIBRARIES if library == "all" else (library,)
    for lib in libraries:
        for candidate in _LISTERS[lib]():
            if name in (candidate.name, candidate.spec):
                return candidate
    return Candidate("custom", name, name)


# --------------------------------------------------------------------------------------------
# Profiling one model (in a worker, or in-process)


def profile_candidate(candidate: Candidate, inputs: InputSettings = InputSettings(),
                      on_phase: Callable[[str], None] = lambda phase: None) -> ModelResult:
    """Build, capture and analyze one model the way `modellens profile` does; never raises for
    a model's own failure. `on_phase("capture")` is called once the model is built."""
    return _profile(candidate, inputs, on_phase)[0]


def test_model(candidate: Candidate, inputs: InputSettings = InputSettings()):
    """(ModelResult with the whole failure reason, ProfileResult or None): one model in full."""
    return _profile(candidate, inputs, lambda phase: None, reason_limit=None)


def _profile(candidate: Candidate, inputs: InputSettings, on_phase: Callable[[str], None],
             reason_limit: int | None = 300):
    from ..errors import BuildError, CaptureError
    from ..sources import resolve
    from .profile import analyze, capture_source

    started = time.perf_counter()
    result = ModelResult(candidate.library, candidate.name, candidate.spec, FAILED_BUILD, 0.0)
    profiled = None
    phase = "build"

    def built() -> None:
        nonlocal phase
        phase = "capture"
        on_phase(phase)

    try:
        source = resolve(candidate.spec, **inputs.to_dict())
        result.input_description = source.input_description
        captured = capture_source(_notify_when_built(source, built))
        profiled = analyze(captured)
    except Exception as exc:  # noqa: BLE001 - a model's failure is a result, not an error
        capture_failed = isinstance(exc, CaptureError) or (
            phase == "capture" and not isinstance(exc, BuildError))
        result.status = FAILED_CAPTURE if capture_failed else FAILED_BUILD
        result.reason = one_line(exc, reason_limit)
        result.fails_on_real = isinstance(exc, CaptureError) and _real_attempt_failed(str(exc))
    else:
        result.status = OK
        result.method = profiled.capture_method
        result.params = profiled.params.total
        result.flops = profiled.flops.forward
        result.flops_all = profiled.flops.forward_all
        result.model_class = profiled.model_class
        result.unsupported_ops = [u.name for u in profiled.unsupported]
        result.stages = stage_costs(captured)
    result.seconds = time.perf_counter() - started
    return result, profiled


def _real_attempt_failed(message: str) -> bool:
    """Whether a capture error says its real-tensor attempt ran and failed ("...; real: Error")
    rather than being skipped for size."""
    _, found, real = message.partition("; real: ")
    return bool(found) and not real.startswith("real-tensor fallback needs")


def _notify_when_built(source, built: Callable[[], None]):
    """The same source, calling `built()` after its model is constructed."""
    build = source.build

    def build_then_notify():
        model = build()
        built()
        return model

    return replace(source, build=build_then_notify)


def one_line(exc: BaseException, limit: int | None = 300) -> str:
    """'Type: first line of the message', cut to `limit` characters (None: whole line)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    from ..errors import ModellensError

    line = text if isinstance(exc, ModellensError) else f"{type(exc).__name__}: {text}"
    return line if limit is None or len(line) <= limit else line[: limit - 3] + "..."


def stage_costs(captured) -> list[StageCost]:
    """Params and forward FLOPs per stage, for sources whose metadata names layer-index stages
    ({"backbone": [0, 10], "neck": [10, 22], "head": [22, 23]} over `model.N` module paths)."""
    stages: dict[str, list[int]] = captured.source.metadata.get("stages") or {}
    if not stages:
        return []

    def stage_of(path: str) -> str:
        match = re.match(r"model\.(\d+)(\.|$)", path)
        index = int(match.group(1)) if match else -1
        return next((s for s, (lo, hi) in stages.items() if lo <= index < hi), "other")

    params = {s: 0 for s in [*stages, "other"]}
    flops = dict(params)
    for record in captured.capture.params:
        if not record.is_buffer:
            params[stage_of(record.name)] += record.numel
    for op, cost in zip(captured.capture.ops, captured.costs):
        if op.phase == "forward":
            flops[stage_of(op.module)] += cost.flops
    return [StageCost(s, params[s], flops[s]) for s in params if s != "other" or params[s] or flops[s]]


# --------------------------------------------------------------------------------------------
# The sweep


def discover(
    library: str = "all",
    *,
    models: Iterable[Candidate] | None = None,
    jobs: int = 1,
    timeout: float = DEFAULT_TIMEOUT_S,
    limit: int | None = None,
    inputs: InputSettings = InputSettings(),
    on_result: Callable[[ModelResult], None] | None = None,
    memory_limit: int | None = None,
) -> DiscoveryResult:
    """Profile every candidate of `library` (or the given `models`) and report what works.

    Each model runs in one of `jobs` worker processes and is stopped after `timeout` seconds
    (status "timeout"); a worker that dies is replaced and its model recorded as failed. Each
    worker may allocate at most `memory_limit` bytes (default: 60 % of physical memory shared
    by the workers), so a real-tensor capture that runs away fails alone instead of taking the
    machine down. `jobs=0` runs in this process instead: no isolation, no time or memory limit
    (tests, debugging). `on_result` is called as each model finishes (progress bars).
    """
    started = time.perf_counter()
    todo = list(models) if models is not None else candidates(library, limit)
    report = on_result or (lambda result: None)
    worker_memory = None
    if jobs <= 0:
        results = []
        for candidate in todo:
            results.append(profile_candidate(candidate, inputs))
            report(results[-1])
    else:
        preload = sorted({_PRELOAD[c.library] for c in todo if c.library in _PRELOAD})
        workers = min(jobs, max(1, len(todo)))
        worker_memory = memory_limit or int(0.6 * _physical_memory() / workers)
        results = _Pool(workers, timeout, inputs, preload, worker_memory).run(todo, report)
    settings = {"library": "custom" if models is not None and library == "all" else library,
                "jobs": jobs,
                "timeout_s": timeout, "limit": limit, "inputs": inputs.to_dict(),
                "memory_limit_bytes": worker_memory, "versions": library_versions()}
    return DiscoveryResult(results, settings, time.perf_counter() - started)


def _physical_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def library_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {}
    for package in ("torch", "transformers", "torchvision", "timm", "ultralytics"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


class _Worker:
    """One worker process and the model it is running."""

    def __init__(self, context, inputs: InputSettings, threads: int, preload: list[str],
                 memory_limit: int) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, daemon=True,
                                       args=(child, inputs, threads, preload, memory_limit))
        self.process.start()
        child.close()
        self.ready = False
        self.task: Candidate | None = None
        self.phase = "build"
        self.started = 0.0
        self.done = 0

    def assign(self, candidate: Candidate) -> None:
        self.task, self.phase, self.started = candidate, "build", time.perf_counter()
        self.conn.send(candidate)

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                self.process.kill()
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


class _Pool:
    """`jobs` workers; each model gets `timeout` seconds from the moment a ready worker takes it."""

    def __init__(self, jobs: int, timeout: float, inputs: InputSettings, preload: list[str],
                 memory_limit: int) -> None:
        import multiprocessing

        self.context = multiprocessing.get_context("spawn")
        self.jobs, self.timeout, self.inputs, self.preload = jobs, timeout, inputs, preload
        self.memory_limit = memory_limit
        self.threads = max(1, (os.cpu_count() or 1) // jobs)

    def _spawn(self) -> _Worker:
        return _Worker(self.context, self.inputs, self.threads, self.preload, self.memory_limit)

    def run(self, todo: list[Candidate], report: Callable[[ModelResult], None]) -> list[ModelResult]:
        from multiprocessing.connection import wait

        pending = list(reversed(todo))
        done: dict[Candidate, ModelResult] = {}
        workers = [self._spawn() for _ in range(self.jobs)]

        def finish(worker: _Worker, result: ModelResult) -> None:
            done[worker.task] = result
            worker.task = None
            worker.done += 1
            report(result)

        try:
            while pending or any(w.task for w in workers):
                for i, worker in enumerate(workers):
                    if worker.ready and worker.task is None and worker.done >= _TASKS_PER_WORKER:
                        worker.stop()
                        workers[i] = worker = self._spawn()
                    if worker.ready and worker.task is None and pending:
                        worker.assign(pending.pop())
                for conn in wait([w.conn for w in workers], timeout=1.0):
                    worker = next(w for w in workers if w.conn is conn)
                    try:
                        kind, payload = conn.recv()
                    except (EOFError, OSError):
                        kind, payload = "died", None
                    if kind == "ready":
                        worker.ready = True
                    elif kind == "phase":
                        worker.phase = payload
                    elif kind == "result":
                        finish(worker, ModelResult.from_dict(payload))
                    else:
                        worker.process.join(timeout=5)
                        code = worker.process.exitcode
                        if worker.task is not None:
                            finish(worker, self._lost(worker, f"worker process died (exit code {code})"))
                        elif not worker.ready:
                            raise RuntimeError(f"discover worker failed to start (exit code {code})")
                        workers[workers.index(worker)] = self._restart(worker)
                now = time.perf_counter()
                for i, worker in enumerate(workers):
                    if worker.task is not None and now - worker.started > self.timeout:
                        result = self._lost(worker, f"no result after {self.timeout:g} s "
                                                    f"(while {_DOING[worker.phase]})", TIMEOUT)
                        finish(worker, result)
                        workers[i] = self._restart(worker)
        finally:
            for worker in workers:
                worker.stop(kill=worker.task is not None or not worker.ready)
        return [done[c] for c in todo]

    def _restart(self, worker: _Worker) -> _Worker:
        worker.stop(kill=True)
        return self._spawn()

    def _lost(self, worker: _Worker, reason: str, status: str | None = None) -> ModelResult:
        task = worker.task
        if status is None:
            status = FAILED_CAPTURE if worker.phase == "capture" else FAILED_BUILD
        return ModelResult(task.library, task.name, task.spec, status,
                           time.perf_counter() - worker.started, reason=reason)


def _worker_main(conn, inputs: InputSettings, threads: int, preload: list[str],
                 memory_limit: int) -> None:
    """Worker loop: import the model libraries once, then profile each candidate sent."""
    for key, value in _ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    import gc
    import logging
    import resource
    import warnings

    resource.setrlimit(resource.RLIMIT_DATA, (memory_limit, memory_limit))
    import torch

    from . import profile as profiler  # noqa: F401 - imported here, not inside the first model's time

    warnings.filterwarnings("ignore")
    logging.getLogger("torch._subclasses.fake_tensor").setLevel(logging.CRITICAL)
    torch.set_num_threads(threads)
    for module in preload:
        try:
            __import__(module)
        except ImportError:
            continue
    _warm_up()
    conn.send(("ready", None))
    while (candidate := _receive(conn)) is not None:
        try:
            result = profile_candidate(candidate, inputs,
                                       on_phase=lambda phase: conn.send(("phase", phase)))
        except BaseException as exc:  # keep the worker alive for the next model
            result = ModelResult(candidate.library, candidate.name, candidate.spec,
                                 FAILED_CAPTURE, 0.0, reason=one_line(exc) + _where(exc))
        try:
            conn.send(("result", result.to_dict()))
        except OSError:  # the parent has gone
            break
        gc.collect()
    conn.close()


def _warm_up() -> None:
    """One tiny capture, so the first model's time does not include torch's lazy set-up."""
    import torch

    from ..sources import resolve
    from .profile import capture_source

    capture_source(resolve(torch.nn.Linear(2, 2), torch.zeros(1, 2), name="warm-up"))


def _receive(conn) -> Candidate | None:
    """The next model, or None when told to stop or when the parent has gone."""
    try:
        return conn.recv()
    except (EOFError, OSError):
        return None


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""


# --------------------------------------------------------------------------------------------
# Markdown


SUMMARY_HEADER = ("library", "tried", "ok", "built", "ok of built", "runnable", "ok of runnable",
                  "fake", "real", "failed at build", "failed at capture", "fail on real too",
                  "timeout")


def summary_cells(s: LibrarySummary) -> list[str]:
    """One summary row as text, in SUMMARY_HEADER order (for the markdown and console tables)."""
    from ..units import percent

    return [s.library, str(s.tried), str(s.ok), str(s.built), percent(s.ok, s.built),
            str(s.runnable), percent(s.ok, s.runnable), str(s.by_method.get("fake", 0)),
            str(s.by_method.get("real", 0)), str(s.by_status.get(FAILED_BUILD, 0)),
            str(s.by_status.get(FAILED_CAPTURE, 0)), str(s.fail_on_real),
            str(s.by_status.get(TIMEOUT, 0))]


def render_markdown(result: DiscoveryResult) -> str:
    """The coverage page: a summary per library, then one table of every model per library
    (and the YOLO per-stage table)."""
    gflops = lambda v: "-" if v is None else f"{v / 1e9:,.2f}"
    params = lambda v: "-" if v is None else f"{v / 1e6:,.2f} M"
    lines = ["| " + " | ".join(SUMMARY_HEADER) + " |", "|---|" + "---:|" * (len(SUMMARY_HEADER) - 1)]
    lines += ["| " + " | ".join(summary_cells(s)) + " |" for s in result.summaries()]
    for library in result.libraries():
        rows = [r for r in result.results if r.library == library]
        lines += ["", f"## {library}", "",
                  "| model | status | method | params | GFLOPs fwd | seconds | note |",
                  "|---|---|---|---:|---:|---:|---|"]
        for r in rows:
            note = r.reason or (f"no FLOP formula: {', '.join(r.unsupported_ops)}"
                                if r.unsupported_ops else "")
            lines.append(f"| `{r.spec}` | {r.status} | {r.method or '-'} | {params(r.params)} | "
                         f"{gflops(r.flops)} | {r.seconds:.1f} | {_cell(note)} |")
        staged = [r for r in rows if r.stages]
        if staged:
            names = list(dict.fromkeys(s.stage for r in staged for s in r.stages))
            lines += ["", f"### {library} by stage (params / forward GFLOPs)", "",
                      "| model | " + " | ".join(names) + " |",
                      "|---|" + "---:|" * len(names)]
            for r in staged:
                cells = {s.stage: f"{params(s.params)} / {gflops(s.flops)}" for s in r.stages}
                lines.append(f"| `{r.spec}` | " + " | ".join(cells.get(n, "-") for n in names) + " |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
