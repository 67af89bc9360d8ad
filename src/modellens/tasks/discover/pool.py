"""Worker processes for a discovery sweep: each model runs in a spawned worker with a time and
memory limit, so one model that fails, hangs or crashes never stops the sweep."""

from __future__ import annotations

import os
import time
import traceback
from typing import Callable

from ...errors import ModellensError
from .engine import one_line, profile_candidate
from .results import FAILED_BUILD, FAILED_CAPTURE, TIMEOUT, Candidate, InputSettings, ModelResult

_TASKS_PER_WORKER = 25  # a fresh worker after this many models bounds leaked memory
_PRELOAD = {"catalog": "transformers", "transformers": "transformers", "torchvision": "torchvision",
            "timm": "timm", "yolo": "ultralytics"}  # imported once per worker, not per model
_DOING = {"build": "building", "capture": "capturing"}
_ENVIRONMENT = {"HF_HUB_OFFLINE": "1", "YOLO_OFFLINE": "1", "YOLO_VERBOSE": "False",
                "TRANSFORMERS_VERBOSITY": "error", "TOKENIZERS_PARALLELISM": "false"}


def preload_for(todo: list[Candidate]) -> list[str]:
    """The model libraries the workers import once, up front, for these candidates."""
    return sorted({_PRELOAD[c.library] for c in todo if c.library in _PRELOAD})


class _Worker:
    """One worker process and the model it is running."""

    def __init__(self, context, inputs: InputSettings, threads: int, preload: list[str],
                 memory_limit: int) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, daemon=True,
                                       args=(child, inputs, threads, preload, memory_limit,
                                             os.getpid()))
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


class Pool:
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
                    elif kind == "failed":  # could not start: the same for every worker
                        raise ModellensError(f"discover worker failed to start: {payload}")
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
                            raise ModellensError(f"discover worker failed to start (exit code "
                                                 f"{code})")
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
                 memory_limit: int, parent: int | None = None) -> None:
    """Worker loop: import the model libraries once, then profile each candidate sent. The
    worker dies with its parent (`parent`: its pid); a failure to start is one message."""
    die_with_parent(parent)
    import gc

    try:
        _start(threads, preload, memory_limit)
    except BaseException as exc:  # one line to the parent, no traceback on the terminal
        try:
            conn.send(("failed", one_line(exc)))
        except OSError:
            pass
        conn.close()
        os._exit(1)
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


def _start(threads: int, preload: list[str], memory_limit: int) -> None:
    """Set the worker up: environment, memory limit, quiet libraries, model libraries imported
    once, one warm-up capture."""
    for key, value in _ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    import logging
    import resource
    import warnings

    resource.setrlimit(resource.RLIMIT_DATA, (memory_limit, memory_limit))
    import torch

    from .. import profile  # noqa: F401 - imported here, not inside the first model's time

    warnings.filterwarnings("ignore")
    logging.disable(logging.CRITICAL)  # results carry every failure, in one line
    torch.set_num_threads(threads)
    for module in preload:
        try:
            __import__(module)
        except ImportError:
            continue
    _warm_up()


def die_with_parent(parent: int | None) -> None:
    """End this process when its parent does, even while it is busy with a model: Linux's
    PR_SET_PDEATHSIG (SIGKILL when the parent exits), and everywhere a watchdog thread that
    polls the parent's pid. `parent`: the pid the process started under."""
    import signal
    import sys
    import threading

    if parent is None:
        parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="modellens-parent-watchdog", daemon=True).start()


def _warm_up() -> None:
    """One tiny capture, so the first model's time does not include torch's lazy set-up."""
    import torch

    from ...sources import resolve
    from ..pipeline import capture_source

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
