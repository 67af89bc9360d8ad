"""Backends an op configuration can be run on: eager, inductor, export, onnx, and plug-ins.

A backend is one small class. `prepare(case)` turns the op, as a function of its input tensors
(`case.fn(*case.inputs)`), into a callable the backend runs; it calls `case.enter(stage)` before
each stage it has (``"export"``, ``"compile"``), so a failure is reported at the stage where it
happened. The runner then calls the result (stage ``"run"``) and compares its outputs with eager
CPU float64 (stage ``"numerics"``). Raise any exception to fail; its first line is the error.

    # my_backend.py -- `modellens unique gpt2 --run-on my_backend.py::MyChip`
    from modellens.measure.backends import Backend, register_backend

    @register_backend
    class MyChip(Backend):
        name = "mychip"
        version = "0.3"          # part of the result cache key: bump it when the compiler changes

        def prepare(self, case):
            case.enter("compile")
            if case.name.startswith("aten.convolution"):
                raise NotImplementedError("convolution is not lowered yet")
            return my_compiler.compile(case.fn, case.inputs, device=case.device)

Backends are found by name among the registered classes (the module defining one is imported
first: ``--run-on my_backend.py::MyChip`` or ``--run-on mypkg.backends:MyChip``), and among
installed packages' ``modellens.backends`` entry points (``mychip = mypkg.backends:MyChip``).
`test_source` is what a generated test runs instead (Python source defining
``prepare(fn, inputs, device)``); a backend without one gets tests that run the op eagerly on
its device and say so.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

import torch

STAGES = ("export", "compile", "run", "numerics")
ENTRY_POINT_GROUP = "modellens.backends"


@dataclass
class OpCase:
    """One op configuration as a backend sees it."""

    name: str  # aten overload, "aten.convolution.default"
    fn: Callable[..., Any]  # fn(*inputs) runs the op eagerly
    inputs: list[torch.Tensor]  # on `device`
    device: torch.device
    args: Any = None  # the argument tree (measure.kit form), for backends that read it
    kwargs: Any = None
    stage: str = "export"
    stages: list[str] = field(default_factory=list)

    def enter(self, stage: str) -> None:
        """Say which stage runs next (one of STAGES)."""
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
        self.stage = stage
        if stage not in self.stages:
            self.stages.append(stage)

    def fresh_inputs(self) -> list[torch.Tensor]:
        """Copies of the inputs (for a warm-up call that must not disturb in-place ops)."""
        return [t.clone() for t in self.inputs]


class Backend:
    """Base class: runs the op as it is (eager). Subclasses override `prepare`."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()  # modules it imports; missing -> unavailable
    extra: ClassVar[str] = ""  # the pip extra that installs them ("onnx")
    test_source: ClassVar[str | None] = None

    def unavailable(self) -> str | None:
        """Why this backend cannot run here (None: it can)."""
        missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if not missing:
            return None
        hint = f"pip install 'modellens[{self.extra}]'" if self.extra else "install them"
        return f"backend {self.name!r} needs {', '.join(missing)} ({hint})"

    def cache_id(self) -> str:
        return f"{self.name}-{self.version}" if self.version else self.name

    def prepare(self, case: OpCase) -> Callable[..., Any]:
        return case.fn


BACKENDS: dict[str, type[Backend]] = {}


def register_backend(cls: type[Backend]) -> type[Backend]:
    """Class decorator: make `cls` available by `cls.name` (names are unique)."""
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} has no name")
    known = BACKENDS.get(cls.name)
    if known is not None and known is not cls and known.__qualname__ != cls.__qualname__:
        raise ValueError(f"backend {cls.name!r} is already registered ({known.__qualname__})")
    BACKENDS[cls.name] = cls
    return cls


def backend_names() -> list[str]:
    _entry_points()
    return sorted(BACKENDS)


def get_backend(spec: str | Backend | type[Backend]) -> Backend:
    """A backend by registered name, entry point, ``file.py::Class`` or ``module:Class``."""
    if isinstance(spec, Backend):
        return spec
    if isinstance(spec, type) and issubclass(spec, Backend):
        return spec()
    if "::" in spec or ":" in spec:
        return _load(spec)()
    if spec not in BACKENDS:
        _entry_points()
    if spec not in BACKENDS:
        raise KeyError(f"unknown backend {spec!r}; known: {', '.join(backend_names())} "
                       f"(or FILE.py::Class)")
    return BACKENDS[spec]()


def _entry_points() -> None:
    from importlib.metadata import entry_points

    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name not in BACKENDS:
            try:
                cls = point.load()
            except Exception:  # a broken plug-in must not break the built-in backends
                continue
            BACKENDS.setdefault(point.name, cls)


def _load(spec: str) -> type[Backend]:
    if "::" in spec:
        file, _, attr = spec.partition("::")
        path = Path(file)
        if not path.is_file():
            raise KeyError(f"backend file not found: {file}")
        name = f"modellens_backend_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
    else:
        module_name, _, attr = spec.partition(":")
        module = importlib.import_module(module_name)
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise KeyError(f"{spec}: no Backend subclass named {attr!r}")
    return cls


class _Wrapped(torch.nn.Module):
    """The op as a module (what torch.export and the ONNX exporter take)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *tensors):
        return self.fn(*tensors)


@register_backend
class Eager(Backend):
    """The op as torch runs it on the device."""

    name = "eager"
    test_source = '''
def prepare(fn, inputs, device):
    return fn
'''


@register_backend
class Inductor(Backend):
    """torch.compile(backend="inductor", fullgraph=True) of the single op."""

    name = "inductor"
    test_source = '''
def prepare(fn, inputs, device):
    torch._dynamo.reset()
    compiled = torch.compile(fn, backend="inductor", fullgraph=True, dynamic=False)
    compiled(*[t.clone() for t in inputs])
    return compiled
'''

    def prepare(self, case: OpCase) -> Callable[..., Any]:
        case.enter("compile")
        torch._dynamo.reset()  # one code object compiled per op: stay under the recompile limit
        compiled = torch.compile(case.fn, backend="inductor", fullgraph=True, dynamic=False)
        compiled(*case.fresh_inputs())  # compiles
        return compiled


@register_backend
class Export(Backend):
    """torch.export.export of the single op, run as the exported program's module."""

    name = "export"
    test_source = '''
class _Wrapped(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *tensors):
        return self.fn(*tensors)


def prepare(fn, inputs, device):
    return torch.export.export(_Wrapped(fn), tuple(inputs), strict=False).module()
'''

    def prepare(self, case: OpCase) -> Callable[..., Any]:
        case.enter("export")
        program = torch.export.export(_Wrapped(case.fn), tuple(case.inputs), strict=False)
        return program.module()


@register_backend
class Onnx(Backend):
    """The torch ONNX exporter (dynamo), run in onnxruntime (CPU, or CUDA when the device is)."""

    name = "onnx"
    requires = ("onnx", "onnxscript", "onnxruntime")
    extra = "onnx"
    test_source = '''
import io

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


class _Wrapped(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *tensors):
        return self.fn(*tensors)


def prepare(fn, inputs, device):
    import onnxruntime

    program = torch.onnx.export(_Wrapped(fn).eval(), tuple(inputs), dynamo=True, verbose=False)
    session = onnxruntime.InferenceSession(program.model_proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]

    def run(*tensors):
        feeds = {n: t.detach().cpu().numpy() for n, t in zip(names, tensors)}
        return [torch.from_numpy(o) for o in session.run(None, feeds)]

    return run
'''

    def prepare(self, case: OpCase) -> Callable[..., Any]:
        import onnxruntime

        case.enter("export")
        program = torch.onnx.export(_Wrapped(case.fn).eval(), tuple(case.inputs),
                                    dynamo=True, verbose=False)
        case.enter("compile")
        providers = ["CPUExecutionProvider"]
        if case.device.type == "cuda":
            providers.insert(0, "CUDAExecutionProvider")
        session = onnxruntime.InferenceSession(program.model_proto.SerializeToString(),
                                               providers=providers)
        names = [i.name for i in session.get_inputs()]

        def run(*tensors):
            feeds = {n: t.detach().cpu().numpy() for n, t in zip(names, tensors)}
            return [torch.from_numpy(o) for o in session.run(None, feeds)]

        return run
