"""Writing results: THE JSON policy, safe output files, and the one progress-callback type.

JSON: every result is turned into plain data by `to_jsonable` (a dataclass becomes a dict of its
fields, or whatever its own `to_dict()` returns; tuples and sets become lists; NaN and ±Inf
become null, since JSON has neither), and every document carries `SCHEMA_VERSION`.

Files: a regular file (or a new path) is written atomically (a temporary file beside it, then a
rename), keeping an existing file's permission bits; a symlink's target is what gets replaced,
so the link stays a link; devices, FIFOs, sockets and `/dev/std*`-style paths are written
straight through, never replaced; `-` is standard output.

Progress: every long task reports through one callback, `progress(done, total, label)` (steps
done, steps in all, what is being worked on); the commands draw it (`report.progress`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import json
import math
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

from .errors import UsageError

SCHEMA_VERSION = 1
Progress = Callable[[int, int, str], None]  # (done, total, label)
STDOUT = "-"
# Paths that name open streams or kernel objects: always written through, never renamed over.
_STREAM_PREFIXES = ("/dev/", "/proc/")
CACHE_ENV = "MODELLENS_CACHE_DIR"
# (path as given, bytes) of every write_bytes while `recording_writes` is active
_recorded_writes: list[tuple[str, bytes]] | None = None


def cache_dir() -> Path:
    """Where modellens keeps what it can reuse (measurements, fitted chips, results):
    $MODELLENS_CACHE_DIR, else the user cache dir (platformdirs)."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("modellens"))


@contextlib.contextmanager
def recording_writes():
    """Yields the list of (path as given, bytes) that `write_bytes` (and so `write_text`,
    `write_json`) writes while the block runs: the files a command produced, for the result
    cache to write again."""
    global _recorded_writes
    previous, _recorded_writes = _recorded_writes, []
    try:
        yield _recorded_writes
    finally:
        _recorded_writes = previous


def to_jsonable(value: Any) -> Any:
    """`value` as JSON-ready data under the one policy (see the module docstring)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and not isinstance(value, type):
        return to_jsonable(to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


def fields_dict(record: Any, **overrides: Any) -> dict[str, Any]:
    """A dataclass's fields as JSON-ready data, with some fields replaced or added (for the
    `to_dict` of a result whose document differs from its fields in a few keys)."""
    data = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    data.update(overrides)
    return to_jsonable(data)


class JsonRecord:
    """Mixin for result dataclasses: `to_dict()` is the fields under the JSON policy."""

    def to_dict(self) -> dict[str, Any]:
        return fields_dict(self)


def document(record: Any) -> dict[str, Any]:
    """A top-level JSON document: the record's data with `schema_version` first."""
    data = to_jsonable(record)
    data.pop("schema_version", None)
    return {"schema_version": SCHEMA_VERSION, **data}


def to_json(data: Any) -> str:
    return json.dumps(to_jsonable(data), indent=2, allow_nan=False) + "\n"


def write_json(path: str | os.PathLike, data: Any) -> Path:
    return write_text(path, to_json(data))


def write_text(path: str | os.PathLike, text: str) -> Path:
    """`text` as UTF-8; a lone surrogate (an undecodable byte of a non-UTF-8 file name) is
    written as a `\udcff` escape rather than failing after the work."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        data = text.encode("utf-8", "backslashreplace")
    return write_bytes(path, data)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` under the file policy of the module docstring."""
    if _recorded_writes is not None:
        _recorded_writes.append((os.fspath(path), data))
    if str(path) == STDOUT:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return Path(STDOUT)
    target = Path(path)
    if is_stream(target):
        with open(target, "wb") as handle:
            handle.write(data)
        return target
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    _write_atomic(target, data)
    return Path(path)


def is_stream(path: Path) -> bool:
    """True for what must be written through: a device, FIFO or socket, or a /dev or /proc path."""
    if str(path).startswith(_STREAM_PREFIXES) or str(path.resolve()).startswith(_STREAM_PREFIXES):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:  # missing, or a parent that is not a directory
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def check_output(path: str | os.PathLike | None, inputs: Iterable[Any] = (),
                 option: str = "-o") -> None:
    """Refuse, before any work, an output file that cannot be written: one that is an input
    (the same file, or the weights, index, config or code of an input directory), a directory,
    or one under a parent that is a file or not writable. Streams (`-`, devices, FIFOs) always
    pass."""
    if path is None or str(path) == STDOUT:
        return
    target = Path(path)
    if is_stream(target):
        return
    _check_not_input(target, inputs, option)
    if target.is_symlink():  # the link's target is what gets written
        target = Path(os.path.realpath(target))
    if target.is_dir():
        raise UsageError(f"{option} {path}: is a directory; name a file")
    _check_parent(target, option, path)


def check_output_dir(path: str | os.PathLike | None, inputs: Iterable[Any] = (),
                     option: str = "--dir", names: Iterable[str] = ()) -> None:
    """Refuse, before any work, an output directory that cannot hold the files `names`: a path
    that is a file, under a file, not writable, or one of whose files is an input."""
    if path is None:
        return
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{option} {path}: is not a directory")
    _check_parent(target / "_", option, path)
    for name in names:
        check_output(target / name, inputs, option)


def _check_not_input(target: Path, inputs: Iterable[Any], option: str) -> None:
    for value in inputs:
        for candidate in _input_paths(value):
            try:
                same = os.path.samefile(target, candidate)
            except OSError:
                same = False
            inside = (not same and candidate.is_dir() and target.exists()
                      and _read_from_directory(target.name)
                      and os.path.realpath(target.parent) == os.path.realpath(candidate))
            if same or inside:
                what = "is" if same else "is a file of"
                raise UsageError(f"{option} {target} {what} the input {candidate}: refusing to "
                                 "overwrite an input; write somewhere else")


# Files a model directory is read from (weights, shard indexes, its config and code): an output
# may replace other files there (a previous result), never these.
_DIRECTORY_INPUTS = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".index.json",
                     ".py")


def _read_from_directory(name: str) -> bool:
    return name == "config.json" or name.endswith(_DIRECTORY_INPUTS)


def _input_paths(value: Any) -> list[Path]:
    """The existing files and directories an input argument names ('file.py::fn' -> file.py)."""
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in _input_paths(v)]
    if not isinstance(value, (str, os.PathLike)):
        return []
    text = os.fspath(value)
    if "::" in text:
        text = text.split("::", 1)[0]
    text = text.removeprefix("hf:")
    try:
        return [Path(text)] if text and os.path.exists(text) else []
    except (OSError, ValueError):
        return []


def _check_parent(target: Path, option: str, shown: Any) -> None:
    """The nearest existing ancestor of `target` must be a writable directory."""
    parent = Path(os.path.abspath(target)).parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {shown}: {parent} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {shown}: cannot write in {parent} (permission denied)")


def _write_atomic(target: Path, data: bytes) -> None:
    """Readers see the old file or the whole new one, never a part. A new file gets the usual
    permissions (0666 less the umask), an existing one keeps its mode (and owner where allowed)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        existing = os.stat(target)
    except FileNotFoundError:
        existing = None
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if existing is None:
            os.chmod(tmp, 0o666 & ~_umask())
        else:
            os.chmod(tmp, stat.S_IMODE(existing.st_mode))
            try:
                os.chown(tmp, existing.st_uid, existing.st_gid)
            except OSError:  # not ours to give away; the mode is still kept
                pass
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
