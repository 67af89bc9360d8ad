"""The dispatch-mode recorder: each aten op with its innermost module and phase, and the module
tracker that knows which module is running (forward hooks, autograd-node tags)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Iterable

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from ..dtypes import dtype_name
from .records import FORWARD, ModuleRecord, OpRecord, TensorSpec, iter_tensors, map_leaves

if TYPE_CHECKING:
    from .fake import FakeConstants

_GRAPH_TAG = "modellens_module"


class StorageIds:
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


class ModuleTracker:
    """Which module is running: a stack driven by forward hooks, and autograd-node tags."""

    def __init__(self, model: nn.Module, ids: StorageIds, tag_graph: bool) -> None:
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


class Recorder(TorchDispatchMode):
    """Records each aten op (and higher-order op such as flex attention) with its innermost
    module and phase."""

    supports_higher_order_operators = True

    def __init__(self, tracker: ModuleTracker, ids: StorageIds,
                 constants: FakeConstants | None = None) -> None:
        super().__init__()
        self.tracker = tracker
        self.ids = ids
        self.constants = constants
        self._empty_stats: dict[torch.dtype, torch.Tensor] = {}
        self.phase = FORWARD
        self.ops: list[OpRecord] = []
        self._paused = False
        self.call = None  # the torch-level call running now (set by capture.functions)

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

    @property
    def is_paused(self) -> bool:
        return self._paused

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
        module = self.tracker.current(self.phase)
        to_spec = lambda v: self.ids.spec(v) if isinstance(v, torch.Tensor) else _plain(v)
        self.ops.append(
            OpRecord(
                name=name,
                module=module,
                phase=self.phase,
                args=map_leaves(args, to_spec),
                kwargs=map_leaves(kwargs, to_spec),
                outputs=tuple(self.ids.spec(t) for t in iter_tensors(out)),
                call=self.call,
            )
        )
        return out
