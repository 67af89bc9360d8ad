"""Read checkpoints safely, one tensor (or row chunk) at a time.

- `.safetensors`: listed from the header, parsed once (`safetensors_format`); a scan streams row
  chunks as views of the memory-mapped file, each dropped from the resident set after use, and
  `read` takes only the bytes of the rows it needs, so resident memory stays at one chunk, and a
  file of n tensors is read in time linear in n.
- sharded Hugging Face directories: `model.safetensors.index.json` (or a single
  `model.safetensors`, or `pytorch_model.bin[.index.json]`); every shard the index names must be
  a relative path inside the directory.
- only regular files are read: a device, FIFO or socket (`/dev/zero`, a pipe) is refused at once,
  never read until it ends.
- `.pt` / `.pth` / `.bin` / `.ckpt`: `torch.load(weights_only=True, mmap=True)`; a pickle that
  needs more than tensors is refused unless the caller trusts it (`trust=True`).
- an `nn.Module` or a state-dict mapping already in memory.

A file does not say which tensors are buffers: integer/bool tensors and well-known buffer names
(BatchNorm running stats, position ids, rotary inv_freq) count as buffers, the rest as parameters.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import torch
from torch import nn

from ..capture.records import TensorSpec
from ..dtypes import dtype_name
from ..errors import CheckpointError
from . import safetensors_format

TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
SAFETENSORS_SUFFIX = ".safetensors"
GGUF_SUFFIX = ".gguf"
# Files a Hugging Face directory keeps its weights in, in order of preference.
HF_WEIGHT_FILES = ("model.safetensors.index.json", "model.safetensors",
                   "pytorch_model.bin.index.json", "pytorch_model.bin")
BUFFER_NAMES = ("running_mean", "running_var", "num_batches_tracked", "position_ids", "inv_freq",
                "masked_bias")
# Keys under which training scripts nest the state dict.
STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "ema")
_DIGITS = re.compile(r"(\d+)")
_UNSAFE_GLOBAL = re.compile(r"Unsupported global: GLOBAL (\S+)")


@dataclass(frozen=True)
class TensorEntry:
    """A named tensor's description, known before any value is read: its TensorSpec (shape,
    dtype, numel, nbytes, as in a capture) and what the source says about the tensor."""

    name: str
    spec: TensorSpec
    is_buffer: bool = False
    requires_grad: bool | None = None  # None: the source does not record it (checkpoint files)


def looks_like_buffer(name: str, spec: TensorSpec) -> bool:
    """Buffer or parameter, for a tensor known only by name and dtype."""
    return not spec.is_floating or name.rsplit(".", 1)[-1] in BUFFER_NAMES


def file_entry(name: str, shape: tuple[int, ...], dtype: str) -> TensorEntry:
    """A tensor listed in a file, which does not say whether it is a buffer: guessed."""
    spec = TensorSpec(tuple(shape), dtype)
    return TensorEntry(name, spec, looks_like_buffer(name, spec))


def tensor_spec(tensor: torch.Tensor) -> TensorSpec:
    return TensorSpec(tuple(tensor.shape), dtype_name(tensor.dtype))


def natural_key(name: str) -> list:
    """'h.10.mlp' sorts after 'h.9.mlp'."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in _DIGITS.split(name)]


def row_slices(shape: tuple[int, ...], max_elements: int) -> list[slice | None]:
    """Slices along dim 0 holding at most `max_elements` elements each (at least one row);
    [None] for a scalar or an empty tensor. Equal shapes give equal slices, so two stores can be
    read in step."""
    if not shape or math.prod(shape) == 0:
        return [None]
    rows = max(1, max_elements // max(1, math.prod(shape[1:])))
    return [slice(start, min(start + rows, shape[0])) for start in range(0, shape[0], rows)]


class TensorStore:
    """Named tensors, listed up front and read one at a time."""

    kind = "tensors"

    def __init__(self, label: str, entries: list[TensorEntry]) -> None:
        self.label = label
        self.entries = entries
        self.by_name = {e.name: e for e in entries}
        self.notes: list[str] = []  # how the tensors were obtained, for the report

    def has_values(self, name: str) -> bool:
        """False for a tensor with no data (on the meta device)."""
        return True

    def no_values_note(self, count: int) -> str:
        """Why `count` tensors have no values (for the report)."""
        return (f"{count} of {len(self.entries)} tensors are on the meta device (the model was "
                "built from its config, no weights loaded): statistics unavailable; shapes, "
                "counts and memory are exact")

    def read(self, name: str, rows: slice | None = None) -> torch.Tensor:
        raise NotImplementedError

    def chunks(self, name: str, max_elements: int) -> Iterator[torch.Tensor]:
        """The tensor in row chunks of at most `max_elements` elements (one row if larger)."""
        for rows in row_slices(self.by_name[name].spec.shape, max_elements):
            yield self.read(name, rows)


class MemoryStore(TensorStore):
    """Tensors already in memory (a module's, or a loaded or memory-mapped state dict)."""

    def __init__(self, label: str, tensors: Mapping[str, torch.Tensor],
                 entries: list[TensorEntry], kind: str = "state dict") -> None:
        super().__init__(label, entries)
        self.kind = kind
        self.tensors = tensors

    def has_values(self, name: str) -> bool:
        return not self.tensors[name].is_meta

    def read(self, name: str, rows: slice | None = None) -> torch.Tensor:
        tensor = self.tensors[name].detach()
        return tensor if rows is None else tensor[rows]


class SafetensorsStore(TensorStore):
    """One or more .safetensors files: each header parsed once, each read takes only the bytes
    of the rows asked for (so memory holds one chunk, and n tensors take linear time)."""

    def __init__(self, label: str, files: list[Path], kind: str) -> None:
        self.kind = kind
        self.file_of: dict[str, Path] = {}
        self.tensor_of: dict[str, safetensors_format.Tensor] = {}
        self.mapped: dict[Path, safetensors_format.MappedFile] = {}  # one mapping per file, lazily
        entries: list[TensorEntry] = []
        for file in files:
            require_regular_file(file)
            for tensor in safetensors_format.read_header(file):
                entries.append(file_entry(tensor.name, tensor.shape, tensor.dtype))
                self.file_of[tensor.name] = file
                self.tensor_of[tensor.name] = tensor
        # Files store names sorted as text (layer.10 before layer.2): list them in layer order.
        super().__init__(label, sorted(entries, key=lambda e: natural_key(e.name)))

    def has_values(self, name: str) -> bool:
        return self.tensor_of[name].readable

    def no_values_note(self, count: int) -> str:
        formats = sorted({t.format_dtype for t in self.tensor_of.values() if not t.readable})
        return (f"{count} of {len(self.entries)} tensors are in packed formats torch cannot "
                f"read element-wise ({', '.join(formats)}): no statistics for them; shapes, "
                "counts and memory are exact")

    def read(self, name: str, rows: slice | None = None) -> torch.Tensor:
        return safetensors_format.read_tensor(self.file_of[name], self.tensor_of[name], rows)

    def chunks(self, name: str, max_elements: int) -> Iterator[torch.Tensor]:
        """Row chunks as views of the memory-mapped file, each dropped from the resident set
        once the next is asked for (a chunk stays readable: its pages fault back in)."""
        file = self.file_of[name]
        mapped = self.mapped.get(file) or self.mapped.setdefault(
            file, safetensors_format.MappedFile(file))  # maps on first use; setdefault: one wins
        tensor = self.tensor_of[name]
        for rows in row_slices(tensor.shape, max_elements):
            view, span = mapped.rows(tensor, rows)
            yield view
            mapped.release(span)


def require_regular_file(path: Path) -> None:
    """CheckpointError, at once, unless `path` (after links) is a regular file: a device, FIFO
    or socket could be read forever or block."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        kind = ("a character device" if stat.S_ISCHR(mode) else "a block device"
                if stat.S_ISBLK(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
        raise CheckpointError(f"{path}: is {kind}, not a checkpoint file; refusing to read it")


def is_checkpoint(path: str | Path) -> bool:
    """A weights file, or a directory holding one (as opposed to a model spec)."""
    path = Path(path)
    if path.is_dir():
        return _hf_weights(path) is not None or any(path.glob(f"*{SAFETENSORS_SUFFIX}"))
    return path.suffix in (SAFETENSORS_SUFFIX, GGUF_SUFFIX, *TORCH_SUFFIXES)


def _hf_weights(directory: Path) -> Path | None:
    return next((directory / f for f in HF_WEIGHT_FILES if (directory / f).is_file()), None)


def open_checkpoint(path: str | Path, *, trust: bool = False) -> TensorStore:
    """A TensorStore over a checkpoint file or directory; CheckpointError if it can't be read."""
    label = str(path)
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if not path.is_dir():
        require_regular_file(path)
    if path.is_dir():
        weights = _hf_weights(path)
        if weights is None:
            shards = sorted(path.glob(f"*{SAFETENSORS_SUFFIX}"))
            if not shards:
                raise CheckpointError(f"{path}: no weights found (expected one of "
                                      f"{', '.join(HF_WEIGHT_FILES)} or *.safetensors)")
            return SafetensorsStore(label, shards, _sharded_kind(shards))
        path = weights
    if path.name.endswith(".index.json"):
        return _open_index(label, path, trust)
    if path.suffix == SAFETENSORS_SUFFIX:
        return SafetensorsStore(label, [path], "safetensors")
    if path.suffix in TORCH_SUFFIXES:
        return _torch_store(label, [path], trust)
    if path.suffix == GGUF_SUFFIX:
        from .gguf import GGUFStore

        return GGUFStore(path)
    raise CheckpointError(f"{path}: unknown checkpoint format (expected .safetensors, "
                          f"{', '.join(TORCH_SUFFIXES)}, or a Hugging Face directory)")


def _sharded_kind(files: list[Path]) -> str:
    return "safetensors" if len(files) == 1 else f"safetensors, {len(files)} shards"


def _open_index(label: str, index: Path, trust: bool) -> TensorStore:
    require_regular_file(index)
    try:
        weight_map = json.loads(index.read_text())["weight_map"]
        files = sorted({index.parent / _shard_name(index, f) for f in weight_map.values()})
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError,
            AttributeError) as exc:
        raise CheckpointError(
            f"{index}: not a valid shard index ({type(exc).__name__}: {exc})") from None
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise CheckpointError(f"{index}: shard(s) missing: {', '.join(missing[:3])}")
    if index.name.startswith("model.safetensors"):
        return SafetensorsStore(label, files, _sharded_kind(files))
    return _torch_store(label, files, trust)


def _shard_name(index: Path, name: object) -> str:
    """A shard file named by an index: a relative path inside the index's directory (no absolute
    path, no `..`), else CheckpointError."""
    if not isinstance(name, str) or not name:
        raise CheckpointError(f"{index}: shard name {name!r} is not a file name")
    parts = Path(name).parts
    if Path(name).is_absolute() or ".." in parts or name.startswith("~"):
        raise CheckpointError(f"{index}: shard path {name!r} leaves the model directory; "
                              "refusing to open it")
    return name


def _torch_store(label: str, files: list[Path], trust: bool) -> MemoryStore:
    tensors: dict[str, torch.Tensor] = {}
    for file in files:
        tensors.update(_state_dict(_torch_load(file, trust), file))
    kind = "torch" if len(files) == 1 else f"torch, {len(files)} shards"
    return _state_dict_store(label, tensors, kind)


def _state_dict_store(label: str, tensors: dict[str, torch.Tensor], kind: str) -> MemoryStore:
    entries = [file_entry(name, tensor.shape, dtype_name(tensor.dtype))
               for name, tensor in tensors.items()]
    return MemoryStore(label, tensors, entries, kind)


def _torch_load(file: Path, trust: bool) -> Any:
    """torch.load without running code from the file unless `trust`; memory-mapped when the
    file has torch's zip format (the legacy format cannot be mapped)."""
    import pickle
    import zipfile

    try:
        return torch.load(file, map_location="cpu", weights_only=not trust,
                          mmap=zipfile.is_zipfile(file))
    except pickle.UnpicklingError as exc:
        found = _UNSAFE_GLOBAL.search(str(exc))
        what = f" ({found.group(1)})" if found else ""
        raise CheckpointError(
            f"{file}: this pickle needs more than tensors to load{what}, and unpickling it can "
            "run arbitrary code; pass --trust-checkpoint (trust=True) only if you trust its "
            "source") from None
    except Exception as exc:  # truncated or corrupt; a trusted pickle whose classes won't import
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise CheckpointError(f"{file}: not a readable torch checkpoint "
                              f"({type(exc).__name__}: {first})") from None


def _state_dict(obj: Any, file: Path) -> dict[str, torch.Tensor]:
    """The tensors of a loaded checkpoint: a state dict, one nested under a usual key
    (state_dict, model, ...), or a whole pickled module."""
    if isinstance(obj, nn.Module):
        return dict(obj.state_dict())
    if isinstance(obj, Mapping):
        tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
        if tensors:
            return tensors
        for key in STATE_DICT_KEYS:
            if key in obj and isinstance(obj[key], (Mapping, nn.Module)):
                return _state_dict(obj[key], file)
    raise CheckpointError(f"{file}: holds no tensors (a {type(obj).__name__}; expected a state "
                          f"dict or one under {', '.join(STATE_DICT_KEYS)})")


def module_store(module: nn.Module, label: str | None = None) -> MemoryStore:
    """A module's parameters (tied ones once) then its buffers, with requires_grad."""
    tensors: dict[str, torch.Tensor] = {}
    entries: list[TensorEntry] = []
    for name, param in module.named_parameters():
        tensors[name] = param
        entries.append(TensorEntry(name, tensor_spec(param), False, param.requires_grad))
    for name, buffer in module.named_buffers():
        tensors[name] = buffer
        entries.append(TensorEntry(name, tensor_spec(buffer), is_buffer=True, requires_grad=False))
    return MemoryStore(label or type(module).__name__, tensors, entries, kind="module")


def as_store(obj: Any, *, trust: bool = False) -> TensorStore:
    """A TensorStore for an nn.Module, a state-dict mapping, a checkpoint path or a store."""
    if isinstance(obj, TensorStore):
        return obj
    if isinstance(obj, nn.Module):
        return module_store(obj)
    if isinstance(obj, Mapping):
        return _state_dict_store("state dict", _state_dict(obj, Path("<state dict>")), "state dict")
    if isinstance(obj, (str, Path)):
        return open_checkpoint(obj, trust=trust)
    raise CheckpointError(f"cannot read weights from a {type(obj).__name__}: expected an "
                          "nn.Module, a state dict or a checkpoint path")
