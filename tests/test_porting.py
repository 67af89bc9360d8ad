"""The porting kit: unique op configurations of several models run on a backend, the roll-up
op -> models blocked, generated standalone tests, backend plug-ins."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modellens.cli import main
from modellens.errors import ConfigError
from modellens.measure.backends import Backend, Onnx, get_backend, register_backend
from modellens.report.porting import rollup_markdown, rollup_rows
from modellens.tasks.porting import port
from tests.data import porting_models as pm

DATA = Path(__file__).parent / "data"
CNN, OTHER, MLP = (pm.small_cnn, pm.image), (pm.other_cnn, pm.image), (pm.mlp, pm.vector)


@register_backend
class NoConvolution(Backend):
    """A backend plug-in that has every op but convolution."""

    name = "test-no-convolution"
    prepared = 0

    def prepare(self, case):
        type(self).prepared += 1
        case.enter("compile")
        if case.name.startswith("aten.convolution"):
            raise NotImplementedError("convolution is not lowered yet\nsecond line")
        return case.fn


class WrongAdd(Backend):
    name = "test-wrong-add"

    def prepare(self, case):
        case.enter("export")
        if case.name == "aten.addmm.default":
            raise RuntimeError("cannot export addmm")
        case.enter("compile")
        if case.name.startswith("aten.gelu"):
            return lambda *t: case.fn(*t) + 1e-2
        return case.fn


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELLENS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def no_conv(tmp_path_factory):
    os.environ.setdefault("MODELLENS_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    return port(["gpt2", CNN, MLP, OTHER], "test-no-convolution", seq_len=8, cache=False)


def test_plugin_refusing_convolution_blocks_exactly_the_convolutional_models(no_conv):
    names = [m.name for m in no_conv.models]
    assert names == ["gpt2", "small_cnn", "mlp", "other_cnn"]
    assert len(no_conv.rollup) == 1
    conv = no_conv.rollup[0]
    assert conv.op == "aten.convolution.default"
    assert conv.models_blocked == conv.unblocks == ["small_cnn", "other_cnn"]
    assert conv.torch_ops == ["torch.conv2d"]
    assert conv.stages == {"compile": 2} and len(conv.failing_configs) == 2  # shared + 2nd
    assert conv.error == "NotImplementedError: convolution is not lowered yet"
    runs = {m.name: m.runs for m in no_conv.models}
    assert runs == {"gpt2": True, "small_cnn": False, "mlp": True, "other_cnn": False}
    # gpt2's Conv1D is a matmul (addmm), not a convolution
    assert not any(c.op.startswith("aten.convolution") for c in no_conv.configs
                   if "gpt2" in c.models)
    rows = rollup_rows(no_conv)
    assert rows[0]["models_blocked"] == 2 and rows[0]["blocked"] == "small_cnn other_cnn"
    assert "| aten.convolution.default | torch.conv2d | 2 (small_cnn, other_cnn)" in (
        rollup_markdown(no_conv))


def test_configs_deduplicated_across_models_with_module_paths(no_conv):
    shared = [c for c in no_conv.configs if len(c.models) > 1]
    conv = next(c for c in shared if c.op == "aten.convolution.default")
    assert conv.models == {"small_cnn": ["0"], "other_cnn": ["0"]}
    assert [i["shape"] for i in conv.inputs] == [[1, 3, 16, 16], [8, 3, 3, 3], [8]]
    assert conv.attributes["stride"] == [1, 1] and conv.attributes["padding"] == [1, 1]
    assert no_conv.configs[0] is shared[0]  # most-shared first
    keys = [c.key for c in no_conv.configs]
    assert len(keys) == len(set(keys))
    data = json.loads(json.dumps(no_conv.to_dict(), allow_nan=False))
    assert data["schema_version"] >= 1 and data["backend"] == "test-no-convolution"
    assert data["counts"] == {"pass": len(no_conv.configs) - 2, "fail": 2}
    linear = next(c for c in data["configs"] if c["models"].get("mlp") == ["0"])
    assert linear["torch_ops"] == ["torch.nn.functional.linear"]


def test_stages_and_numerics_are_reported():
    result = port([MLP], WrongAdd, cache=False)
    by_op = {c.op: c for c in result.configs}
    addmm = by_op["aten.addmm.default"]
    assert (addmm.result.stage, addmm.result.passed) == ("export", False)
    assert addmm.result.error == "RuntimeError: cannot export addmm"
    gelu = by_op["aten.gelu.default"].result
    assert (gelu.stage, gelu.passed) == ("numerics", False)
    assert gelu.max_abs == pytest.approx(1e-2, rel=1e-3) and "off by up to" in gelu.error
    softmax = by_op["aten._softmax.default"].result
    assert (softmax.stage, softmax.passed, softmax.reference) == (
        "numerics", True, "eager cpu float64")
    assert softmax.max_abs < 1e-6
    assert [b.op for b in result.rollup] == ["aten.addmm.default", "aten.gelu.default"]


def test_results_are_cached_per_backend_and_config(cache_dir):
    NoConvolution.prepared = 0
    first = port([CNN], "test-no-convolution")
    ran = NoConvolution.prepared
    assert ran == len(first.configs) and not any(c.result.cached for c in first.configs)
    second = port([CNN], "test-no-convolution")
    assert NoConvolution.prepared == ran  # nothing ran again
    assert all(c.result.cached for c in second.configs)
    assert [c.status for c in second.configs] == [c.status for c in first.configs]
    assert list((cache_dir / "porting").glob("*/test-no-convolution.json"))


def test_time_budget_leaves_configs_not_run():
    result = port([MLP], "eager", budget_s=0, cache=False)
    assert {c.status for c in result.configs} == {"not run"}
    assert "time budget" in result.notes[0]


def _plain_pytest(directory: Path) -> subprocess.CompletedProcess:
    """pytest in a fresh interpreter that cannot import modellens from this checkout."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "no:xdist", str(directory)], cwd=directory, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("backend", ["eager", "export"])
def test_emitted_tests_run_green_under_plain_pytest(tmp_path, backend):
    out = tmp_path / "tests"
    result = port([CNN, MLP], backend, emit_tests=out, cache=False)
    assert all(c.status == "pass" for c in result.configs)
    files = sorted(out.glob("test_*.py"))
    assert len(files) == len(result.configs) == len(result.files)
    for file in files:
        text = file.read_text()
        assert "import modellens" not in text and "from modellens" not in text
    run = _plain_pytest(out)
    assert run.returncode == 0, run.stdout[-3000:]
    assert f"{len(files)} passed" in run.stdout


def test_emitted_test_fails_where_the_backend_is_wrong(tmp_path):
    out = tmp_path / "tests"
    result = port([MLP], WrongAdd, emit_tests=out, failing_only=True, cache=False)
    names = sorted(p.name for p in out.glob("*.py"))
    assert len(names) == 3 and names[0].startswith("test_addmm_default_cfg_")  # two Linears
    assert {c.op for c in result.configs if c.test_file} == {"aten.addmm.default",
                                                              "aten.gelu.default"}


def test_cli_plugin_file_models_file_rollup_and_json(tmp_path, capsys):
    plugin = tmp_path / "my_backend.py"
    plugin.write_text(
        "from modellens.measure.backends import Backend\n\n"
        "class Chip(Backend):\n    name = 'chip'\n\n"
        "    def prepare(self, case):\n        case.enter('compile')\n"
        "        if 'convolution' in case.name:\n            raise ValueError('no conv')\n"
        "        return case.fn\n")
    models = tmp_path / "models.txt"
    models.write_text(f"# conv models\n{DATA / 'porting_models.py'}::small_cnn\n"
                      f"{DATA / 'porting_models.py'}::other_cnn\n")
    rc = main(["unique", "--models-file", str(models), "--inputs",
               f"{DATA / 'porting_models.py'}::image", "--run-on", f"{plugin}::Chip",
               "--rollup", str(tmp_path / "rollup.md"), "--format", "json"])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    assert data["backend"] == "chip" and len(data["models"]) == 2
    assert data["rollup"][0]["op"] == "aten.convolution.default"
    assert len(data["rollup"][0]["models_blocked"]) == 2
    assert "## Op -> models blocked" in (tmp_path / "rollup.md").read_text()
    assert main(["unique", "--models-file", str(models), "--inputs",
                 f"{DATA / 'porting_models.py'}::image", "--run-on", "eager",
                 "--rollup", str(tmp_path / "rollup.csv")]) == 0
    out = capsys.readouterr().out
    assert "every configuration that ran passed" in out
    assert (tmp_path / "rollup.csv").read_text() == ""  # nothing blocks: no rows


def test_unknown_backend_and_missing_extra_are_clear_errors(monkeypatch, capsys):
    with pytest.raises(ConfigError, match="unknown backend 'nope'; known: eager, export"):
        port([MLP], "nope")
    monkeypatch.setattr(Onnx, "requires", ("no_such_module_here",))
    with pytest.raises(ConfigError, match=r"modellens\[onnx\]"):
        port([MLP], "onnx")
    assert main(["unique", "gpt2", "tv:resnet18"]) == 2  # a usage error, before any work
    assert "several models need --run-on" in capsys.readouterr().err
    assert isinstance(get_backend("inductor"), Backend)


def test_onnx_backend():
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    result = port([MLP], "onnx", cache=False)
    assert all(c.result is not None for c in result.configs)
    assert any(c.status == "pass" for c in result.configs)


@pytest.mark.slow
def test_four_models_on_inductor_cpu():
    models = ["gpt2", "tv:resnet50", "tv:vit_b_16", "yolo:yolov8n"]
    result = port(models, "inductor", device="cpu")
    assert [m.name for m in result.models] == models
    assert all(c.result is not None for c in result.configs)
    for config in result.failing():
        assert config.result.stage in ("export", "compile", "run", "numerics")
        assert config.result.error
    for blocker in result.rollup:
        using = {m for c in result.configs if c.op == blocker.op and c.blocking
                 for m in c.models}
        assert set(blocker.models_blocked) == using
    print(rollup_markdown(result))
