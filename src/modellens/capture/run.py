"""capture(): run a model once, fake tensors first, then real CPU tensors; per-method failures
are collected into one error naming the op or line that failed.

Capture methods, tried in order (the one used is `Capture.method`):

- ``fake``: parameters and inputs are FakeTensors (shapes and dtypes, no data, no memory); the
  model's own weights are never touched. Works for any size of model.
- ``real``: real tensors on CPU. Used when the model does something data-dependent that fake
  tensors refuse (e.g. ``.item()`` steering control flow). Needs the weights and activations in
  memory, so it is refused, before allocating anything, when the weights, the inputs and the
  largest op output of the fake attempt exceed ``max_real_bytes``. The user's model gets its
  buffers and gradients back afterwards.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn
from torch.utils._pytree import tree_map

from .. import units
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
from .replay_grad import BackwardMismatch
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
# The real-tensor fallback draws untrained weights (and random inputs) from this seed, so counts
# that depend on values (detections kept, tokens routed) repeat between runs.
REAL_SEED = 0


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
    run_hooks: bool = False,
    restore_state: bool = False,
    recorded: list[OpRecord] | None = None,
    torch_calls: bool = False,
    input_grad: bool = False,
) -> _Run:
    """One forward (and backward) of `model` under `mode_context`, recorded. The model's
    attributes are restored afterwards; with `restore_state`, also its parameters' and buffers'
    values and gradients (a real-tensor run updates BatchNorm statistics and `.grad` in place).
    User hooks are suspended unless `run_hooks`. `recorded`: a list the ops are recorded into,
    so a caller still has them when the run fails."""
    ids = StorageIds()
    attributes = _attribute_snapshot(model)
    state = _TensorState(model, backward) if restore_state else None
    hooks = contextlib.nullcontext() if run_hooks else _user_hooks_suspended(model)
    hooks.__enter__()
    try:
        tracker = ModuleTracker(model, ids, tag_graph=backward)
    except BaseException:
        hooks.__exit__(None, None, None)
        raise
    model.eval()
    try:
        if constants is not None:
            constants.lift_attributes(model)
        # outside the mode: wrapping meta tensors must not dispatch through it
        replacements = _replacement_tensors(model, convert) if convert else None
        with mode_context:
            _tag_weights(ids, model, replacements)
            sample = make_inputs()
            grad_of = _input_grad_rule(backward, input_grad, sample.state)
            inputs = SampleInputs(
                tuple(tree_map(lambda t: _as_input(t, convert, dtype, grad_of), sample.args)),
                tree_map(lambda t: _as_input(t, convert, dtype, grad_of), sample.kwargs),
            )
            for group, tensors in sample.state.items():
                ids.tag(tensors, group)
            named_inputs = [
                (name, ids.spec(t)) for name, v in inputs.named() for t in iter_tensors(v)
            ]
            recorder = Recorder(tracker, ids, constants)
            if recorded is not None:  # the caller sees the ops recorded before a failure
                recorder.ops = recorded
            grad = torch.enable_grad() if backward else torch.no_grad()
            functions = (FunctionRecorder(recorder, ids) if torch_calls
                         else contextlib.nullcontext())
            with grad, recorder, functions, blocks.installed(
                    model, tracker, recorder, ids, tracker.attributes, replay_blocks,
                    backward) as replay:
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
                    seeds = [torch.ones_like(t) for t in roots]
                    ids.tag(seeds, "backward_seeds")  # held by the call until it returns
                    torch.autograd.backward(roots, seeds)
                    _tag_gradients(ids, model, replacements, inputs)
                    if replay is not None:
                        recorder.ops[:] = replay.expand(recorder.ops)
            output_specs = [ids.spec(t) for t in outputs]
    finally:
        tracker.remove()
        hooks.__exit__(None, None, None)
        _restore_attributes(attributes)
        if state is not None:
            state.restore()
    notes = replay.summary() if replay is not None else []
    return _Run(recorder.ops, tracker.records, named_inputs, output_specs, notes, ids.groups)


class _TensorState:
    """A real model's parameters, buffers and gradients as they were, to put back after a run:
    which tensor each module holds, buffer values (BatchNorm's running statistics and
    num_batches_tracked change in place), and each parameter's `.grad`."""

    def __init__(self, model: nn.Module, backward: bool) -> None:
        self.slots = [(m, dict(m._parameters), dict(m._buffers)) for m in model.modules()]
        self.values: list[tuple[torch.Tensor, torch.Tensor]] = []
        seen: set[int] = set()
        for tensor in model.buffers():
            if id(tensor) not in seen and not tensor.is_meta:
                seen.add(id(tensor))
                self.values.append((tensor, tensor.detach().clone()))
        self.grads: list[tuple[torch.Tensor, torch.Tensor | None]] = []
        if backward:
            self.grads = [(p, None if p.grad is None else p.grad.detach().clone())
                          for p in model.parameters()]

    def restore(self) -> None:
        for module, parameters, buffers in self.slots:
            module._parameters.clear()
            module._parameters.update(parameters)
            module._buffers.clear()
            module._buffers.update(buffers)
        with torch.no_grad():
            for tensor, saved in self.values:
                tensor.copy_(saved)
        for parameter, grad in self.grads:
            parameter.grad = grad


# per-module hook tables, and torch's global module hook tables (nn.modules.module)
_MODULE_HOOKS = ("_forward_hooks", "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
                 "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_backward_hooks",
                 "_backward_pre_hooks")
_GLOBAL_HOOKS = ("_global_forward_hooks", "_global_forward_hooks_with_kwargs",
                 "_global_forward_hooks_always_called", "_global_forward_pre_hooks",
                 "_global_backward_hooks", "_global_backward_pre_hooks")
_global_hooks_lock = threading.Lock()
_global_hooks_saved: list[dict] = []
_global_hooks_users = 0


@contextlib.contextmanager
def _user_hooks_suspended(model: nn.Module):
    """The model's own forward/backward hooks, and global module hooks, do not run during a
    capture: they would see fake tensors (and keep them). Each module gets empty hook tables
    (modellens' tracker registers into those) and its own are put back afterwards, so the
    user's handles stay valid. Global hooks are process-wide: they are held back while any
    capture runs (counted, so concurrent captures restore them once, in order)."""
    saved = [(module, {name: vars(module)[name] for name in _MODULE_HOOKS if name in vars(module)})
             for module in model.modules()]
    for module, tables in saved:
        for name, table in tables.items():
            vars(module)[name] = type(table)()
    _hold_global_hooks()
    try:
        yield
    finally:
        _release_global_hooks()
        for module, tables in saved:
            vars(module).update(tables)


def _hold_global_hooks() -> None:
    global _global_hooks_users
    from torch.nn.modules import module as torch_module

    with _global_hooks_lock:
        if _global_hooks_users == 0:
            _global_hooks_saved[:] = []
            for name in _GLOBAL_HOOKS:
                table = getattr(torch_module, name)
                _global_hooks_saved.append(dict(table))
                table.clear()
        _global_hooks_users += 1


def _release_global_hooks() -> None:
    global _global_hooks_users
    from torch.nn.modules import module as torch_module

    with _global_hooks_lock:
        _global_hooks_users -= 1
        if _global_hooks_users == 0:
            for name, items in zip(_GLOBAL_HOOKS, _global_hooks_saved):
                table = getattr(torch_module, name)
                added = dict(table)  # registered while held: kept, after the old ones
                table.clear()
                table.update(items)
                table.update(added)


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


def _tag_gradients(ids: StorageIds, model: nn.Module, replacements: dict | None,
                   inputs: SampleInputs) -> None:
    """Put the `.grad` the backward left on each parameter (and input) in group "grads":
    they stay alive after the backward, unlike its other outputs (training memory)."""
    leaves = list(replacements.values()) if replacements is not None else list(model.parameters())
    leaves += list(iter_tensors((inputs.args, inputs.kwargs)))
    ids.tag([t.grad for t in leaves if isinstance(t, torch.Tensor) and t.grad is not None], "grads")


def _input_grad_rule(backward: bool, input_grad: bool,
                     state: dict) -> Callable[[torch.Tensor], bool]:
    """Which sample inputs the backward differentiates: floating tensors that require grad as
    given (a user's `torch.randn(..., requires_grad=True)`), or every floating input with
    `input_grad`; never input state such as a KV cache, and nothing without a backward."""
    held = {id(t) for tensors in state.values() for t in iter_tensors(tensors)}

    def wanted(tensor: torch.Tensor) -> bool:
        return (backward and tensor.is_floating_point() and id(tensor) not in held
                and (input_grad or tensor.requires_grad))

    return wanted


def _as_input(value: Any, convert, dtype, grad_of: Callable[[torch.Tensor], bool]) -> Any:
    if not isinstance(value, torch.Tensor):
        return value
    wants_grad = grad_of(value)
    if convert is not None:
        value = convert(value)
    value = cast(value, dtype)
    if wants_grad:  # a leaf of its own: the user's tensor gets no .grad from the capture
        value = value.detach().requires_grad_(True)
    return value


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
    run_hooks: bool = False,
    torch_calls: bool = False,
    input_grad: bool = False,
) -> Capture:
    """Run `model` once on `make_inputs()` and record everything analyses need.

    `make_inputs` is called inside the capture's tensor mode, so tensors it creates are fake when
    the method is "fake". `rebuild_real` builds the model with real CPU weights for the "real"
    method when `model` lives on the meta device. `replay_blocks` captures repeated identical
    blocks once and replays them (fake captures, forward and backward; `capture.replay`).

    The model is left as it was: attributes, and for a real-tensor run its buffers and
    gradients. Its own hooks (and global module hooks) do not run unless `run_hooks=True`
    (they would be called with fake tensors). The real-tensor fallback is refused when the
    weights, inputs and largest activation it would allocate exceed `max_real_bytes` (estimated
    from the shapes of the fake attempt, so nothing is allocated to find out).
    `torch_calls` also records the torch-level call each aten op lowered from
    (`OpRecord.call`, see `modellens.capture.functions`); off by default (it slows capture).
    With `backward`, inputs given with `requires_grad=True` get their gradient computed (the
    first layer's grad-input); `input_grad=True` does so for every floating input.
    """
    params = parameter_records(model, dtype)
    failures: list[str] = []
    recorded: list[OpRecord] = []  # the ops of the last fake attempt, up to where it failed
    for method in methods:
        try:
            with gc_paused(), _fake_tensor_tracebacks_dropped():
                result = _run_method(method, model, make_inputs, params, backward=backward,
                                     dtype=dtype, rebuild_real=rebuild_real,
                                     max_real_bytes=max_real_bytes, replay_blocks=replay_blocks,
                                     run_hooks=run_hooks, recorded=recorded,
                                     torch_calls=torch_calls, input_grad=input_grad)
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
                replay_blocks: bool, run_hooks: bool, recorded: list[OpRecord],
                torch_calls: bool = False, input_grad: bool = False) -> _Run:
    """One capture attempt: on fake tensors over the model's own weights, or on real ones.
    A fake attempt records its ops into `recorded` (kept when it fails); a real attempt reads
    them to estimate what it would allocate."""
    if method == "fake":
        from torch._subclasses.fake_tensor import (
            DataDependentOutputException,
            DynamicOutputShapeException,
        )

        def attempt(limit: int, thorough: bool, replay: bool = replay_blocks) -> _Run:
            fake_mode = constant_keeping_mode(limit)
            recorded.clear()
            return _run(
                model,
                make_inputs,
                mode_context=fake_mode,
                convert=fake_converter(fake_mode, dtype, backward),
                backward=backward,
                dtype=dtype,
                replay_blocks=replay,
                constants=FakeConstants(fake_mode, limit, thorough),
                run_hooks=run_hooks,
                recorded=recorded,
                torch_calls=torch_calls,
                input_grad=input_grad,
            )

        try:
            return _replay_proven(attempt, CONSTANT_NUMEL_LIMIT, thorough=False)
        except (DataDependentOutputException, DynamicOutputShapeException) as exc:
            result = _replay_proven(attempt, CREATED_CONSTANT_NUMEL_LIMIT, thorough=True)
            result.notes.append(f"fake capture retried with small created tensors kept "
                                f"concrete (a data-dependent {exc.func})")
            return result
    if method == "real":
        weights = sum(p.nbytes for p in params) if _model_device(model).type == "meta" else 0
        _check_real_memory(weights, _input_bytes(make_inputs, dtype), recorded, max_real_bytes)
        with torch.random.fork_rng(devices=[]):  # the caller's CPU RNG state comes back after
            torch.manual_seed(REAL_SEED)
            real = _real_model(model, rebuild_real)
            result = _run(
                real,
                make_inputs,
                mode_context=contextlib.nullcontext(),
                convert=(lambda t: cast(t, dtype)) if dtype is not None else None,
                backward=backward,
                dtype=dtype,
                replay_blocks=False,
                run_hooks=run_hooks,
                restore_state=real is model,  # the user's own model: put its state back
                torch_calls=torch_calls,
                input_grad=input_grad,
            )
        if real is not model:
            result.notes.append(f"real-tensor run on untrained weights drawn with seed "
                                f"{REAL_SEED} (data-dependent counts repeat between runs)")
        return result
    raise ValueError(f"unknown capture method {method!r}")


def _replay_proven(attempt: Callable[..., _Run], limit: int, thorough: bool) -> _Run:
    """`attempt`, run again with every block run when its replayed backward could not be
    proven equal to running them (`capture.replay_grad`)."""
    try:
        return attempt(limit, thorough)
    except BackwardMismatch as exc:
        result = attempt(limit, thorough, replay=False)
        result.notes.append(f"block replay not used: {exc}")
        return result


def _input_bytes(make_inputs: Callable[[], SampleInputs], dtype: torch.dtype | None) -> int:
    """Bytes of the sample inputs (and input state such as a KV cache), made as fake tensors;
    0 when they cannot be made so (the real attempt then finds out)."""
    from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode

    try:
        with FakeTensorMode(allow_non_fake_inputs=True):
            sample = make_inputs()
        tensors = list(iter_tensors((sample.args, sample.kwargs)))
        tensors += [t for group in sample.state.values() for t in group]
        sizes: dict[int, int] = {}
        for tensor in tensors:  # made here (fake); tensors the user already holds cost nothing
            if isinstance(tensor, FakeTensor):
                itemsize = (dtype.itemsize if dtype is not None and tensor.is_floating_point()
                            else tensor.element_size())
                sizes[id(tensor)] = tensor.numel() * itemsize
        return sum(sizes.values())
    except ModellensError:
        raise
    except Exception:
        return 0


def _check_real_memory(weights: int, inputs: int, recorded: list[OpRecord],
                       limit: int) -> None:
    """Refuse the real-tensor fallback, before it allocates anything, when the weights it
    builds, its inputs and the largest op output the fake attempt saw exceed `limit`."""
    largest = max(recorded, key=lambda op: sum(o.nbytes for o in op.outputs), default=None)
    activation = sum(o.nbytes for o in largest.outputs) if largest is not None else 0
    needed = weights + inputs + activation
    if needed <= limit:
        return
    parts = [f"weights {_gib(weights)}"] if weights else []
    parts.append(f"inputs {_gib(inputs)}")
    if largest is not None:
        where = f" in {largest.module}" if largest.module else ""
        parts.append(f"the output of {largest.name}{where} {_gib(activation)}")
    raise CaptureError(f"real-tensor fallback refused: it would allocate at least "
                       f"{_gib(needed)} ({', '.join(parts)}), over the limit of {_gib(limit)}")


def _gib(nbytes: int) -> str:
    return units.size(nbytes)


@contextlib.contextmanager
def _fake_tensor_tracebacks_dropped():
    """torch logs a traceback (15-20 lines) for every op its fake kernels reject; the capture
    reports that failure itself, in one line, so this thread's records of that logger are
    dropped while the capture runs (other threads' are not). Setting the `modellens` logger to
    DEBUG (the CLI's --debug) keeps them."""
    logger = logging.getLogger("torch._subclasses.fake_tensor")
    thread = threading.get_ident()
    debug = logging.getLogger("modellens")

    def other_threads(record: logging.LogRecord) -> bool:
        return record.thread != thread or debug.isEnabledFor(logging.DEBUG)

    logger.addFilter(other_threads)
    try:
        yield
    finally:
        logger.removeFilter(other_threads)


@contextlib.contextmanager
def gc_paused():
    """The cyclic garbage collector off while a capture runs (and, in tasks, while a model is
    built and analysed): they allocate many small objects (modules, records, specs, fake
    tensors, costs) that all live until the end, and every collection would walk them (and the
    rest of a large heap such as transformers') for nothing: a 96-layer GPT-2's profile() spent
    about half its CPU time in collections. Re-entrant: only the outermost turns it back on."""
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


def _real_model(model: nn.Module, rebuild: Callable[[], nn.Module] | None) -> nn.Module:
    if _model_device(model).type != "meta":
        return model
    if rebuild is None:
        raise CaptureError("real-tensor fallback needs a way to build the model on CPU")
    with torch.device("cpu"):
        return rebuild()
