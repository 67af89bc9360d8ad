"""Weight matrices: every linear map of a model, with the input that really flows into it.

A matrix is a weight applied to the last dimension of its input (y = x W^T). Found in the
module tree:

- ``nn.Linear`` and its subclasses (``NonDynamicallyQuantizableLinear``), HF ``Conv1D`` (GPT-2;
  stores the weight as [in, out]);
- ``nn.MultiheadAttention``'s packed ``in_proj_weight`` [3E, E] (or ``q/k/v_proj_weight``);
- bare parameters that a matmul op of their own module consumes in the capture: a 2-D weight
  (an MoE router) or each expert's slice of a 3-D ``[num_experts, ., .]`` weight (fused
  experts, e.g. Mixtral's ``gate_up_proj`` [E, 2F, H]). Transformers' ``is_transposed``
  attribute gives the layout of expert weights; otherwise [out, in] like ``F.linear``.

``weight_shape`` is always [out_features, in_features]; ``stored_shape`` is the tensor as
stored. Inputs come from the capture (the module's first call; a fused fast path that skips a
submodule, like ``nn.MultiheadAttention``'s, lends the parent's input). Forward FLOPs are
``2 * tokens * in * out`` per call, bias adds excluded; an expert sees ``top_k / num_experts``
of the tokens (uniform routing).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Iterator

from torch import nn

from ..capture import FORWARD, Capture, ModuleRecord, ParamRecord
from ..capture.records import TensorSpec
from ..costing.cost import FLOPS_PER_MAC
from ..costing.registry import MATMUL, category
from ..dtypes import dtype_name, dtype_size
from ..io import JsonRecord, to_jsonable
from .params import count_params

BATCH = "batch_size"
_TOP_K_ATTRS = ("top_k", "num_experts_per_tok", "num_experts_per_token")
_PARENT_LEVELS = 2  # how far up an uncalled matrix may borrow its input


@dataclass(frozen=True)
class Matrix(JsonRecord):
    """One weight matrix (or one expert's slice of a fused expert weight)."""

    layer_name: str
    input_shape: list | None  # ["batch_size", S, K]; None when no input was captured
    weight_shape: list[int]  # [out_features, in_features]
    has_bias: bool
    bias_shape: list[int] | None
    parameters: int  # weight + bias elements
    module_class: str
    weight_name: str  # the parameter holding the weight
    stored_shape: list[int]
    dtype: str
    bytes: int
    flops: int | None  # forward, all calls, bias adds excluded
    calls: int
    expert: int | None = None
    token_fraction: float | None = 1.0  # share of the tokens it sees: top_k / E for an expert
    shared_with: list[str] = field(default_factory=list)  # other names of a tied weight

    @property
    def in_features(self) -> int:
        return self.weight_shape[1]

    @property
    def out_features(self) -> int:
        return self.weight_shape[0]

    @property
    def key(self) -> tuple[str, int | None]:
        """Identity of the stored weight: tied matrices share it."""
        return (min([self.weight_name, *self.shared_with]), self.expert)


@dataclass
class ModelMatrices:
    """The matrices of one model and their totals."""

    name: str  # the spec it was asked for
    model_class: str
    capture_method: str
    input_description: str
    max_sequence_length: int | None
    matrices: list[Matrix]
    model_params: int
    notes: list[str] = field(default_factory=list)
    source: str = ""
    bandwidth: float | None = None  # bytes/s used for stream_time_s

    @property
    def total_matrices(self) -> int:
        return len(self.matrices)

    def _unique(self) -> list[Matrix]:
        return list({m.key: m for m in reversed(self.matrices)}.values())

    @property
    def total_matrix_params(self) -> int:
        """Elements of all matrices and their biases; a tied weight counts once."""
        return sum(m.parameters for m in self._unique())

    @property
    def matrix_bytes(self) -> int:
        """Bytes to read every matrix once: one forward's weight traffic at batch 1."""
        return sum(m.bytes for m in self._unique())

    @property
    def forward_flops(self) -> int | None:
        """Forward FLOPs of all matrices; None when any called matrix's are unknown (never a
        silent partial total). Uncalled matrices (no input) count 0 and are named in notes."""
        called = [m for m in self.matrices if m.input_shape is not None]
        if any(m.flops is None for m in called):
            return None
        return sum(m.flops or 0 for m in called)

    @property
    def stream_time_s(self) -> float | None:
        return self.matrix_bytes / self.bandwidth if self.bandwidth else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_matrices": self.total_matrices,
            "max_sequence_length": self.max_sequence_length,
            "matrices": to_jsonable(self.matrices),
            "model_class": self.model_class,
            "source": self.source,
            "capture_method": self.capture_method,
            "input": self.input_description,
            "total_matrix_params": self.total_matrix_params,
            "model_params": self.model_params,
            "matrix_bytes": self.matrix_bytes,
            "forward_flops": self.forward_flops,
            "stream_time_s": self.stream_time_s,
            "notes": list(self.notes),
        }


def model_matrices(
    capture: Capture,
    model: nn.Module,
    *,
    batch_size: int = 1,
    max_sequence_length: int | None = None,
    bandwidth: float | None = None,
    input_description: str = "",
    source: str = "",
    name: str | None = None,
    top_k: int | None = None,
) -> ModelMatrices:
    """Every weight matrix of `model` with its captured input. `max_sequence_length` is the
    configured limit when known, else the most tokens per sample seen flowing into one matrix
    (a ViT's patches + class token; None when every matrix sees one vector per sample).
    `top_k`: experts per token from the source's MoE facts (`sources.hf.classes.moe_settings`),
    used where no module of the experts says."""
    finder = _Finder(capture, model, batch_size, top_k)
    matrices = list(finder.matrices())
    notes = _notes(matrices, capture)
    if finder.borrowed:
        notes.append(f"{len(finder.borrowed)} matrices ran inside a fused kernel of an ancestor "
                     f"(e.g. nn.MultiheadAttention's fast path) and take its input: "
                     f"{', '.join(finder.borrowed[:2])}")
    if max_sequence_length is None:
        lengths = [m.input_shape[1] for m in matrices
                   if m.input_shape and m.input_shape[0] == BATCH and m.input_shape[1] > 1]
        max_sequence_length = max(lengths, default=None)
    return ModelMatrices(
        name=name or capture.model_name,
        model_class=capture.model_class,
        capture_method=capture.method,
        input_description=input_description,
        max_sequence_length=max_sequence_length,
        matrices=matrices,
        model_params=count_params(capture.params).total,
        notes=notes,
        source=source,
        bandwidth=bandwidth,
    )


def _notes(matrices: list[Matrix], capture: Capture) -> list[str]:
    notes = list(capture.notes)
    if not matrices:
        notes.append("no weight matrices: the model has no linear layers")
    unknown = [m.layer_name for m in matrices if m.input_shape is None]
    if unknown:
        notes.append(f"{len(unknown)} matrices were not called in the captured forward; their "
                     f"input and FLOPs are unknown: {', '.join(unknown[:3])}")
    experts = [m for m in matrices if m.expert is not None]
    if experts:
        fraction = experts[0].token_fraction
        share = ("top_k is unknown, so their FLOPs and the total are too" if fraction is None else
                 f"each sees top_k/num_experts = {fraction:g} of the tokens (uniform routing)")
        notes.append(f"{len(experts)} expert matrices; {share}")
    return notes


def _rows(spec: TensorSpec) -> int:
    """Vectors in a tensor whose last dimension is the feature dimension."""
    return spec.numel // spec.shape[-1] if spec.shape and spec.shape[-1] else 0


def _seed_shape(rows: int, in_features: int, batch: int) -> list:
    if rows % batch:
        return [rows, in_features]
    return [BATCH, rows // batch, in_features]


def _conv1d_class() -> type | None:
    module = sys.modules.get("transformers.pytorch_utils")
    return getattr(module, "Conv1D", None)


class _Finder:
    """Walks the module tree once and yields Matrix records in tree order."""

    def __init__(self, capture: Capture, model: nn.Module, batch: int,
                 top_k: int | None = None) -> None:
        self.model = model
        self.top_k = top_k
        self.records = capture.modules
        self.batch = batch
        self.params: dict[str, ParamRecord] = {}
        for record in capture.params:
            for name in (record.name, *record.aliases):
                self.params[name] = record
        self.operand_dims = _matmul_operand_dims(capture)
        self.conv1d = _conv1d_class()
        self.borrowed: list[str] = []  # paths of modules that took an ancestor's input

    def matrices(self) -> Iterator[Matrix]:
        for path, module in self.model.named_modules():
            record = self.records.get(path)
            if record is None:
                continue
            if isinstance(module, nn.Linear) or (self.conv1d and isinstance(module, self.conv1d)):
                yield self._linear(path, module, record)
            elif isinstance(module, nn.MultiheadAttention):
                yield from self._multihead(path, module, record)
            else:
                yield from self._bare(path, module, record)

    # -- one kind of layer each ----------------------------------------------------------------

    def _linear(self, path: str, module: nn.Module, record: ModuleRecord) -> Matrix:
        weight = _join(path, "weight")
        stored = list(module.weight.shape)
        if weight not in self.params:  # computed by a parametrization (e.g. weight_norm)
            self.params[weight] = ParamRecord(
                name=weight, module=path, shape=tuple(stored),
                dtype=dtype_name(module.weight.dtype), requires_grad=False, is_buffer=False)
        # Conv1D stores [in, out]
        weight_shape = stored if isinstance(module, nn.Linear) else stored[::-1]
        specs, calls = self._inputs(record)
        bias = _join(path, "bias") if module.bias is not None else None
        return self._matrix(path, record, weight, weight_shape, stored, bias, _first_rows(specs),
                            calls)

    def _multihead(self, path: str, module: nn.MultiheadAttention,
                   record: ModuleRecord) -> Iterator[Matrix]:
        specs, calls = self._inputs(record)
        rows = [_rows(s) for s in specs[:3]]  # query, key, value
        rows += rows[-1:] * (3 - len(rows))
        bias = _join(path, "in_proj_bias") if module.in_proj_bias is not None else None
        if module.in_proj_weight is not None:  # packed [3E, E]: each third on its own input
            stored = list(module.in_proj_weight.shape)
            matrix = self._matrix(_join(path, "in_proj"), record, _join(path, "in_proj_weight"),
                                  stored, stored, bias, _first_rows(specs), calls)
            if rows:
                embed = stored[1]
                matrix = replace(matrix, flops=FLOPS_PER_MAC * sum(rows) * embed * embed * calls)
            yield matrix
            return
        for i, name in enumerate(("q_proj_weight", "k_proj_weight", "v_proj_weight")):
            stored = list(getattr(module, name).shape)
            yield self._matrix(_join(path, name.removesuffix("_weight")), record,
                               _join(path, name), stored, stored, bias,
                               rows[i] if rows else None, calls, bias_size=stored[0])

    def _bare(self, path: str, module: nn.Module, record: ModuleRecord) -> Iterator[Matrix]:
        """Parameters consumed by a matmul of their own module (routers, fused experts)."""
        operands = self.operand_dims.get(path)
        if not operands:
            return
        dims = {shape[-2:] for op in operands for shape in op}
        specs, calls = self._inputs(record)
        rows = _first_rows(specs)
        in_dim = specs[0].shape[-1] if specs and specs[0].shape else None
        experts = record.attributes.get("num_experts")
        for name, param in _own_parameters(module):
            shape = list(param.shape)
            if len(shape) < 2 or not {tuple(shape[-2:]), tuple(shape[:-3:-1])} & dims:
                continue
            weight = _join(path, name)
            if weight not in self.params:
                continue
            bias = _join(path, f"{name}_bias")
            bias = bias if bias in self.params else None
            if len(shape) == 2:  # [out, in] like F.linear, unless its input says [in, out]
                met = _activation_meeting(operands, shape)
                w_rows, w_in = (met if met else (rows, in_dim))
                weight_shape = shape[::-1] if shape[0] == w_in != shape[1] else shape
                layer = path if name == "weight" else _join(path, name)
                yield self._matrix(layer, record, weight, weight_shape, shape, bias, w_rows,
                                   calls)
                continue
            if len(shape) == 3 and shape[0] == experts:
                transposed = bool(record.attributes.get("is_transposed", False))
                weight_shape = shape[:0:-1] if transposed else shape[1:]
                top_k = self._top_k(record)
                fraction = Fraction(top_k, experts) if top_k else None
                for expert in range(experts):
                    yield self._matrix(f"{path}.{expert}.{name}", record, weight, weight_shape,
                                       shape, bias, rows, calls, expert=expert,
                                       token_fraction=fraction)

    # -- shared pieces -------------------------------------------------------------------------

    def _inputs(self, record: ModuleRecord) -> tuple[tuple[TensorSpec, ...], int]:
        """The module's first-call inputs and call count. A module that a fused kernel of an
        ancestor skipped (nn.MultiheadAttention's fast path) borrows the first input of the
        nearest called ancestor within two levels, if that input is an activation."""
        if record.calls:
            return record.input_specs, record.calls
        parent = record.parent
        for _ in range(_PARENT_LEVELS):
            if parent is None:
                break
            ancestor = self.records[parent]
            if ancestor.calls and ancestor.input_specs and ancestor.input_specs[0].is_floating:
                self.borrowed.append(record.path)
                return ancestor.input_specs[:1], ancestor.calls
            parent = ancestor.parent
        return (), 0

    def _top_k(self, record: ModuleRecord) -> int | None:
        """Experts per token, from the experts module or its nearest ancestor that says."""
        path: str | None = record.path
        while path is not None:
            rec = self.records[path]
            for attr in _TOP_K_ATTRS:
                if isinstance(rec.attributes.get(attr), int):
                    return rec.attributes[attr]
            path = rec.parent
        return self.top_k

    def _matrix(self, layer: str, record: ModuleRecord, weight: str, weight_shape: list[int],
                stored: list[int], bias: str | None, rows: int | None, calls: int, *,
                expert: int | None = None, token_fraction: Fraction | None = Fraction(1),
                bias_size: int | None = None) -> Matrix:
        weight_rec = self.params[weight]
        out_f, in_f = weight_shape
        bias_shape = None if bias is None else [bias_size or out_f]
        bias_numel = bias_shape[0] if bias_shape else 0
        bias_bytes = bias_numel * dtype_size(self.params[bias].dtype) if bias else 0
        flops = None
        if rows is not None and token_fraction is not None:
            flops = int(FLOPS_PER_MAC * rows * calls * in_f * out_f * token_fraction)
        return Matrix(
            layer_name=layer,
            input_shape=None if rows is None else _seed_shape(rows, in_f, self.batch),
            weight_shape=[out_f, in_f],
            has_bias=bias is not None,
            bias_shape=bias_shape,
            parameters=out_f * in_f + bias_numel,
            module_class=record.class_name,
            weight_name=weight,
            stored_shape=stored,
            dtype=weight_rec.dtype,
            bytes=out_f * in_f * dtype_size(weight_rec.dtype) + bias_bytes,
            flops=flops,
            calls=calls,
            expert=expert,
            token_fraction=None if token_fraction is None else float(token_fraction),
            shared_with=[n for n in (weight_rec.name, *weight_rec.aliases) if n != weight],
        )


def _first_rows(specs: tuple[TensorSpec, ...]) -> int | None:
    return _rows(specs[0]) if specs else None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _own_parameters(module: nn.Module) -> Iterator[tuple[str, nn.Parameter]]:
    """A module's own parameters, and those it holds in an nn.ParameterList/ParameterDict
    (never called, so the matmuls that read them are the holder's): 'weights.0', ..."""
    yield from module.named_parameters(recurse=False)
    for child_name, child in module.named_children():
        if isinstance(child, (nn.ParameterList, nn.ParameterDict)):
            for name, param in child.named_parameters(recurse=False):
                yield f"{child_name}.{name}", param


def _activation_meeting(operands: list[tuple[tuple[int, ...], ...]],
                        shape: list[int]) -> tuple[int, int] | None:
    """(rows, features) of the tensor that meets a 2-D weight of `shape` in the first forward
    matmul reading an operand of that shape (either orientation): the op's other operand."""
    for wanted in (tuple(shape), tuple(shape[::-1])):  # as stored first: x @ W reads W itself
        for op in operands:
            for i, dims in enumerate(op):
                others = [o for j, o in enumerate(op) if j != i and o]
                if dims == wanted and others:
                    other = others[0]
                    return (math.prod(other) // other[-1] if other[-1] else 0), other[-1]
    return None


def _matmul_operand_dims(capture: Capture) -> dict[str, list[tuple[tuple[int, ...], ...]]]:
    """Module path -> per forward matmul of its own, the full shapes of the operands it
    reads of 2 or more dimensions (trailing pairs, for matching weights, via `dims`)."""
    found: dict[str, list[tuple[tuple[int, ...], ...]]] = {}
    for op in capture.ops:
        if op.phase != FORWARD or category(op.name) != MATMUL:
            continue
        shapes = tuple(tuple(spec.shape) for spec in op.inputs if len(spec.shape) >= 2)
        if shapes:
            found.setdefault(op.module, []).append(shapes)
    return found
