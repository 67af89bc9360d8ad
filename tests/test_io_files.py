"""The file policy of `modellens.io` (issue 18, items 1, 2, 6, 7): regular files replaced
atomically with their permission bits kept; devices, FIFOs and /dev/std*-style paths written
straight through; symlinks kept, their targets replaced; `-` is stdout; outputs that would
overwrite an input, name a directory or lie under a file refused before any work.

Device nodes, FIFOs and links are made inside tmp_path; the real /dev is never written."""

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from modellens import io
from modellens.errors import UsageError

ROOT = os.geteuid() == 0


# ---------------------------------------------------------------- written through, never replaced


@pytest.mark.skipif(not ROOT, reason="os.mknod of a character device needs root")
def test_character_device_is_written_through_not_replaced(tmp_path):
    null = tmp_path / "null"  # the same device as /dev/null (1, 3), made here
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    before = os.stat(null)
    io.write_text(null, "discarded\n")
    after = os.stat(null)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert after.st_ino == before.st_ino
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]  # no temp file left


def _read_fifo(path: Path, into: list) -> threading.Thread:
    def reader():
        with open(path, "rb") as handle:
            into.append(handle.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    return thread


def test_fifo_is_written_through_and_its_reader_gets_the_data(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    thread = _read_fifo(fifo, got)
    io.write_text(fifo, '{"ok": true}\n')
    thread.join(timeout=10)
    assert got == [b'{"ok": true}\n']
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_symlink_to_fifo_is_written_through(tmp_path):
    # what /dev/stdout is: a link to the stream the process writes to
    fifo, link = tmp_path / "pipe", tmp_path / "stdout"
    os.mkfifo(fifo)
    link.symlink_to(fifo)
    got: list[bytes] = []
    thread = _read_fifo(fifo, got)
    io.write_text(link, "through the link\n")
    thread.join(timeout=10)
    assert got == [b"through the link\n"]
    assert link.is_symlink() and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_proc_fd_path_is_written_through():
    read_end, write_end = os.pipe()
    try:
        io.write_bytes(f"/proc/self/fd/{write_end}", b"via proc")
        assert os.read(read_end, 100) == b"via proc"
    finally:
        os.close(read_end)
        os.close(write_end)


@pytest.mark.parametrize("path", ["/dev/stdout", "/dev/stderr", "/dev/null", "/dev/fd/1",
                                  "/proc/self/fd/1"])
def test_dev_std_paths_count_as_streams(path):
    # only classified here: writing them is what the FIFO and /proc tests do, away from /dev
    assert io.is_stream(Path(path))


def test_dash_is_stdout():
    code = ("from modellens import io; p = io.write_text('-', 'to stdout\\n'); "
            "import sys; print(p, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).parent.parent)
    assert proc.stdout == "to stdout\n" and proc.stderr.strip() == "-"
    assert not Path("-").exists()


# ---------------------------------------------------------------- regular files: atomic


def test_symlink_is_kept_and_its_target_replaced(tmp_path):
    target, link = tmp_path / "real.json", tmp_path / "link.json"
    target.write_text("old")
    link.symlink_to(target)
    io.write_text(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new"


def test_dangling_symlink_gets_its_target_created(tmp_path):
    target, link = tmp_path / "made.json", tmp_path / "link.json"
    link.symlink_to(target)
    io.write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"


def test_existing_file_keeps_its_permission_bits(tmp_path):
    out = tmp_path / "secret.json"
    out.write_text("old")
    out.chmod(0o600)
    io.write_text(out, "new")
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600 and out.read_text() == "new"
    out.chmod(0o640)
    io.write_json(out, {"a": 1})
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o640


def test_new_file_gets_the_usual_mode(tmp_path):
    old = os.umask(0o022)
    try:
        io.write_text(tmp_path / "new.json", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.json").st_mode) == 0o644


def test_replacement_is_atomic_a_reader_keeps_the_old_file(tmp_path):
    out = tmp_path / "r.json"
    out.write_text("old contents")
    with open(out) as reader:  # an open reader sees all of the old file, never a mix
        io.write_text(out, "new")
        assert reader.read() == "old contents"
    assert out.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temp file left


def test_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    out = tmp_path / "r.json"
    out.write_text("old")

    def fail(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(io.os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        io.write_text(out, "new")
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


# ---------------------------------------------------------------- checked before any work


def test_output_equal_to_an_input_is_refused(tmp_path):
    model = tmp_path / "model.safetensors"
    model.write_bytes(b"weights")
    with pytest.raises(UsageError, match="refusing to overwrite an input"):
        io.check_output(model, [str(model)])
    link = tmp_path / "alias"
    link.symlink_to(model)  # the same file after resolving
    with pytest.raises(UsageError, match="refusing to overwrite an input"):
        io.check_output(link, [str(model)])
    with pytest.raises(UsageError, match="refusing to overwrite an input"):  # file.py::fn
        io.check_output(model, [f"{model}::load"])
    io.check_output(tmp_path / "other.json", [str(model)])  # a different file passes


def test_output_over_a_file_an_input_directory_is_read_from_is_refused(tmp_path):
    for name in ("config.json", "model.safetensors", "model.safetensors.index.json"):
        (tmp_path / name).write_text("{}")
        with pytest.raises(UsageError, match="is a file of the input"):
            io.check_output(tmp_path / name, [str(tmp_path)])
    (tmp_path / "previous.json").write_text("{}")  # an earlier result may be replaced
    io.check_output(tmp_path / "previous.json", [str(tmp_path)])


@pytest.mark.parametrize("make, message", [
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: p.parent.joinpath("file").write_text("x"), "is a file, not a directory"),
])
def test_unwritable_outputs_are_refused(tmp_path, make, message):
    out = tmp_path / "out"
    make(out)
    target = out if message == "is a directory" else tmp_path / "file" / "sub" / "out.json"
    with pytest.raises(UsageError, match=message):
        io.check_output(target)


def test_output_in_a_read_only_directory_is_refused(tmp_path, monkeypatch):
    # root ignores permission bits, so the answer of os.access is what is tested
    monkeypatch.setattr(io.os, "access", lambda path, mode: Path(path) != tmp_path)
    with pytest.raises(UsageError, match="permission denied"):
        io.check_output(tmp_path / "new" / "out.json")


def test_streams_and_stdout_always_pass_the_check(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    io.check_output(fifo, [str(fifo)])  # never opened (that would block), never refused
    io.check_output("-")


def test_output_dir_checks(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is not a directory"):
        io.check_output_dir(tmp_path / "file", option="--plot")
    with pytest.raises(UsageError, match="is a file, not a directory"):
        io.check_output_dir(tmp_path / "file" / "plots", option="--plot")
    (tmp_path / "plots" / "roofline.png").mkdir(parents=True)
    with pytest.raises(UsageError, match="is a directory"):
        io.check_output_dir(tmp_path / "plots", option="--plot", names=["roofline.png"])
    io.check_output_dir(tmp_path / "new" / "plots", names=["a.png"])
