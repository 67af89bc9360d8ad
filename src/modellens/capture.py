"""The one capture: run a model once and record every aten op, module call and parameter.

Capture methods, tried in order (the one used is `Capture.method`):

- ``fake``: parameters and inputs are FakeTensors (shapes and dtypes, no data, no memory); the
  model's own weights are never touched. Works for any size of model.
- ``real``: real tensors on CPU. Used when the model does something data-dependent that fake
  tensors refuse (e.g. ``.item()`` steering control flow). Needs the weights in memory, so it is
  refused above ``max_real_bytes``.

Every analysis in `modellens.analysis` is a pure function of the resulting `Capture`.
"""

from __future__ import annotations

import contextlib
import gc
import math
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map

from . import blocks
from .errors import BuildError, CaptureError, ModellensError
from .specs import TensorSpec, dtype_name, iter_specs, iter_tensors, map_leaves

FORWARD = "forward"
BACKWARD = "backward"
_GRAPH_TAG = "modellens_module"
DEFAULT_MAX_REAL_BYTES = 4 * 2**30
# Fake tensors made by torch.tensor(data) keep their values up to this many elements (torch's
# default: 1), and ops on such constants run for real: a vision tower's grid_thw can be read
# (`.tolist()`) and sizes derived from it (`repeat_interleave`) stay concrete.
CONSTANT_NUMEL_LIMIT = 64
# A fake capture that meets a data-dependent op is retried once with small tensors the forward
# creates itself (arange, zeros, full) made for real and kept, with everything derived from
# them alone, up to this many elements (a vision tower's padded window index).
CREATED_CONSTANT_NUMEL_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class OpRecord:
    """One aten op call: what ran, where (innermost module), and on which shapes."""

    name: str  # overload name, e.g. "aten.addmm.default"
    module: str  # innermost module path, "" for the root
    phase: str  # FORWARD or BACKWARD
    args: tuple  # positional args, tensors replaced by TensorSpec
    kwargs: dict
    outputs: tuple[TensorSpec, ...]
    # every TensorSpec of args and kwargs, in order; read by every analysis, so found once
    inputs: tuple[TensorSpec, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(iter_specs((self.args, self.kwargs))))

    @property
    def packet(self) -> str:
        """Overload packet name, e.g. "aten.addmm"."""
        return self.name.rsplit(".", 1)[0]

    def attributes(self) -> dict[str, Any]:
        """Non-tensor arguments by schema name (stride, padding, groups, ...)."""
        from .ops import non_tensor_arguments

        return non_tensor_arguments(self)


@dataclass(slots=True)
class ModuleRecord:
    """One module of the tree, with what flowed through it on its first call."""

    path: str
    class_name: str
    type_name: str  # fully qualified class name
    parent: str | None
    depth: int
    attributes: dict[str, Any]
    calls: int = 0
    input_specs: tuple[TensorSpec, ...] = ()
    output_specs: tuple[TensorSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class ParamRecord:
    """One parameter or buffer tensor, counted once however many names it has."""

    name: str  # canonical (first) name
    module: str  # path of the module owning `name`
    shape: tuple[int, ...]
    dtype: str
    requires_grad: bool
    is_buffer: bool
    aliases: tuple[str, ...] = ()  # other names of the same tensor (tied weights)

    @property
    def spec(self) -> TensorSpec:
        return TensorSpec(self.shape, self.dtype)

    @property
    def numel(self) -> int:
        return self.spec.numel

    @property
    def nbytes(self) -> int:
        return self.spec.nbytes


@dataclass
class Capture:
    """Everything one run of the model recorded; the input to every analysis."""

    model_name: str
    model_class: str
    method: str
    ops: list[OpRecord]
    modules: dict[str, ModuleRecord]
    params: list[ParamRecord]
    inputs: list[tuple[str, TensorSpec]]
    outputs: list[TensorSpec]
    backward: bool
    notes: list[str] = field(default_factory=list)
    # storage id -> group: "params", "buffers", or a SampleInputs.state name such as "kv_cache"
    storage_groups: dict[int, str] = field(default_factory=dict)

    def storages(self, group: str) -> set[int]:
        return {sid for sid, name in self.storage_groups.items() if name == group}

    def forward_ops(self) -> list[OpRecord]:
        return [op for op in self.ops if op.phase == FORWARD]

    def backward_ops(self) -> list[OpRecord]:
        return [op for op in self.ops if op.phase == BACKWARD]


@dataclass
class SampleInputs:
    """Positional and keyword arguments for one forward call."""

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    # Named groups of tensors analyses want to find again (e.g. "kv_cache"): their storages are
    # listed in Capture.storage_groups. They may live inside argument objects (a Cache).
    state: dict[str, list[torch.Tensor]] = field(default_factory=dict)

    def named(self) -> list[tuple[str, Any]]:
        named = [(f"arg{i}", a) for i, a in enumerate(self.args)]
        return named + list(self.kwargs.items())


# --------------------------------------------------------------------------------------------
# Recording


class _StorageIds:
    """Small integer ids per storage; keeps tensors alive so ids are never reused."""

    def __init__(self) -> None:
        self._ids: dict[int, int] = {}
        self._alive: list[torch.Tensor] = []
        self._count = -1
        self.groups: dict[int, str] = {}

    def spec(self, tensor: torch.Tensor) -> TensorSpec:
        try:
            key = tensor.untyped_storage()._cdata
        except (RuntimeError, NotImplementedError):  # sparse/nested tensors have no storage
            key = id(tensor)
        sid = self._ids.get(key)
        if sid is None:
            sid = self._ids[key] = self.fresh()
            self._alive.append(tensor)
        return TensorSpec(tuple(map(int, tensor.shape)), dtype_name(tensor.dtype), sid)

    def fresh(self, like: int | None = None) -> int:
        """A new id for a storage that exists only in replayed records; it joins the group of
        storage `like` (a replayed layer's KV cache is a KV cache too)."""
        self._count += 1
        if like is not None and like in self.groups:
            self.groups[self._count] = self.groups[like]
        return self._count

    def tag(self, tensors: Iterable[torch.Tensor], group: str) -> None:
        for tensor in tensors:
            self.groups.setdefault(self.spec(tensor).storage, group)


def _plain(value: Any) -> Any:
    """Non-tensor argument -> JSON-friendly value."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (torch.SymInt, torch.SymFloat, torch.SymBool)):
        return value.node.hint if hasattr(value.node, "hint") else str(value)
    if isinstance(value, torch.dtype):
        return dtype_name(value)
    if isinstance(value, (torch.device, torch.layout, torch.memory_format)):
        return str(value)
    return repr(value)


class _ModuleTracker:
    """Which module is running: a stack driven by forward hooks, and autograd-node tags."""

    def __init__(self, model: nn.Module, ids: _StorageIds, tag_graph: bool) -> None:
        self.names = {m: n for n, m in model.named_modules()}
        self.stack: list[str] = []
        self.records: dict[str, ModuleRecord] = {}
        self._ids = ids
        self._tag_graph = tag_graph
        self._handles: list[Any] = []
        for module, path in self.names.items():
            self.records[path] = _module_record(module, path)
            self._handles.append(module.register_forward_pre_hook(self._enter, with_kwargs=True))
            self._handles.append(
                module.register_forward_hook(self._exit, with_kwargs=True, always_call=True)
            )

    def attributes(self, module: nn.Module) -> dict[str, Any]:
        """`module_attributes(module)` as read when tracking began."""
        return self.records[self.names[module]].attributes

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def current(self, phase: str) -> str:
        if phase == FORWARD:
            return self.stack[-1] if self.stack else ""
        node = torch._C._current_autograd_node()
        return node.metadata.get(_GRAPH_TAG, "") if node is not None else ""

    def _enter(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        path = self.names[module]
        record = self.records[path]
        record.calls += 1
        if record.calls == 1:
            record.input_specs = tuple(self._ids.spec(t) for t in iter_tensors((args, kwargs)))
        if self._tag_graph:
            _tag_autograd_graph(iter_tensors((args, kwargs)), self.current(FORWARD))
        self.stack.append(path)

    def _exit(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        path = self.names[module]
        record = self.records[path]
        if record.calls == 1 and not record.output_specs:
            record.output_specs = tuple(self._ids.spec(t) for t in iter_tensors(output))
        if self._tag_graph:
            _tag_autograd_graph(iter_tensors(output), path)
        if self.stack and self.stack[-1] == path:
            self.stack.pop()
        elif path in self.stack:  # an inner hook raised; unwind to this module
            del self.stack[self.stack.index(path) :]


def _tag_autograd_graph(tensors: Iterable[torch.Tensor], path: str) -> None:
    """Mark every not-yet-marked autograd node behind `tensors` as created by module `path`,
    so backward ops can be attributed to the module whose forward created their node."""
    pending = [t.grad_fn for t in tensors if t.grad_fn is not None]
    while pending:
        node = pending.pop()
        metadata = node.metadata
        if _GRAPH_TAG in metadata:
            continue
        metadata[_GRAPH_TAG] = path
        pending.extend(nxt for nxt, _ in node.next_functions if nxt is not None)


_MODULE_ATTR_SKIP = {"training", "dump_patches", "call_super_init"}


def _module_record(module: nn.Module, path: str) -> ModuleRecord:
    parent = None if path == "" else (path.rsplit(".", 1)[0] if "." in path else "")
    return ModuleRecord(
        path=path,
        class_name=type(module).__name__,
        type_name=f"{type(module).__module__}.{type(module).__qualname__}",
        parent=parent,
        depth=0 if path == "" else path.count(".") + 1,
        attributes=module_attributes(module),
    )


def module_attributes(module: nn.Module) -> dict[str, Any]:
    """A module's configuration: its public plain-valued attributes (kernel_size, eps, ...)."""
    attrs: dict[str, Any] = {}
    for key, value in vars(module).items():
        if key.startswith("_") or key in _MODULE_ATTR_SKIP:
            continue
        if isinstance(value, (bool, int, float, str)) or value is None:
            attrs[key] = value
        elif isinstance(value, (tuple, list)) and all(
            isinstance(v, (bool, int, float, str)) for v in value
        ):
            attrs[key] = list(value)
    if isinstance(getattr(module, "bias", None), (torch.Tensor, type(None))) and hasattr(
        module, "bias"
    ):
        attrs["bias"] = module.bias is not None
    return attrs


class _Recorder(TorchDispatchMode):
    """Records each aten op (and higher-order op such as flex attention) with its innermost
    module and phase."""

    supports_higher_order_operators = True

    def __init__(self, tracker: _ModuleTracker, ids: _StorageIds,
                 constants: _FakeConstants | None = None) -> None:
        super().__init__()
        self.tracker = tracker
        self.ids = ids
        self.constants = constants
        self._empty_stats: dict[torch.dtype, torch.Tensor] = {}
        self.phase = FORWARD
        self.ops: list[OpRecord] = []
        self._paused = False

    def _eval_batch_norm(self, input, weight, bias, running_mean, running_var, training,
                         *_, **__) -> tuple | None:
        """Fake inference-mode batch norm without its kernel: torch's fake kernel costs three
        times an empty_like (~140 us; YOLO and ResNet run dozens), and the outputs are only an
        input-shaped tensor and two empty statistics, as the real CPU kernel returns."""
        channels = input.shape[1] if input.dim() > 1 else None
        if training or any(t is not None and tuple(t.shape) != (channels,)
                           for t in (weight, bias, running_mean, running_var)):
            return None  # torch's kernel runs (and raises on mismatched statistics)
        empty = self._empty_stats.get(input.dtype)
        if empty is None:
            empty = self._empty_stats[input.dtype] = input.new_empty((0,))
        return torch.empty_like(input), empty, empty

    @contextlib.contextmanager
    def paused(self):
        """Ops run inside are not recorded (tensors modellens itself creates)."""
        self._paused = True
        try:
            yield
        finally:
            self._paused = False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if isinstance(func, torch._ops.HigherOrderOperator):
            out = func(*args, **kwargs)
            name = f"higher_order.{func.name()}.default"
        else:
            out = None
            if self.constants is not None and self.constants.thorough:
                args, kwargs = map_leaves((args, kwargs), self.constants.lift)
                out = self.constants.create(func, args, kwargs)
            if (out is None and self.constants is not None  # a fake capture
                    and func is torch.ops.aten.native_batch_norm.default):
                out = self._eval_batch_norm(*args, **kwargs)
            if out is None:
                out = func(*args, **kwargs)
            if self._paused or func.namespace == "prim":
                return out
            name = str(func)
        to_spec = lambda v: self.ids.spec(v) if isinstance(v, torch.Tensor) else _plain(v)
        self.ops.append(
            OpRecord(
                name=name,
                module=self.tracker.current(self.phase),
                phase=self.phase,
                args=map_leaves(args, to_spec),
                kwargs=map_leaves(kwargs, to_spec),
                outputs=tuple(self.ids.spec(t) for t in iter_tensors(out)),
            )
        )
        return out


# --------------------------------------------------------------------------------------------
# Running a model under a method


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


def _cast(tensor: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    if dtype is not None and tensor.is_floating_point() and tensor.dtype != dtype:
        return tensor.to(dtype)
    return tensor


def _run(
    model: nn.Module,
    make_inputs: Callable[[], SampleInputs],
    *,
    mode_context: contextlib.AbstractContextManager,
    convert: Callable[[torch.Tensor], torch.Tensor] | None,
    backward: bool,
    dtype: torch.dtype | None,
    replay_blocks: bool,
    constants: _FakeConstants | None = None,
) -> _Run:
    ids = _StorageIds()
    attributes = _attribute_snapshot(model)
    tracker = _ModuleTracker(model, ids, tag_graph=backward)
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
            recorder = _Recorder(tracker, ids, constants)
            grad = torch.enable_grad() if backward else torch.no_grad()
            replay_on = replay_blocks and not backward
            with grad, recorder, blocks.installed(model, tracker, recorder, ids,
                                                  tracker.attributes, replay_on) as replay:
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


def _tag_weights(ids: _StorageIds, model: nn.Module, replacements: dict | None) -> None:
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
    return _cast(value, dtype)


def _fake_converter(fake_mode, dtype,
                    requires_grad: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    from torch._subclasses.fake_tensor import FakeTensor

    cpu = torch.device("cpu")

    def convert(tensor: torch.Tensor) -> torch.Tensor:
        if isinstance(tensor, FakeTensor):
            fake = tensor
        elif tensor.is_meta:  # a fake CPU tensor, so CPU kernels (e.g. fused SDPA) are chosen
            fake = FakeTensor(fake_mode, tensor.data, cpu)  # .data: no dispatch, no autograd
        else:  # real weights: their values are never read, so wrap a meta twin (no copy, fast)
            twin = torch.empty_strided(tensor.size(), tensor.stride(), dtype=tensor.dtype,
                                       device="meta")
            fake = FakeTensor(fake_mode, twin, tensor.device)
        fake = _cast(fake, dtype)
        if requires_grad and isinstance(tensor, nn.Parameter) and tensor.requires_grad:
            fake = fake.detach().requires_grad_(True)
        return fake

    return convert


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
) -> Capture:
    """Run `model` once on `make_inputs()` and record everything analyses need.

    `make_inputs` is called inside the capture's tensor mode, so tensors it creates are fake when
    the method is "fake". `rebuild_real` builds the model with real CPU weights for the "real"
    method when `model` lives on the meta device. `replay_blocks` captures repeated identical
    blocks once and replays them (forward-only fake captures; see `modellens.blocks`).
    """
    params = parameter_records(model, dtype)
    failures: list[str] = []
    for method in methods:
        try:
            with _gc_paused():
                result = _run_method(method, model, make_inputs, params, backward=backward,
                                     dtype=dtype, rebuild_real=rebuild_real,
                                     max_real_bytes=max_real_bytes, replay_blocks=replay_blocks)
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
                replay_blocks: bool) -> _Run:
    """One capture attempt: on fake tensors over the model's own weights, or on real ones."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    if method == "fake":
        from torch._subclasses.fake_tensor import (
            DataDependentOutputException,
            DynamicOutputShapeException,
        )

        def attempt(limit: int, thorough: bool) -> _Run:
            fake_mode = FakeTensorMode(allow_non_fake_inputs=True)
            return _run(
                model,
                make_inputs,
                mode_context=_with_constants(fake_mode, limit),
                convert=_fake_converter(fake_mode, dtype, backward),
                backward=backward,
                dtype=dtype,
                replay_blocks=replay_blocks,
                constants=_FakeConstants(fake_mode, limit, thorough),
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
            convert=(lambda t: _cast(t, dtype)) if dtype is not None else None,
            backward=backward,
            dtype=dtype,
            replay_blocks=False,
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


@contextlib.contextmanager
def _with_constants(fake_mode, limit: int):
    """`fake_mode`, with constant tensors of up to `limit` elements kept as values."""
    from torch._subclasses import fake_tensor

    default = fake_tensor.CONSTANT_NUMEL_LIMIT
    fake_tensor.CONSTANT_NUMEL_LIMIT = limit
    try:
        with fake_mode:
            yield
    finally:
        fake_tensor.CONSTANT_NUMEL_LIMIT = default


class _FakeConstants:
    """Small tensors whose values a forward reads stay concrete under fake tensors.

    Always: the model's small plain tensor attributes (YOLO's `stride`, read with `.item()`)
    become constant fakes before the forward (`lift_attributes`; restored with every other
    attribute after it). On the retry after a data-dependent op (`thorough`), also every small
    real CPU tensor an op meets (`lift`: constants held outside the model), and small CPU tensors
    the forward creates from nothing (`create`: `torch.arange`, `zeros`, `full`) are made for real
    and kept, so what is derived from them alone (a Qwen-VL vision tower's window index: arange,
    pad, boolean-mask select) can be read. Not on the first attempt: those two run on every op,
    and kept constants make ops on them run for real.
    """

    FACTORIES = frozenset({torch.ops.aten.arange.default, torch.ops.aten.arange.start,
                           torch.ops.aten.arange.start_step, torch.ops.aten.zeros.default,
                           torch.ops.aten.ones.default, torch.ops.aten.full.default,
                           torch.ops.aten.scalar_tensor.default})

    def __init__(self, fake_mode, limit: int, thorough: bool) -> None:
        from torch._subclasses.fake_tensor import FakeTensor

        self.fake_mode = fake_mode
        self.converter = fake_mode.fake_tensor_converter
        self.limit = limit
        self.thorough = thorough
        self._fake_type = FakeTensor  # imported once: `lift` runs on every argument of every op

    def lift(self, value: Any) -> Any:
        if (type(value) is not self._fake_type and isinstance(value, torch.Tensor)
                and value.device.type == "cpu" and value.numel() <= self.limit):
            return self.converter.from_real_tensor(self.fake_mode, value, make_constant=True)
        return value

    def lift_attributes(self, model: nn.Module) -> None:
        for module in model.modules():
            for name, value in list(vars(module).items()):
                if type(value) is torch.Tensor:  # not parameters or buffers (kept elsewhere)
                    setattr(module, name, self.lift(value))

    def create(self, func, args: tuple, kwargs: dict) -> torch.Tensor | None:
        """The constant `func(*args, **kwargs)` makes, or None (not a small CPU factory call)."""
        from torch._subclasses.fake_tensor import unset_fake_temporarily

        device = kwargs.get("device")
        if func not in self.FACTORIES or (device is not None
                                          and torch.device(device).type != "cpu"):
            return None
        with unset_fake_temporarily():
            shape = func(*args, **{**kwargs, "device": "meta"}).shape
            if math.prod(shape) > self.limit:
                return None
            real = func(*args, **{**kwargs, "device": "cpu"})
        return self.converter.from_real_tensor(self.fake_mode, real, make_constant=True)


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
