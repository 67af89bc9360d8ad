"""A sharded checkpoint streams in bounded memory: peak RSS set by the chunk, not the total.

The shards are sparse files (benchmarks/sharded_memory.py): real headers, one real random tensor
per shard, the rest holes that read as zeros, so hundreds of MiB cost no disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from benchmarks.sharded_memory import write_sharded
from modellens.errors import CheckpointError
from modellens.measure.checkpoints import open_checkpoint
from modellens.tasks.model_info import collect_model_info

SHAPE = (512, 2048)  # 2 MiB of bf16 per tensor


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _peak_growth_mib(directory: Path) -> tuple[float, object]:
    store = open_checkpoint(directory)
    collect_model_info(store, chunk_elements=1 << 17)  # warm up code paths and thread pool
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS counter
    baseline = _rss_kib("VmRSS")
    info = collect_model_info(store, chunk_elements=1 << 17)
    return (_rss_kib("VmHWM") - baseline) / 1024, info


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux /proc")
def test_sharded_checkpoint_peak_rss_is_bounded(tmp_path):
    small, large = tmp_path / "small", tmp_path / "large"
    write_sharded(small, 32 * 2**20, 8, torch.bfloat16, SHAPE)
    real = write_sharded(large, 256 * 2**20, 8, torch.bfloat16, SHAPE)
    grown_small, _ = _peak_growth_mib(small)
    grown_large, info = _peak_growth_mib(large)
    # 256 MiB of bf16 would be 1 GiB as float64: streaming adds a few 1 MiB buffers per worker
    assert grown_small < 16 and grown_large < 16, (grown_small, grown_large)
    assert info.kind == "safetensors, 8 shards"
    by_name = {layer.name: layer for layer in info.layers}
    assert len(by_name) == 128 + 8 and info.total_params == 128 * 512 * 2048 + 8 * 16 * 64
    hole = by_name["model.layers.77.mlp.weight"]
    assert (hole.mean, hole.std, hole.zero_fraction) == (0.0, 0.0, 1.0)
    name = sorted(real)[5]
    probe, got = real[name].double(), by_name[name]
    assert got.mean == pytest.approx(float(probe.mean()), rel=1e-12)
    assert got.std == pytest.approx(float(probe.std()), rel=1e-12)
    assert got.max == float(probe.max())


def test_mapped_chunks_equal_the_tensors_and_survive_release(tmp_path):
    torch.manual_seed(0)
    tensors = {"w": torch.randn(300, 70).half(), "b": torch.randn(70), "e": torch.zeros(0, 4),
               "n": torch.arange(12).reshape(3, 4)}
    save_file(tensors, tmp_path / "m.safetensors")
    store = open_checkpoint(tmp_path / "m.safetensors")
    expected = load_file(tmp_path / "m.safetensors")
    for name, tensor in expected.items():
        chunks = list(store.chunks(name, 1000))  # every chunk released before this returns
        assert torch.equal(torch.cat([c.reshape(-1, *tensor.shape[1:]) for c in chunks]), tensor)
    assert len(list(store.chunks("w", 1000))) == 22  # 14 rows of 70 per chunk


def test_a_file_truncated_during_a_scan_is_an_error_not_a_crash(tmp_path):
    path = tmp_path / "m.safetensors"
    save_file({"a": torch.ones(64, 64), "z": torch.ones(64, 64)}, path)
    store = open_checkpoint(path)
    next(store.chunks("a", 256))  # the file is mapped now
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size - 4096)
    with pytest.raises(CheckpointError, match="ends early"):
        list(store.chunks("z", 256))
