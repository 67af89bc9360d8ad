"""GGUF files (llama.cpp) as a TensorStore: metadata, quantized tensors, dequantized values.

The header is parsed and validated by `modellens.gguf_format`; the file is memory-mapped
(`np.memmap`) and a read slices the rows it needs from the mapped blocks and dequantizes only
those (`gguf.quants.dequantize`, the `gguf` package: `pip install 'modellens[gguf]'`), so
statistics stream in bounded memory like safetensors.

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
_NUMPY = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I8": np.int8,
          "I16": np.int16, "I32": np.int32, "I64": np.int64}  # read as is; the rest: blocks


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


def _gguf():
    try:
        import gguf
    except ImportError:
        raise CheckpointError("reading .gguf needs the gguf package "
                              "(pip install 'modellens[gguf]')") from None
    return gguf


class GGUFStore(TensorStore):
    """The tensors of one .gguf file, dequantized to float32 on read.

    The header comes from modellens' own validating parser (`gguf_format`: every count, length
    and tensor extent checked; a 150 k-token vocabulary in 0.2 s where `gguf.GGUFReader` builds
    numpy arrays per token, 16 s), the data from one read-only `np.memmap` of the file."""

    def __init__(self, path: str | Path) -> None:
        gguf = _gguf()
        path = Path(path)
        self.path = path
        header = gguf_format.read_header(path)  # validated: one clear line if corrupt
        self.metadata: dict[str, Any] = {
            name: value.to_json() if isinstance(value, gguf_format.Array) else value
            for name, value in header.metadata.items()}
        data = np.memmap(path, mode="r")
        self.tensors: dict[str, tuple[Any, np.ndarray]] = {}
        entries = []
        for t in header.tensors:
            qtype = gguf.GGMLQuantizationType(t.ggml_type)
            block, type_size = gguf.GGML_QUANT_SIZES[qtype]
            shape = tuple(reversed(t.dims))  # torch order
            start = header.data_start + t.offset
            raw = data[start:start + t.numel // block * type_size]
            if qtype.name in _NUMPY:
                values = raw.view(_NUMPY[qtype.name]).reshape(shape)
            else:  # blocks: rows of bytes, as the gguf package lays them out for dequantize
                values = raw.reshape(*shape[:-1], shape[-1] // block * type_size)
            self.tensors[t.name] = (qtype, values)
            dtype = _PLAIN.get(qtype.name, qtype.name.lower())
            spec = GGUFSpec(shape, dtype, file_bytes=int(raw.nbytes), ggml_type=qtype.name)
            entries.append(TensorEntry(t.name, spec, looks_like_buffer(t.name, spec)))
        super().__init__(str(path), sorted(entries, key=lambda e: natural_key(e.name)))
        self.kind = "gguf"
        types = sorted({e.spec.ggml_type for e in entries})
        self.notes.append(f"GGUF v{header.version}, "
                          f"{self.metadata.get('general.architecture', '?')}; "
                          f"tensor types {', '.join(types)}; statistics are of the dequantized "
                          "values; sizes are the real sizes in the file")

    def read(self, name: str, rows: slice | None = None) -> torch.Tensor:
        from gguf.quants import dequantize

        qtype, data = self.tensors[name]
        if rows is not None and data.ndim:
            data = data[rows]
        values = dequantize(np.asarray(data), qtype)
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
