"""GGUF files (llama.cpp) as a TensorStore: metadata, quantized tensors, dequantized values.

The file is memory-mapped by `gguf.GGUFReader` (the `gguf` package, `pip install
'modellens[gguf]'`); a read slices the rows it needs from the mapped blocks and dequantizes only
those (`gguf.quants.dequantize`), so statistics stream in bounded memory like safetensors.

Shapes are given in torch order (outermost first): GGUF stores ggml's ne[0] (the innermost,
contiguous dimension) first, so `[4096, 11008]` in the file is `(11008, 4096)` here. A quantized
tensor's `dtype` is its ggml type name in lower case (`q4_k`, `q8_0`, ...) and its size is the
real size of its blocks in the file, not elements × a dtype size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..capture.records import TensorSpec
from .. import gguf_format
from ..errors import CheckpointError
from .checkpoints import GGUF_SUFFIX, TensorEntry, TensorStore, looks_like_buffer, natural_key

_PLAIN = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64",
          "I8": "int8", "I16": "int16", "I32": "int32", "I64": "int64"}
MAX_ARRAY_ITEMS = 8  # metadata arrays (vocabularies) are summarised, not copied


@dataclass(frozen=True, slots=True)
class GGUFSpec(TensorSpec):
    """A GGUF tensor's spec: `file_bytes` is what its (quantized) blocks occupy in the file."""

    file_bytes: int = 0
    ggml_type: str = ""

    @property
    def nbytes(self) -> int:
        return self.file_bytes

    @property
    def is_floating(self) -> bool:
        return self.ggml_type not in ("I8", "I16", "I32", "I64")


def is_gguf(path: str | Path) -> bool:
    return Path(path).suffix.lower() == GGUF_SUFFIX and Path(path).is_file()


def _reader(path: Path):
    try:
        from gguf import GGUFReader
    except ImportError:
        raise CheckpointError("reading .gguf needs the gguf package "
                              "(pip install 'modellens[gguf]')") from None
    gguf_format.read_header(path)  # every count and extent checked: one clear line if corrupt
    try:
        return GGUFReader(str(path), "r")
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable GGUF file ({type(exc).__name__}: "
                              f"{exc})") from None


def _field_value(field: Any) -> Any:
    from gguf import GGUFValueType

    try:
        if field.types and field.types[0] == GGUFValueType.ARRAY:
            n = len(field.data)
            head = [field.contents(i) for i in range(min(n, MAX_ARRAY_ITEMS))]
            return head if n <= MAX_ARRAY_ITEMS else {"length": n, "first": head}
        value = field.contents()
    except Exception:  # an odd field must not hide the file
        return None
    return value.item() if isinstance(value, np.generic) else value


class GGUFStore(TensorStore):
    """The tensors of one .gguf file, dequantized to float32 on read."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        self.path = path
        self.reader = _reader(path)
        self.tensors = {t.name: t for t in self.reader.tensors}
        self.metadata: dict[str, Any] = {
            name: _field_value(field) for name, field in self.reader.fields.items()
            if not name.startswith("GGUF.")}
        entries = []
        for t in self.reader.tensors:
            kind = t.tensor_type.name
            dtype = _PLAIN.get(kind, kind.lower())
            spec = GGUFSpec(tuple(int(d) for d in reversed(t.shape.tolist())), dtype,
                            file_bytes=int(t.n_bytes), ggml_type=kind)
            entries.append(TensorEntry(t.name, spec, looks_like_buffer(t.name, spec)))
        super().__init__(str(path), sorted(entries, key=lambda e: natural_key(e.name)))
        self.kind = "gguf"
        version = _field_value(self.reader.fields["GGUF.version"]) \
            if "GGUF.version" in self.reader.fields else "?"
        types = sorted({e.spec.ggml_type for e in entries})
        self.notes.append(f"GGUF v{version}, {self.metadata.get('general.architecture', '?')}; "
                          f"tensor types {', '.join(types)}; statistics are of the dequantized "
                          "values; sizes are the real sizes in the file")

    def read(self, name: str, rows: slice | None = None) -> torch.Tensor:
        from gguf.quants import dequantize

        tensor = self.tensors[name]
        data = tensor.data if rows is None or tensor.data.ndim == 0 else tensor.data[rows]
        values = dequantize(np.asarray(data), tensor.tensor_type)
        shape = self.by_name[name].spec.shape
        if rows is not None and shape:
            shape = (len(range(*rows.indices(shape[0]))), *shape[1:])
        return torch.from_numpy(np.array(values, copy=not values.flags.writeable)).reshape(shape)


def ggml_type_summary(store: GGUFStore) -> list[dict[str, Any]]:
    """Per ggml type: tensors, elements, bytes in the file and bits per weight."""
    rows: dict[str, dict[str, Any]] = {}
    for e in store.entries:
        kind = getattr(e.spec, "ggml_type", e.spec.dtype)
        row = rows.setdefault(kind, {"type": kind, "tensors": 0, "elements": 0,
                                            "bytes": 0})
        row["tensors"] += 1
        row["elements"] += e.spec.numel
        row["bytes"] += e.spec.nbytes
    for row in rows.values():
        row["bits_per_weight"] = 8 * row["bytes"] / row["elements"] if row["elements"] else None
    return sorted(rows.values(), key=lambda r: -r["bytes"])
