"""capture(): run a model once, fake tensors first, then real CPU tensors; per-method failures
are collected into one error naming the op or line that failed.

Capture methods, tried in order (the one used is `Capture.method`):

- ``fake``: parameters and inputs are FakeTensors (shapes and dtypes, no data, no memory); the
  model's own weights are never touched. Works for any size of model.
- ``real``: real tensors on CPU. Used when the model does something data-dependent that fake
  tensors refuse (e.g. ``.item()`` steering control flow). Needs the weights in memory, so it is
  refused above ``max_real_bytes``.
"""

from __future__ import annotations

import contextlib
import gc
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn
from torch.utils._pytree import tree_map

from ..dtypes import dtype_name
from ..errors import BuildError, CaptureError, ModellensError
from . import replay as blocks
from .fake import (
    CONSTANT_NUMEL_LIMIT,
    CREATED_CONSTANT_NUMEL_LIMIT,
    FakeConstants,
    cast,
    constant_keeping_mode,
    fake_converter,
)
from .functions import FunctionRecorder
from .recorder import ModuleTracker, Recorder, StorageIds
from .records import (
    BACKWARD,
    Capture,
    ModuleRecord,
    OpRecord,
    ParamRecord,
    SampleInputs,
    TensorSpec,
    iter_tensors,
)

DEFAULT_MAX_REAL_BYTES = 4 * 2**30


def parameter_records(model: nn.Module, dtype: torch.dtype | None = None) -> list[ParamRecord]:
    """Unique parameters then unique buffers; tied tensors appear once, with their aliases."""
    records: list[ParamRecord] = []
    for is_buffer, named in (
        (False, model.named_parameters(remove_duplicate=False)),
        (True, model.named_buffers(remove_duplicate=False)),
    ):
        groups: dict[int, list[str]] = {}
        tensors: dict[int, torch.Tensor] = {}
        for name, tensor in named:
            groups.setdefault(id(tensor), []).append(name)
            tensors[id(tensor)] = tensor
        for key, names in groups.items():
            tensor = tensors[key]
            cast = dtype if (dtype is not None and tensor.is_floating_point()) else tensor.dtype
            records.append(
                ParamRecord(
                    name=names[0],
                    module=names[0].rsplit(".", 1)[0] if "." in names[0] else "",
                    shape=tuple(tensor.shape),
                    dtype=dtype_name(cast),
                    requires_grad=bool(tensor.requires_grad) and not is_buffer,
                    is_buffer=is_buffer,
                    aliases=tuple(names[1:]),
                )
            )
    return records


def _replacement_tensors(
    model: nn.Module, convert: Callable[[torch.Tensor], torch.Tensor]
) -> dict[str, torch.Tensor]:
    """name -> converted tensor for every param/buffer name; tied names share one tensor."""
    converted: dict[int, torch.Tensor] = {}
    out: dict[str, torch.Tensor] = {}
    named = list(model.named_parameters(remove_duplicate=False)) + list(
        model.named_buffers(remove_duplicate=False)
    )
    for name, tensor in named:
        key = id(tensor)
        if key not in converted:
            converted[key] = convert(tensor)
        out[name] = converted[key]
    return out


def _run(
    model: nn.Module,
    make_inputs: Callable[[], SampleInputs],
    *,
    mode_context: contextlib.AbstractContextManager,
    convert: Callable[[torch.Tensor], torch.Tensor] | None,
    backward: bool,
    dtype: torch.dtype | None,
    replay_blocks: bool,
    constants: FakeConstants | None = None,
    torch_calls: bool = False,
) -> _Run:
    ids = StorageIds()
    attributes = _attribute_snapshot(model)
    tracker = ModuleTracker(model, ids, tag_graph=backward)
    model.eval()
    try:
        if constants is not None:
            constants.lift_attributes(model)
        # outside the mode: wrapping meta tensors must not dispatch through it
        replacements = _replacement_tensors(model, convert) if convert else None
        with mode_context:
            _tag_weights(ids, model, replacements)
            sample = make_inputs()
            inputs = SampleInputs(
                tuple(tree_map(lambda t: _as_input(t, convert, dtype), sample.args)),
                tree_map(lambda t: _as_input(t, convert, dtype), sample.kwargs),
            )
            for group, tensors in sample.state.items():
                ids.tag(tensors, group)
            named_inputs = [
                (name, ids.spec(t)) for name, v in inputs.named() for t in iter_tensors(v)
            ]
            recorder = Recorder(tracker, ids, constants)
            grad = torch.enable_grad() if backward else torch.no_grad()
            replay_on = replay_blocks and not backward
            functions = (FunctionRecorder(recorder, ids) if torch_calls
                         else contextlib.nullcontext())
            with grad, recorder, functions, blocks.installed(
                    model, tracker, recorder, ids, tracker.attributes, replay_on) as replay:
                if replacements is not None:
                    output = torch.func.functional_call(
                        model, replacements, inputs.args, inputs.kwargs, strict=False
                    )
                else:
                    output = model(*inputs.args, **inputs.kwargs)
                outputs = list(iter_tensors(output))
                if backward:
                    recorder.phase = BACKWARD
                    roots = [t for t in outputs if t.requires_grad and t.is_floating_point()]
                    if not roots:
                        raise CaptureError("backward requested but no output requires grad")
                    torch.autograd.backward(roots, [torch.ones_like(t) for t in roots])
            output_specs = [ids.spec(t) for t in outputs]
    finally:
        tracker.remove()
        _restore_attributes(attributes)
    notes = replay.summary() if replay is not None else []
    return _Run(recorder.ops, tracker.records, named_inputs, output_specs, notes, ids.groups)


def _attribute_snapshot(model: nn.Module) -> dict[nn.Module, dict[str, Any]]:
    """Every module's attributes (shallow): what a forward assigns to `self` (YOLO caches its
    anchors as `self.anchors`) is undone afterwards, so no fake tensor stays on the model."""
    return {module: dict(vars(module)) for module in model.modules()}


def _restore_attributes(snapshot: dict[nn.Module, dict[str, Any]]) -> None:
    for module, attributes in snapshot.items():
        current = vars(module)
        for name in [name for name in current if name not in attributes]:
            del current[name]
        current.update(attributes)


@dataclass
class _Run:
    ops: list[OpRecord]
    modules: dict[str, ModuleRecord]
    inputs: list[tuple[str, TensorSpec]]
    outputs: list[TensorSpec]
    notes: list[str]
    storage_groups: dict[int, str]


def _tag_weights(ids: StorageIds, model: nn.Module, replacements: dict | None) -> None:
    """Put the tensors the forward will read as parameters/buffers in their groups."""
    names = {n for n, _ in model.named_parameters(remove_duplicate=False)}
    if replacements is None:
        replacements = dict(model.named_parameters(remove_duplicate=False))
        replacements.update(model.named_buffers(remove_duplicate=False))
    for name, tensor in replacements.items():
        ids.tag([tensor], "params" if name in names else "buffers")


def _as_input(value: Any, convert, dtype) -> Any:
    if not isinstance(value, torch.Tensor):
        return value
    if convert is not None:
        value = convert(value)
    return cast(value, dtype)


def _describe_failure(exc: BaseException, ops: list[OpRecord] | None = None) -> str:
    """One line: the error, and the innermost frame outside torch that led to it."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    for frame in reversed(frames):
        if "/torch/" not in frame.filename and "/modellens/" not in frame.filename:
            where = f" at {frame.filename}:{frame.lineno} ({frame.line})"
            break
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{type(exc).__name__}: {message}{where}"


def capture(
    model: nn.Module,
    make_inputs: Callable[[], SampleInputs],
    *,
    name: str = "",
    backward: bool = False,
    dtype: torch.dtype | None = None,
    methods: tuple[str, ...] = ("fake", "real"),
    rebuild_real: Callable[[], nn.Module] | None = None,
    max_real_bytes: int = DEFAULT_MAX_REAL_BYTES,
    replay_blocks: bool = True,
    torch_calls: bool = False,
) -> Capture:
    """Run `model` once on `make_inputs()` and record everything analyses need.

    `make_inputs` is called inside the capture's tensor mode, so tensors it creates are fake when
    the method is "fake". `rebuild_real` builds the model with real CPU weights for the "real"
    method when `model` lives on the meta device. `replay_blocks` captures repeated identical
    blocks once and replays them (forward-only fake captures; see `modellens.capture.replay`).
    `torch_calls` also records the torch-level call each aten op lowered from
    (`OpRecord.call`, see `modellens.capture.functions`); off by default (it slows capture).
    """
    params = parameter_records(model, dtype)
    failures: list[str] = []
    for method in methods:
        try:
            with _gc_paused():
                result = _run_method(method, model, make_inputs, params, backward=backward,
                                     dtype=dtype, rebuild_real=rebuild_real,
                                     max_real_bytes=max_real_bytes, replay_blocks=replay_blocks,
                                     torch_calls=torch_calls)
        except (CaptureError, BuildError) as exc:
            failures.append(f"{method}: {exc}")
            continue
        except ModellensError:  # bad user input (e.g. an inputs function that raises): no retry
            raise
        except Exception as exc:  # any model error: try the next method, then report all
            failures.append(f"{method}: {_describe_failure(exc)}")
            continue
        return Capture(
            model_name=name or type(model).__name__,
            model_class=type(model).__name__,
            method=method,
            ops=result.ops,
            modules=result.modules,
            params=params,
            inputs=result.inputs,
            outputs=result.outputs,
            backward=backward,
            notes=[f"capture method {f}" for f in failures] + result.notes,
            storage_groups=result.storage_groups,
        )
    raise CaptureError(f"could not capture {name or type(model).__name__}: " + "; ".join(failures))


def _run_method(method: str, model: nn.Module, make_inputs: Callable[[], SampleInputs],
                params: list[ParamRecord], *, backward: bool, dtype: torch.dtype | None,
                rebuild_real: Callable[[], nn.Module] | None, max_real_bytes: int,
                replay_blocks: bool, torch_calls: bool = False) -> _Run:
    """One capture attempt: on fake tensors over the model's own weights, or on real ones."""
    if method == "fake":
        from torch._subclasses.fake_tensor import (
            DataDependentOutputException,
            DynamicOutputShapeException,
        )

        def attempt(limit: int, thorough: bool) -> _Run:
            fake_mode = constant_keeping_mode(limit)
            return _run(
                model,
                make_inputs,
                mode_context=fake_mode,
                convert=fake_converter(fake_mode, dtype, backward),
                backward=backward,
                dtype=dtype,
                replay_blocks=replay_blocks,
                constants=FakeConstants(fake_mode, limit, thorough),
                torch_calls=torch_calls,
            )

        try:
            return attempt(CONSTANT_NUMEL_LIMIT, thorough=False)
        except (DataDependentOutputException, DynamicOutputShapeException) as exc:
            result = attempt(CREATED_CONSTANT_NUMEL_LIMIT, thorough=True)
            result.notes.append(f"fake capture retried with small created tensors kept "
                                f"concrete (a data-dependent {exc.func})")
            return result
    if method == "real":
        return _run(
            _real_model(model, rebuild_real, params, max_real_bytes),
            make_inputs,
            mode_context=contextlib.nullcontext(),
            convert=(lambda t: cast(t, dtype)) if dtype is not None else None,
            backward=backward,
            dtype=dtype,
            replay_blocks=False,
            torch_calls=torch_calls,
        )
    raise ValueError(f"unknown capture method {method!r}")


@contextlib.contextmanager
def _gc_paused():
    """The cyclic garbage collector off while a capture runs: a capture allocates many small
    objects (records, specs, fake tensors) that all live until it ends, and every collection
    would walk them (and the rest of a large heap such as transformers') for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _model_device(model: nn.Module) -> torch.device:
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _real_model(
    model: nn.Module,
    rebuild: Callable[[], nn.Module] | None,
    params: list[ParamRecord],
    max_real_bytes: int,
) -> nn.Module:
    if _model_device(model).type != "meta":
        return model
    needed = sum(p.nbytes for p in params)
    if needed > max_real_bytes:
        raise CaptureError(
            f"real-tensor fallback needs {needed / 2**30:.1f} GiB of weights "
            f"(limit {max_real_bytes / 2**30:.1f} GiB)"
        )
    if rebuild is None:
        raise CaptureError("real-tensor fallback needs a way to build the model on CPU")
    with torch.device("cpu"):
        return rebuild()
