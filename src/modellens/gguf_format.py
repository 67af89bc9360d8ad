"""The GGUF file format (llama.cpp), header only, read and validated in pure Python.

Layout (little-endian): magic `GGUF`, version (u32, 2 or 3), tensor count (u64), metadata
count (u64), the metadata (key string, value type u32, value), the tensor infos (name, number of
dims u32, dims u64 each, ggml type u32, data offset u64), padding to `general.alignment` (32),
then the tensor data. A string is a u64 length and its bytes; an array an item type u32, a
count u64 and the items.

Every length and count is checked against the bytes left before it is trusted, so a truncated
file, a bad magic or an absurd count (2⁶³ tensors, a 1 TB string) is one `CheckpointError` line
at once, instead of a reader looping over 2⁶³ empty reads or a reshape error deep inside. The
data extent of every tensor is checked against the file size when the `gguf` package (which
knows every ggml type's block size) is installed. Both the model source (`profile model.gguf`)
and the checkpoint reader (`info model.gguf`) start here.
"""

from __future__ import annotations

import math
import mmap
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CheckpointError

MAGIC = b"GGUF"
VERSIONS = (2, 3)
MAX_DIMS = 4  # GGML_MAX_DIMS
DEFAULT_ALIGNMENT = 32
MAX_ARRAY_ITEMS = 8  # longer arrays (vocabularies) keep their length and first items only
# value type -> struct code (fixed-size scalars); 8 string, 9 array
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q",
            12: "d"}
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class Array:
    """A metadata array: its length, and its items when there are few (else the first few)."""

    length: int
    items: list[Any]

    def to_json(self) -> Any:
        if self.length <= MAX_ARRAY_ITEMS:
            return self.items
        return {"length": self.length, "first": self.items}


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's entry: ggml dims (innermost first, as stored), ggml type id, byte offset
    from the start of the data section."""

    name: str
    dims: tuple[int, ...]
    ggml_type: int
    offset: int

    @property
    def numel(self) -> int:
        return math.prod(self.dims)


@dataclass
class Header:
    """What a GGUF file says before its data."""

    path: Path
    version: int
    metadata: dict[str, Any]  # scalars, strings, `Array`s
    tensors: list[TensorInfo]
    data_start: int
    file_size: int
    alignment: int = DEFAULT_ALIGNMENT
    notes: list[str] = field(default_factory=list)


class _Cursor:
    """Bounded reads over the mapped file: every read past the end is a CheckpointError."""

    def __init__(self, path: Path, buf: Any, size: int) -> None:
        self.path, self.buf, self.size, self.pos = path, buf, size, 0

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.size:
            raise corrupt(self.path, f"{what} needs {n:,} bytes at offset {self.pos:,}, the file "
                                     f"has {self.size - self.pos:,} left")

    def unpack(self, code: str, what: str) -> Any:
        n = struct.calcsize("<" + code)
        self.need(n, what)
        (value,) = struct.unpack_from("<" + code, self.buf, self.pos)
        self.pos += n
        return value

    def string(self, what: str) -> str:
        n = self.unpack("Q", what)
        self.need(n, what)
        raw = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise corrupt(self.path, f"{what} is not UTF-8") from None

    def count(self, what: str, min_item_bytes: int) -> int:
        """A u64 count whose items, at `min_item_bytes` each, must fit in what is left."""
        n = self.unpack("Q", what)
        if n * min_item_bytes > self.size - self.pos:
            raise corrupt(self.path, f"{what} is {n:,}: more than the {self.size - self.pos:,} "
                                     "bytes left can hold")
        return n


def read_header(path: str | Path) -> Header:
    """The validated header of a .gguf file; CheckpointError (one line) if it is not one."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size < 24:
                raise corrupt(path, f"{size} bytes, too short for a GGUF header")
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _parse(_Cursor(path, buf, size))
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _parse(cur: _Cursor) -> Header:
    path = cur.path
    magic = bytes(cur.buf[:4])
    if magic != MAGIC:
        raise CheckpointError(f"{path}: not a GGUF file (magic {magic!r}, expected {MAGIC!r})")
    cur.pos = 4
    version = cur.unpack("I", "version")
    if version not in VERSIONS:
        swapped = int.from_bytes(version.to_bytes(4, "little"), "big")
        hint = " (a big-endian file?)" if swapped in VERSIONS else ""
        raise CheckpointError(f"{path}: GGUF version {version}{hint} is not supported "
                              f"(supported: {', '.join(map(str, VERSIONS))})")
    n_tensors = cur.unpack("Q", "tensor count")
    n_kv = cur.unpack("Q", "metadata count")
    if n_kv * 13 > cur.size - cur.pos:  # key length 8 + >= 1 byte of key + type 4
        raise corrupt(path, f"metadata count {n_kv:,} cannot fit in the file")
    if n_tensors * 24 > cur.size - cur.pos:  # name length 8 + dims count 4 + type 4 + offset 8
        raise corrupt(path, f"tensor count {n_tensors:,} cannot fit in the file")
    metadata: dict[str, Any] = {}
    for i in range(n_kv):
        key = cur.string(f"metadata key {i}")
        if key in metadata:
            raise corrupt(path, f"metadata key {key!r} appears twice")
        metadata[key] = _value(cur, cur.unpack("I", f"type of {key!r}"), key)
    tensors, names = [], set()
    for i in range(n_tensors):
        name = cur.string(f"tensor {i} name")
        if name in names:
            raise corrupt(path, f"tensor {name!r} appears twice")
        names.add(name)
        n_dims = cur.unpack("I", f"{name!r} dims count")
        if n_dims > MAX_DIMS:
            raise corrupt(path, f"{name!r} has {n_dims:,} dims (at most {MAX_DIMS})")
        dims = tuple(cur.unpack("Q", f"{name!r} dims") for _ in range(n_dims))
        tensors.append(TensorInfo(name, dims, cur.unpack("I", f"{name!r} type"),
                                  cur.unpack("Q", f"{name!r} offset")))
    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not (isinstance(alignment, int) and alignment > 0 and alignment & (alignment - 1) == 0):
        raise corrupt(path, f"general.alignment {alignment!r} is not a power of two")
    data_start = -(-cur.pos // alignment) * alignment
    header = Header(path, version, metadata, tensors, data_start, cur.size, alignment)
    _check_extents(header)
    return header


def _value(cur: _Cursor, kind: int, key: str) -> Any:
    if kind in _SCALARS:
        return cur.unpack(_SCALARS[kind], f"value of {key!r}")
    if kind == _STRING:
        return cur.string(f"value of {key!r}")
    if kind == _ARRAY:
        item = cur.unpack("I", f"item type of {key!r}")
        if item not in _SCALARS and item != _STRING:  # nested arrays: none in practice
            raise corrupt(cur.path, f"{key!r} is an array of type {item}, which GGUF does not "
                                    "define")
        width = struct.calcsize("<" + _SCALARS[item]) if item in _SCALARS else 8
        n = cur.count(f"length of {key!r}", width)
        head = [_value(cur, item, key) for _ in range(min(n, MAX_ARRAY_ITEMS))]
        if item in _SCALARS:
            cur.pos += (n - len(head)) * width  # fits: checked by count()
        else:
            for _ in range(n - len(head)):
                length = cur.count(f"a string of {key!r}", 1)  # advances past the length
                cur.pos += length
        return Array(n, head)
    raise corrupt(cur.path, f"{key!r} has value type {kind}, which GGUF does not define")


def _check_extents(header: Header) -> None:
    """Every tensor's bytes inside the file (needs the gguf package's ggml type sizes)."""
    try:
        from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType
    except ImportError:
        header.notes.append("tensor extents not checked (the gguf package is not installed)")
        return
    sizes = {int(t): GGML_QUANT_SIZES[t] for t in GGMLQuantizationType if t in GGML_QUANT_SIZES}
    for t in header.tensors:
        if t.ggml_type not in sizes:
            raise CheckpointError(f"{header.path}: tensor {t.name!r} has ggml type {t.ggml_type}, "
                                  "which this gguf package does not know")
        block, type_size = sizes[t.ggml_type]
        if t.dims and t.dims[0] % block:
            raise corrupt(header.path, f"{t.name!r}: {t.dims[0]} values per row is not a "
                                       f"multiple of its type's block of {block}")
        end = header.data_start + t.offset + t.numel // block * type_size
        if end > header.file_size:
            raise corrupt(header.path, f"{t.name!r} ends at byte {end:,}, past the end of the "
                                       f"file ({header.file_size:,} bytes)")


def corrupt(path: Path, detail: str) -> CheckpointError:
    return CheckpointError(f"{path}: not a readable GGUF file (truncated or corrupt: {detail})")
