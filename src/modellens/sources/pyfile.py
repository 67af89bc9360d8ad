"""A model given as code: `path/to/file.py::load_model` (+ `--inputs file.py::get_inputs`), an
nn.Module, or a function returning one; its sample inputs a tensor, a tuple of args, a dict of
kwargs, a function returning one, or a `file.py::fn` reference."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from ..capture import SampleInputs
from ..capture.records import iter_tensors
from ..errors import SpecError
from .base import ModelSource

DEFAULT_INPUT_FUNCTIONS = ("get_inputs", "example_inputs", "get_sample_input", "sample_inputs")


def load_function(ref: str) -> Callable[..., Any]:
    """'file.py::fn' -> the function, with a one-line error for each way it can be wrong."""
    file, sep, name = ref.partition("::")
    if not sep or not file or not name:
        raise SpecError(f"{ref!r}: expected FILE.py::FUNCTION")
    path = Path(file)
    if not path.is_file():
        raise SpecError(f"{ref}: file not found: {file}")
    module = _import_file(path)
    fn = getattr(module, name, None)
    if fn is None:
        found = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
                 and getattr(v, "__module__", None) == module.__name__]
        hint = f"; functions there: {', '.join(sorted(found))}" if found else ""
        raise SpecError(f"{ref}: no function {name!r} in {file}{hint}")
    if not callable(fn):
        raise SpecError(f"{ref}: {name!r} is not callable")
    return fn


def _import_file(path: Path):
    module_name = f"_modellens_user_{abs(hash(str(path.resolve())))}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise SpecError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.resolve().parent))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise SpecError(f"{path}: importing it raised {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.pop(0)
    sys.modules[module_name] = module
    return module


def call_user(fn: Callable[[], Any], ref: str) -> Any:
    try:
        return fn()
    except Exception as exc:
        raise SpecError(f"{ref}: the function raised {type(exc).__name__}: {exc}") from None


def as_sample_inputs(value: Any, ref: str) -> SampleInputs:
    """A tensor, a tuple/list of args, a dict of kwargs, or (args, kwargs)."""
    if isinstance(value, SampleInputs):
        return value
    if isinstance(value, torch.Tensor):
        return SampleInputs((value,))
    if isinstance(value, dict):
        return SampleInputs(kwargs=dict(value))
    if (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], (tuple, list))
            and isinstance(value[1], dict)):
        return SampleInputs(tuple(value[0]), dict(value[1]))
    if isinstance(value, (tuple, list)):
        return SampleInputs(tuple(value))
    raise SpecError(f"{ref}: inputs must be a tensor, a tuple/list of tensors or a dict, "
                    f"got {type(value).__name__}")


def default_inputs_ref(model_ref: str) -> str | None:
    """The inputs function beside the model function, if the file has one of the usual names."""
    file = model_ref.partition("::")[0]
    module = _import_file(Path(file))
    for name in DEFAULT_INPUT_FUNCTIONS:
        if callable(getattr(module, name, None)):
            return f"{file}::{name}"
    return None


def function_location(fn: Callable) -> str:
    """'my_model.py:load_model' (path relative to the working directory when inside it)."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", type(fn).__name__)
    try:
        file = Path(inspect.getsourcefile(fn) or "")
    except TypeError:
        return name
    if not file.name:
        return name
    try:
        file = file.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        pass
    return f"{file}:{name}"


@dataclass(frozen=True)
class UserInputs:
    """Sample inputs given as code: a function returning them (called each time they are made,
    so inside the capture's tensor mode) or the inputs themselves; `label` names them in
    errors."""

    given: Any
    label: str

    @classmethod
    def of(cls, inputs: Any) -> UserInputs:
        """From a `file.py::fn` reference, a function, or the inputs themselves."""
        if isinstance(inputs, str):
            return cls(load_function(inputs), inputs)
        if callable(inputs):
            return cls(inputs, function_location(inputs))
        return cls(inputs, "inputs")

    def __call__(self) -> SampleInputs:
        return as_sample_inputs(self._value(), self.label)

    def now(self) -> SampleInputs:
        """The inputs made once, checked to hold a tensor."""
        value = self._value()
        inputs = as_sample_inputs(value, self.label)
        if not any(True for _ in iter_tensors((inputs.args, inputs.kwargs))):
            raise SpecError(f"{self.label}: inputs hold no tensor (got {type(value).__name__}); "
                            "return a tensor, a tuple of args or a dict of kwargs")
        return inputs

    def _value(self) -> Any:
        return call_user(self.given, self.label) if callable(self.given) else self.given


def source(ref: str, inputs: Any = None) -> ModelSource:
    """`file.py::fn`; its inputs default to a function of the file with a usual name
    (`get_inputs`, ...)."""
    load_fn = load_function(ref)
    if inputs is None:
        inputs = default_inputs_ref(ref)
    if inputs is None:
        raise SpecError(f"{ref}: no inputs: pass --inputs FILE.py::FUNCTION "
                        "(or define get_inputs() in the file)")
    return _code_source(ref, _module_from(load_fn, ref), UserInputs.of(inputs),
                        location=ref.replace("::", ":"), function=ref.partition("::")[2])


def from_object(target: Any, inputs: Any = None, name: str | None = None) -> ModelSource:
    """An nn.Module, or a function returning one (named `name`, else by class or function)."""
    if isinstance(target, nn.Module):
        location, function = f"<{type(target).__name__} object>", None
        label, build = name or type(target).__name__, lambda: target
    elif callable(target):
        location, function = function_location(target), getattr(target, "__name__", None)
        label, build = name or function or location, _module_from(target, location)
    else:
        raise SpecError("a model is a spec string, an nn.Module or a function returning one, "
                        f"got {type(target).__name__}")
    if inputs is None:
        raise SpecError(f"{location}: no sample inputs: give a tensor, a tuple of args, a dict "
                        "of kwargs or a function returning one")
    return _code_source(label, build, UserInputs.of(inputs), location=location, function=function)


def called_once(source: ModelSource) -> ModelSource:
    """A model given as code, with its model and inputs functions called now, once: a failing
    function or inputs without a tensor fail before any capture, with their own message, and
    every capture method sees the same inputs (seed 002's unique modules). Other sources are
    returned as they are."""
    if not isinstance(source.make_inputs, UserInputs):
        return source
    model = source.build()
    inputs = source.make_inputs.now()
    return replace(source, build=lambda: model, make_inputs=lambda: inputs)


def _module_from(fn: Callable[[], Any], label: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        model = call_user(fn, label)
        if not isinstance(model, nn.Module):
            raise SpecError(f"{label}: returned {type(model).__name__}, not a torch.nn.Module")
        return model

    return build


def _code_source(name: str, build: Callable[[], nn.Module], inputs: UserInputs, *,
                 location: str, function: str | None) -> ModelSource:
    return ModelSource(
        name=name,
        kind="pyfile",
        build=build,
        make_inputs=inputs,
        input_description="from the user's inputs function",
        location=location,
        function=function,
        builds_on_meta=False,
    )
