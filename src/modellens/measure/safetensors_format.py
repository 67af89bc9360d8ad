"""The safetensors file format, read directly: an 8-byte little-endian header length, a JSON
header (name -> dtype, shape, data offsets), then the tensor bytes.

Parsing the header once per file and reading each tensor's bytes by offset keeps a scan of n
tensors linear (reopening the file with the safetensors library re-parses the whole header on
every read: quadratic in the number of tensors). Every dtype the format defines has its real size
(F4 is half a byte, F6 three quarters, F8_E8M0 one byte), and the header is validated before any
offset is trusted: a truncated or corrupt file gets one clear error.
"""

from __future__ import annotations

import json
import math
import mmap
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import CheckpointError

# safetensors dtype -> (modellens dtype name, bits per element, torch dtype to read it as or None)
DTYPES: dict[str, tuple[str, int, torch.dtype | None]] = {
    "F64": ("float64", 64, torch.float64), "F32": ("float32", 32, torch.float32),
    "F16": ("float16", 16, torch.float16), "BF16": ("bfloat16", 16, torch.bfloat16),
    "F8_E4M3": ("float8_e4m3fn", 8, getattr(torch, "float8_e4m3fn", None)),
    "F8_E5M2": ("float8_e5m2", 8, getattr(torch, "float8_e5m2", None)),
    "F8_E4M3FNUZ": ("float8_e4m3fnuz", 8, getattr(torch, "float8_e4m3fnuz", None)),
    "F8_E5M2FNUZ": ("float8_e5m2fnuz", 8, getattr(torch, "float8_e5m2fnuz", None)),
    "F8_E8M0": ("float8_e8m0fnu", 8, getattr(torch, "float8_e8m0fnu", None)),
    # sub-byte floats (MX formats), packed: torch has no dtype that reads them element-wise
    "F6_E2M3": ("float6_e2m3", 6, None), "F6_E3M2": ("float6_e3m2", 6, None),
    "F4": ("float4_e2m1", 4, None),
    "I64": ("int64", 64, torch.int64), "I32": ("int32", 32, torch.int32),
    "I16": ("int16", 16, torch.int16), "I8": ("int8", 8, torch.int8),
    "U64": ("uint64", 64, getattr(torch, "uint64", None)),
    "U32": ("uint32", 32, getattr(torch, "uint32", None)),
    "U16": ("uint16", 16, getattr(torch, "uint16", None)), "U8": ("uint8", 8, torch.uint8),
    "BOOL": ("bool", 8, torch.bool), "C64": ("complex64", 64, torch.complex64),
}
MAX_HEADER_BYTES = 100 * 2**20  # the limit the safetensors library itself enforces


@dataclass(frozen=True)
class Tensor:
    """One tensor of a file: its dtype (modellens name and safetensors name), shape, and where
    its bytes lie (absolute file offsets)."""

    name: str
    dtype: str
    format_dtype: str
    shape: tuple[int, ...]
    start: int
    end: int

    @property
    def readable(self) -> bool:
        """Whether torch can hold the values (not for packed sub-byte formats)."""
        return DTYPES[self.format_dtype][2] is not None


def read_header(file: Path) -> list[Tensor]:
    """The tensors of a .safetensors file, in header order; CheckpointError when the file is not
    a regular file, is truncated, or its header is corrupt."""
    try:
        with open(file, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise _corrupt(file, f"{size} bytes, too short for a header")
            (length,) = struct.unpack("<Q", prefix)
            if length > min(MAX_HEADER_BYTES, size - 8):
                raise _corrupt(file, f"header of {length:,} bytes in a file of {size:,}")
            raw = handle.read(length)
    except OSError as exc:
        raise CheckpointError(f"{file}: cannot read ({exc.strerror or exc})") from None
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _corrupt(file, f"header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise _corrupt(file, "header is not a JSON object")
    data_start, data_size = 8 + length, size - 8 - length
    tensors = [_tensor(file, name, entry, data_start, data_size)
               for name, entry in header.items() if name != "__metadata__"]
    return tensors


def _tensor(file: Path, name: str, entry: object, data_start: int, data_size: int) -> Tensor:
    if not isinstance(entry, dict):
        raise _corrupt(file, f"entry {name!r} is not an object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
        raise _corrupt(file, f"{name!r} has shape {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2
            and all(type(o) is int for o in offsets) and 0 <= offsets[0] <= offsets[1] <= data_size):
        raise _corrupt(file, f"{name!r} has data offsets {offsets!r} outside the file's "
                             f"{data_size:,} data bytes")
    if dtype not in DTYPES:
        raise CheckpointError(f"{file}: tensor {name!r} has dtype {dtype!r}, which this version "
                              f"does not know (known: {', '.join(DTYPES)})")
    bits = DTYPES[dtype][1]
    expected = math.ceil(math.prod(shape) * bits / 8)
    if offsets[1] - offsets[0] != expected:
        raise _corrupt(file, f"{name!r} ({dtype}, shape {shape}) should take {expected:,} bytes, "
                             f"its offsets give {offsets[1] - offsets[0]:,}")
    return Tensor(name, DTYPES[dtype][0], dtype, tuple(shape), data_start + offsets[0],
                  data_start + offsets[1])


def _extent(file: Path, tensor: Tensor,
            rows: slice | None) -> tuple[torch.dtype, int, list[int], int]:
    """(torch dtype, first byte, shape, element count) of rows `rows` of `tensor`."""
    torch_dtype = DTYPES[tensor.format_dtype][2]
    if torch_dtype is None:
        raise CheckpointError(f"{file}: {tensor.name} is {tensor.format_dtype}, a packed format "
                              "torch cannot read element-wise")
    shape = list(tensor.shape)
    start, count = tensor.start, math.prod(shape)
    if rows is not None and shape:
        first, stop, _ = rows.indices(shape[0])
        row = math.prod(shape[1:]) * torch_dtype.itemsize
        start += first * row
        shape[0] = max(0, stop - first)
        count = math.prod(shape)
    return torch_dtype, start, shape, count


def read_tensor(file: Path, tensor: Tensor, rows: slice | None = None) -> torch.Tensor:
    """The tensor's values (rows `rows` of dim 0 only, when given), read from the file into
    memory of their own: only those bytes are read, so memory holds one chunk."""
    torch_dtype, start, shape, count = _extent(file, tensor, rows)
    nbytes = count * torch_dtype.itemsize
    data = torch.empty(nbytes, dtype=torch.uint8)  # read straight into it: one copy, no zeroing
    view, got = memoryview(data.numpy()), 0
    with open(file, "rb", buffering=0) as handle:
        handle.seek(start)
        while got < nbytes:  # one read returns at most ~2 GiB
            n = handle.readinto(view[got:])
            if not n:
                break
            got += n
    if got != nbytes:
        raise _ends_early(file, tensor)
    return data.view(torch_dtype).reshape(shape)


class MappedFile:
    """A safetensors file memory-mapped once, for streaming: `rows` gives rows of a tensor as
    a zero-copy view of the page cache (no read() copy: ~1 ns per value less than
    `read_tensor`), `release` drops that range from this process's resident set again
    (madvise DONTNEED; the pages stay in the page cache, and a later touch re-reads them), so
    resident memory stays at the chunks in use. The mapping is copy-on-write: the file is never
    written. The size is checked before every view, so a file truncated under a running scan
    is a CheckpointError, not a SIGBUS."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self._lock = threading.Lock()
        self._handle = None
        self._map: mmap.mmap | None = None

    def _mapped(self) -> mmap.mmap:
        with self._lock:
            if self._map is None:
                self._handle = open(self.file, "rb")
                self._map = mmap.mmap(self._handle.fileno(), 0, access=mmap.ACCESS_COPY)
            return self._map

    def rows(self, tensor: Tensor, rows: slice | None) -> tuple[torch.Tensor, tuple[int, int]]:
        """(rows `rows` of `tensor` as a view, its byte span for `release`)."""
        torch_dtype, start, shape, count = _extent(self.file, tensor, rows)
        if not count:
            return torch.empty(shape, dtype=torch_dtype), (start, 0)
        mapped = self._mapped()
        nbytes = count * torch_dtype.itemsize
        if start + nbytes > min(len(mapped), os.fstat(self._handle.fileno()).st_size):
            raise _ends_early(self.file, tensor)
        view = torch.frombuffer(mapped, dtype=torch_dtype, count=count, offset=start)
        return view.reshape(shape), (start, nbytes)

    def release(self, span: tuple[int, int]) -> None:
        start, nbytes = span
        if nbytes and self._map is not None and hasattr(mmap, "MADV_DONTNEED"):
            page = start - start % mmap.PAGESIZE
            self._map.madvise(mmap.MADV_DONTNEED, page, start + nbytes - page)


def _ends_early(file: Path, tensor: Tensor) -> CheckpointError:
    return CheckpointError(f"{file}: {tensor.name}: the file ends early (truncated?)")


def _corrupt(file: Path, detail: str) -> CheckpointError:
    return CheckpointError(f"{file}: not a readable safetensors file (truncated or corrupt: "
                           f"{detail})")
