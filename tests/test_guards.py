"""Safe by default (issue 18): bounded real-tensor fallback, the user's model left as it was,
user hooks not run on fake tensors, thread-safe captures, checked custom formulas, inputs and
options refused before any work, one line per error, discover workers that die with their
parent."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from modellens import profile
from modellens.capture import SampleInputs, capture
from modellens.errors import CaptureError, ConfigError, FormulaError, HardwareError, ModellensError

ROOT = Path(__file__).resolve().parents[1]


class _Branchy(nn.Module):
    """Reads a value (fake tensors cannot), so only the real-tensor fallback captures it; keeps
    a call counter in a buffer, updated in place by every forward."""

    def __init__(self, width: int = 8, grow: int = 1) -> None:
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.norm = nn.BatchNorm1d(width)
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))
        self.grow = grow

    def forward(self, x):
        self.calls += 1
        y = self.norm(self.linear(x))
        if self.grow > 1:
            y = y.repeat(self.grow, 1)
        if y.sum() > 0:
            return y * 2
        return y


# --- item 8 / 20: the real-tensor fallback is bounded by shapes, before it allocates ---------


def test_real_fallback_refused_from_the_input_shapes_before_any_allocation():
    model = _Branchy()
    started = time.perf_counter()
    with pytest.raises(CaptureError, match="real-tensor fallback refused") as info:
        capture(model, lambda: SampleInputs((torch.zeros(10**12, 8),)))  # 29 TiB of input
    assert time.perf_counter() - started < 10
    assert "inputs 29.10 TiB" in str(info.value) and "over the limit of 4.00 GiB" in str(info.value)


def test_real_fallback_bounds_activations_not_only_weights():
    """A small input whose activations are large: the fake attempt's shapes are the estimate."""
    model = _Branchy(grow=4096)
    with pytest.raises(CaptureError, match="real-tensor fallback refused") as info:
        capture(model, lambda: SampleInputs((torch.ones(256, 8),)), max_real_bytes=16 * 2**20)
    assert "the output of aten.repeat.default 32.00 MiB" in str(info.value)
    # under the limit the same model runs for real
    result = capture(model, lambda: SampleInputs((torch.ones(256, 8),)))
    assert result.method == "real"


# --- item 14: the real-tensor fallback leaves the user's model as it was ----------------------


@pytest.mark.parametrize("backward", [False, True])
def test_real_fallback_restores_buffers_and_grads(backward):
    model = _Branchy()
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = capture(model, lambda: SampleInputs((torch.ones(4, 8),)), backward=backward)
    assert result.method == "real"
    assert model.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert model.calls.item() == 0 and model.norm.num_batches_tracked.item() == 0
    assert all(p.grad is None for p in model.parameters())


def test_real_fallback_keeps_existing_grads_unchanged():
    model = _Branchy()
    model(torch.ones(4, 8)).sum().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    capture(model, lambda: SampleInputs((torch.ones(4, 8),)), backward=True)
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads))


# --- item 15: user hooks do not run (and see no fake tensor) during a capture ---------------


def test_user_hooks_are_suspended_during_profile_and_still_registered_after():
    from torch._subclasses.fake_tensor import FakeTensor

    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    seen: list = []
    handles = [
        model[0].register_forward_hook(lambda m, i, o: seen.append(o)),
        model[0].register_forward_pre_hook(lambda m, i: seen.append(i[0])),
        model.register_forward_hook(lambda m, a, k, o: seen.append(o), with_kwargs=True),
        nn.modules.module.register_module_forward_hook(lambda m, i, o: seen.append(o)),
    ]
    try:
        result = profile(model, torch.ones(2, 4))
        assert result.flops.forward == 2 * 2 * 4 * 4
        assert seen == []
        assert not any(isinstance(t, FakeTensor) for t in seen)
        model(torch.ones(2, 4))  # the hooks are still there, and run on real calls
        assert len(seen) == 2 + 1 + 1 + 2  # global hook: Sequential, Linear, ReLU
        assert not any(isinstance(t, FakeTensor) for t in seen)
        seen.clear()
        profile(model, torch.ones(2, 4), run_hooks=True)  # asked for: called
        assert seen
    finally:
        for handle in handles:
            handle.remove()


# --- item 16: concurrent captures leave torch's global constant limit alone -------------------


def test_concurrent_profiles_leave_the_fake_tensor_constant_limit_unchanged():
    from torch._subclasses import fake_tensor

    limit = fake_tensor.CONSTANT_NUMEL_LIMIT
    results: dict[int, int] = {}
    errors: list[BaseException] = []

    def run(width: int) -> None:
        try:
            for _ in range(3):
                model = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 2))
                results[width] = profile(model, torch.ones(3, width)).flops.forward
                assert fake_tensor.CONSTANT_NUMEL_LIMIT == limit
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in (4, 8, 16, 32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert fake_tensor.CONSTANT_NUMEL_LIMIT == limit
    assert results == {w: 2 * 3 * (w * w + w * 2) for w in (4, 8, 16, 32)}


# --- item 17: a custom FLOP formula that misbehaves is one error naming op and formula -------


@pytest.mark.parametrize("value, says", [
    (-5, "returned -5"), (math.nan, "returned nan"), (math.inf, "returned inf"),
    (2.5, "returned 2.5"), ("12", "returned '12'"), (None, "returned None"),
    (RuntimeError("bad shapes"), "raised RuntimeError: bad shapes"),
])
def test_bad_custom_flop_formula_is_one_error_naming_op_and_formula(value, says):
    from modellens.costing import registry

    saved = registry.entry("aten.mm")

    def my_mm_formula(*shapes, **kwargs):
        if isinstance(value, BaseException):
            raise value
        return value

    registry.register_flop_formula("aten.mm", replace=True)(my_mm_formula)
    try:
        with pytest.raises(FormulaError) as info:
            profile(nn.Linear(4, 4, bias=False), torch.ones(2, 4))
        message = str(info.value)
        assert "aten.mm" in message and "my_mm_formula" in message and says in message
        assert "\n" not in message
    finally:
        registry.register_op("aten.mm", flops=saved.flops, flops_on_meta=saved.flops_on_meta,
                             replace=True)
    assert profile(nn.Linear(4, 4, bias=False), torch.ones(2, 4)).flops.forward == 2 * 2 * 4 * 4


def test_numpy_integer_from_a_formula_is_accepted():
    import numpy as np

    from modellens.costing import registry

    saved = registry.entry("aten.mm")
    registry.register_flop_formula("aten.mm", replace=True)(lambda *a, **k: np.int64(7))
    try:
        assert profile(nn.Linear(4, 4, bias=False), torch.ones(2, 4)).flops.forward == 7
    finally:
        registry.register_op("aten.mm", flops=saved.flops, flops_on_meta=saved.flops_on_meta,
                             replace=True)


# --- item 18: options and files refused before any work ---------------------------------------


def _tiny_gpt2(tmp_path: Path, **overrides) -> Path:
    config = {"model_type": "gpt2", "n_layer": 1, "n_embd": 32, "n_head": 2, "vocab_size": 64,
              "n_positions": 64, "bos_token_id": 0, "eos_token_id": 0, **overrides}
    path = tmp_path / "tiny_gpt2.json"
    path.write_text(json.dumps(config))
    return path


def test_seq_len_beyond_positions_is_refused_unless_allowed(tmp_path):
    path = _tiny_gpt2(tmp_path)
    with pytest.raises(ConfigError, match="seq_len 100 is beyond the model's 64 positions"):
        profile(str(path), seq_len=100)
    result = profile(str(path), seq_len=100, allow_longer=True)
    assert "beyond the model's 64 positions (allow_longer)" in result.input_description
    assert result.settings["allow_longer"] is True
    assert profile(str(path), seq_len=64).settings.get("allow_longer") is None


def test_sweep_beyond_positions_is_refused_before_the_first_point(tmp_path, monkeypatch):
    from modellens.tasks import profile as profile_task
    from modellens.tasks.sweep import profile_sweep

    monkeypatch.setattr(profile_task, "capture_source",
                        lambda *a, **k: pytest.fail("a point ran"))
    with pytest.raises(ConfigError, match="beyond the model's 64 positions"):
        profile_sweep(str(_tiny_gpt2(tmp_path)), seq_lens=[16, 100])


def test_llm_prompt_beyond_positions_and_bad_storage_formats(tmp_path, monkeypatch):
    from modellens.tasks import llm

    path = str(_tiny_gpt2(tmp_path))
    with pytest.raises(ConfigError, match="prompt_len \\+ gen_len = 70 is beyond"):
        llm.llm_cost(path, prompt_len=60, gen_len=10, training=False)
    monkeypatch.setattr("modellens.sources.resolve", lambda *a, **k: pytest.fail("resolved"))
    for option in ("kv_dtype", "weight_dtype"):
        for name in ("nn", "Tensor", "float", "int64", "bool"):
            with pytest.raises(ConfigError, match="unknown storage format"):
                llm.llm_cost(path, **{option: name})
    with pytest.raises(ConfigError, match="group size"):
        llm.llm_cost(path, weight_dtype="int4", group_size=-1)
    with pytest.raises(ConfigError, match="not a compute dtype"):
        llm.llm_cost(path, dtype="int8")


def test_dtype_int8_refused_before_any_work(monkeypatch):
    from modellens.tasks import profile as profile_task

    monkeypatch.setattr(profile_task, "resolve", lambda *a, **k: pytest.fail("resolved"))
    with pytest.raises(ConfigError, match="'int8' is not a compute dtype"):
        profile("gpt2", dtype="int8")


@pytest.mark.parametrize("argv", [
    ["profile", "gpt2", "--top", "-1"], ["profile", "gpt2", "--depth", "-2"],
    ["profile", "gpt2", "--batch-size", "0"], ["unique", "gpt2", "--top", "-3"],
    ["info", "x.safetensors", "--per-page", "0"], ["info", "x.safetensors", "--top", "-1"],
    ["llm", "gpt2", "--group-size", "-8"], ["llm", "gpt2", "--prompt-len", "0"],
    ["diff", "a.safetensors", "b.safetensors", "--top", "-1"],
    ["info", "x.safetensors", "--group-size", "0"], ["discover", "--jobs", "-1"],
    ["discover", "--image-size", "0"], ["transformer", "c.json", "--repeats", "0"],
])
def test_negative_counts_are_usage_errors(argv, capsys):
    from modellens.cli import main

    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and ("must be" in err)


@pytest.mark.parametrize("entry, says", [
    ({"peak_flops": {"bf16": ".nan"}}, "peak_flops.bf16 must be a finite number > 0"),
    ({"peak_flops": {"bf16": ".inf"}}, "peak_flops.bf16 must be a finite number > 0"),
    ({"peak_flops": {"bf16": -1}}, "peak_flops.bf16 must be a finite number > 0"),
    ({"memory_bandwidth": ".nan"}, "memory_bandwidth must be a finite number > 0"),
    ({"memory_bandwidth": ".inf"}, "memory_bandwidth must be a finite number > 0"),
    ({"memory_bytes": -5}, "memory_bytes must be >= 0"),
    ({"memory_bytes": ".inf"}, "needs peak_flops"),
    ({"interconnect": {"bus_bandwidth": 1e11, "latency_s": ".nan"}}, "interconnect needs"),
    ({"interconnect": {"bus_bandwidth": ".inf", "latency_s": 1e-5}}, "interconnect needs"),
    ({"time_model": {"overhead_s": {"matmul": -1e-6}}}, "overhead_s.matmul must be"),
    ({"time_model": {"overhead_s": {"default": ".nan"}}}, "overhead_s.default must be"),
    ({"time_model": {"compute": {"matmul": [[".inf", 0.5]]}}}, "sizes must be finite"),
    ({"time_model": {"compute": {"matmul": [[1e9, ".nan"]]}}}, "efficiencies in (0, 16]"),
    ({"time_model": {"waves": {"tile": [128, -128], "units": 100}}}, "waves.tile"),
    ({"time_model": {"waves": {"tile": [128, 128], "units": -1}}}, "waves.units"),
])
def test_hardware_yaml_with_nan_inf_or_negative_values_is_refused(tmp_path, entry, says):
    from modellens.hardware import load_chips

    chip = {"name": "Bad", "peak_flops": {"bf16": 1e15}, "memory_bandwidth": 2e12,
            "memory_bytes": 8e10}
    for key, value in entry.items():
        chip[key] = {**chip[key], **value} if isinstance(value, dict) and key in chip else value
    text = json.dumps({"chips": {"bad": chip}})
    for word in (".nan", ".inf"):  # YAML spellings, not JSON strings
        text = text.replace(f'"{word}"', word).replace(f'"-{word}"', f"-{word}")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(HardwareError) as info:
        load_chips(str(path))
    assert says in str(info.value) and "\n" not in str(info.value)


# --- item 10: config sanity limits, fast --------------------------------------------------


def test_absurd_layer_count_is_refused_fast(tmp_path):
    from modellens.sources import resolve

    started = time.perf_counter()
    with pytest.raises(ConfigError, match="n_layer = 1000000 is beyond modellens' limit"):
        resolve(str(_tiny_gpt2(tmp_path, n_layer=1_000_000)))
    assert time.perf_counter() - started < 20  # a transformers import at most, not a build


@pytest.mark.parametrize("field", ["n_embd", "layer_norm_epsilon"])
def test_nan_in_config_json_names_the_field(tmp_path, field):
    from modellens.sources import resolve

    path = _tiny_gpt2(tmp_path)
    path.write_text(path.read_text()[:-1] + f', "{field}": NaN}}')
    with pytest.raises(ConfigError, match=f"{field} is nan"):
        resolve(str(path))
    directory = tmp_path / "model"
    directory.mkdir()
    (directory / "config.json").write_text(path.read_text())
    with pytest.raises(ConfigError, match=f"config.json: {field} is nan"):
        resolve(str(directory))


def test_transformers_validation_error_keeps_its_reason(tmp_path):
    from modellens.sources import resolve

    with pytest.raises(ConfigError) as info:
        resolve(str(_tiny_gpt2(tmp_path, n_embd="wide")))
    message = str(info.value)
    assert "n_embd" in message and "\n" not in message and not message.rstrip().endswith(":")


def test_seed_transformer_config_limits():
    from modellens.sources.transformer import parse_config

    with pytest.raises(ConfigError, match="num_encoder_blocks = 1000000 is beyond"):
        parse_config({"num_encoder_blocks": 1_000_000})
    with pytest.raises(ConfigError, match="dropout"):
        parse_config({"dropout": math.nan})


# --- item 19: one line per error on the command line; --debug shows everything --------------


def _cli(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1",
           "YOLO_OFFLINE": "1"}
    env.pop("TRANSFORMERS_VERBOSITY", None)
    return subprocess.run([sys.executable, "-m", "modellens.cli", *argv], capture_output=True,
                          text=True, env=env, cwd=cwd or ROOT, timeout=120)


def test_huge_batch_is_one_line_and_refused_from_shapes():
    """--batch-size 10**12: torch's fake-tensor logger would print a traceback, and the real
    fallback would try a petabyte allocation."""
    done = _cli("profile", "gpt2", "--batch-size", str(10**12))
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "real-tensor fallback refused" in done.stderr


def test_wrong_input_shape_is_one_line_and_debug_shows_everything(tmp_path):
    (tmp_path / "net.py").write_text(textwrap.dedent("""
        import torch
        def load_model():
            return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU())
        def get_inputs():
            return torch.ones(2, 5)  # 5 features, the linear takes 3
        """))
    done = _cli("profile", "net.py::load_model", "--inputs", "net.py::get_inputs", cwd=tmp_path)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    debug = _cli("--debug", "profile", "net.py::load_model", "--inputs", "net.py::get_inputs",
                 cwd=tmp_path)
    assert "Traceback" in debug.stderr  # torch's fake-tensor log, shown with --debug


def test_refused_pickle_and_llm_print_no_library_warnings(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("unpickled",))

    torch.save({"w": torch.zeros(2), "e": Evil()}, tmp_path / "evil.pt")
    done = _cli("info", str(tmp_path / "evil.pt"))
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "--trust-checkpoint" in done.stderr
    llm = _cli("llm", "gpt2", "-q", "--prompt-len", "32", "--gen-len", "2", "--no-training")
    assert llm.returncode == 0 and llm.stderr == "" and llm.stdout == ""


# --- item 22: discover workers die with their parent; a failed start is one line -------------


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in state and "\nState:\tX" not in state


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_worker_dies_with_its_parent(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent("""
        import multiprocessing, os, time
        from modellens.tasks.discover.pool import die_with_parent

        def busy(parent):
            die_with_parent(parent)
            time.sleep(120)  # a model that takes long: never reads its pipe

        if __name__ == "__main__":
            child = multiprocessing.get_context("spawn").Process(target=busy,
                                                                 args=(os.getpid(),))
            child.start()
            print(child.pid, flush=True)
            time.sleep(120)
        """))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              env=env)
    try:
        child = int(parent.stdout.readline())
        time.sleep(2)  # let it arm (a parent gone before that is caught too)
        assert _alive(child)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 15
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(child)
    finally:
        parent.kill()
        if 'child' in locals() and _alive(child):
            os.kill(child, signal.SIGKILL)


def test_worker_start_failure_is_one_line(tmp_path, monkeypatch, capfd):
    from modellens.tasks.discover.pool import Pool
    from modellens.tasks.discover.results import Candidate, InputSettings

    (tmp_path / "broken_library.py").write_text("raise RuntimeError('library cannot load')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    pool = Pool(1, timeout=60, inputs=InputSettings(), preload=["broken_library"],
                memory_limit=16 * 2**30)
    with pytest.raises(ModellensError) as info:
        pool.run([Candidate("custom", "x", "x.py::x")], report=lambda result: None)
    assert str(info.value) == ("discover worker failed to start: RuntimeError: library cannot "
                               "load")
    assert "Traceback" not in capfd.readouterr().err
