"""A user's own model: `path/to/file.py::load_model` (+ `--inputs file.py::get_inputs`)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from ..capture import SampleInputs
from ..errors import SpecError
from .base import InputOptions, ModelSource

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
    raise SpecError(
        f"{ref}: inputs must be a tensor, a tuple/list of tensors or a dict, got {type(value).__name__}"
    )


def default_inputs_ref(model_ref: str) -> str | None:
    """The inputs function beside the model function, if the file has one of the usual names."""
    file = model_ref.partition("::")[0]
    module = _import_file(Path(file))
    for name in DEFAULT_INPUT_FUNCTIONS:
        if callable(getattr(module, name, None)):
            return f"{file}::{name}"
    return None


def source(ref: str, options: InputOptions, inputs_ref: str | None = None) -> ModelSource:
    load_fn = load_function(ref)
    inputs_ref = inputs_ref or default_inputs_ref(ref)
    if inputs_ref is None:
        raise SpecError(
            f"{ref}: no inputs: pass --inputs FILE.py::FUNCTION (or define get_inputs() in the file)"
        )
    inputs_fn = load_function(inputs_ref)

    def build() -> nn.Module:
        model = call_user(load_fn, ref)
        if not isinstance(model, nn.Module):
            raise SpecError(f"{ref}: returned {type(model).__name__}, not a torch.nn.Module")
        return model

    return from_functions(ref, build, lambda: as_sample_inputs(call_user(inputs_fn, inputs_ref),
                                                                  inputs_ref))


def from_functions(name: str, build: Callable[[], nn.Module],
                   make_inputs: Callable[[], SampleInputs]) -> ModelSource:
    return ModelSource(
        name=name,
        kind="pyfile",
        build=build,
        make_inputs=make_inputs,
        input_description="from the user's inputs function",
        builds_on_meta=False,
    )
