"""Unique modules and unique ops (seed 002): counts by hand, shapes and aten ops from torch."""

import json
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from modellens.capture.records import iter_tensors
from modellens.cli import main
from modellens.commands.unique import tt_main
from modellens.errors import ConfigError, SpecError
from modellens.tasks.unique import (
    analyze_unique,
    extract_pytorch_ops,
    extract_unique_modules,
    read_modules_json,
)
from tests.data import tiny_model, unique_models

DATA = Path(__file__).parent / "data"
TINY = f"{DATA / 'tiny_model.py'}"
MODELS = f"{DATA / 'unique_models.py'}"


def by_path(modules):
    return {path: m for m in modules for path in m.occurrences}


class _AtenOps(TorchDispatchMode):
    """torch's own record of the aten ops a real forward runs."""

    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        shapes = lambda tree: tuple(tuple(t.shape) for t in iter_tensors(tree))
        self.ops.append((str(func), shapes((args, kwargs)), shapes(out)))
        return out


# --------------------------------------------------------------------------------------------
# The seed's example: Conv 3->64, BN, ReLU, Conv 64->64, BN, ReLU on 1x3x224x224


@pytest.fixture(scope="module")
def seed_files(tmp_path_factory):
    out = tmp_path_factory.mktemp("seed")
    modules = extract_unique_modules(tiny_model.load_model, tiny_model.get_inputs,
                                     out / "unique_modules.json")
    ops = extract_pytorch_ops(out / "unique_modules.json", tiny_model.load_model,
                              tiny_model.get_inputs, out / "pytorch_ops.json")
    return modules, ops, out


def test_seed_example_unique_modules(seed_files):
    result, _, out = seed_files
    # By hand: Sequential, Conv(3->64), Conv(64->64) differ (in_channels, input shape); the two
    # BatchNorm2d(64) and the two ReLU see the same 1x64x224x224 and collapse: 1 + 2 + 1 + 1.
    assert result.metadata.total_modules == 7
    assert result.metadata.unique_modules == 1 + 2 + 1 + 1 == len(result.modules)
    paths = by_path(result.modules)
    assert paths["0"].id != paths["3"].id
    assert paths["1"] is paths["4"] and paths["1"].occurrences == ["1", "4"]
    assert paths["2"] is paths["5"] and paths["2"].class_name == "ReLU"
    root, conv = paths["(root)"], paths["0"]
    assert (root.id, root.module_path, root.parent, root.class_name) == (
        "mod_000", "(root)", None, "Sequential")
    assert conv.parent == "(root)"
    out_shape = tiny_model.load_model().eval()(tiny_model.get_inputs()).shape
    assert root.input_shapes == ["1x3x224x224"]
    assert root.output_shapes == conv.output_shapes == ["x".join(map(str, out_shape))]
    assert conv.input_dtypes == conv.output_dtypes == ["float32"]
    assert {k: conv.parameters[k] for k in ("in_channels", "out_channels", "kernel_size",
                                            "stride", "padding")} == {
        "in_channels": 3, "out_channels": 64, "kernel_size": [3, 3], "stride": [1, 1],
        "padding": [1, 1]}
    assert conv.weights["weight"] == {"shape": "64x3x3x3", "dtype": "float32"}
    on_disk = json.loads((out / "unique_modules.json").read_text())
    assert on_disk == result.to_dict()
    assert set(on_disk["metadata"]) >= {"load_fn_location", "load_fn_name", "model_class",
                                        "total_modules", "unique_modules", "timestamp"}
    assert on_disk["metadata"]["load_fn_location"].endswith("tiny_model.py:load_model")
    assert on_disk["metadata"]["load_fn_name"] == "load_model"
    assert set(on_disk["modules"][0]) >= {
        "id", "class_name", "module_path", "parent", "input_shapes", "output_shapes",
        "input_dtypes", "output_dtypes", "parameters", "occurrences"}


def test_seed_example_unique_ops(seed_files):
    modules, result, out = seed_files
    # By hand: six calls (two of each functional); the convs differ, BN and ReLU pairs collapse.
    assert (result.metadata.total_ops, result.metadata.unique_ops) == (6, 4)
    assert result.metadata.source_modules_json == str(out / "unique_modules.json")
    conv = result.ops[0]
    ids = by_path(modules.modules)
    assert (conv.id, conv.op_name, conv.source_module_id, conv.source_module_class) == (
        "op_000", "torch.conv2d", ids["0"].id, "Conv2d")
    assert conv.attributes == {"stride": [1, 1], "padding": [1, 1], "dilation": [1, 1],
                               "groups": 1}
    assert conv.tensor_types["output"] == {"shape": "1x64x224x224", "dtype": "float32"}
    assert [t["shape"] for t in conv.tensor_types["inputs"]] == ["1x3x224x224", "64x3x3x3", "64"]
    assert conv.occurrences == [{"source_module_id": ids["0"].id, "node_name": "conv2d",
                                 "module_path": "0"}]
    names = [(o.op_name, len(o.occurrences)) for o in result.ops]
    assert names == [("torch.conv2d", 1), ("torch.batch_norm", 2), ("torch.relu", 2),
                     ("torch.conv2d", 1)]
    assert result.ops[3].occurrences[0]["node_name"] == "conv2d_1"
    assert result.ops[1].attributes == {"eps": 1e-05, "momentum": 0.1}
    assert json.loads((out / "pytorch_ops.json").read_text()) == result.to_dict()


def test_seed_python_api_example(tmp_path):
    """Linear(10, 20), ReLU, Linear(20, 10) on 1x10: every module and op is distinct."""
    modules = extract_unique_modules(unique_models.load_mlp, unique_models.mlp_inputs,
                                     tmp_path / "m.json")
    ops = extract_pytorch_ops(tmp_path / "m.json", unique_models.load_mlp,
                              unique_models.mlp_inputs, tmp_path / "o.json")
    assert (modules.metadata.total_modules, modules.metadata.unique_modules) == (4, 4)
    assert [o.op_name for o in ops.ops] == ["torch.nn.functional.linear", "torch.relu",
                                            "torch.nn.functional.linear"]
    model = unique_models.load_mlp()
    first = ops.ops[0].tensor_types
    assert [t["shape"] for t in first["inputs"]] == [
        "1x10", "x".join(map(str, model[0].weight.shape)), str(model[0].bias.shape[0])]
    assert first["output"]["shape"] == "1x20"


# --------------------------------------------------------------------------------------------
# Structure: identity attributes, shared modules, nested parents, per-call shapes


@pytest.fixture(scope="module")
def stack():
    return analyze_unique(unique_models.load_stack, unique_models.stack_inputs)


def test_blocks_equal_but_for_layer_idx_collapse(stack):
    modules = stack.modules.modules
    # By hand: Stack, ModuleList, 4 Blocks, 4 Linear(16,16), 4 block ReLUs, Sequential,
    # Linear(16,8), the shared ReLU = 17. Unique: Stack, ModuleList, Block(scale .5),
    # Block(scale 2), Linear(16,16), ReLU (all five see 2x5x16 first), Sequential, Linear(16,8).
    assert stack.modules.metadata.total_modules == 17
    assert len(modules) == 8
    paths = by_path(modules)
    assert paths["blocks.0"].occurrences == ["blocks.0", "blocks.1", "blocks.2"]
    assert paths["blocks.3"].id != paths["blocks.0"].id
    assert "layer_idx" not in paths["blocks.0"].parameters
    assert paths["blocks.3"].parameters["scale"] == 2.0
    assert paths["act"].occurrences == ["blocks.0.act", "blocks.1.act", "blocks.2.act",
                                        "blocks.3.act", "act"]
    assert paths["blocks.1.fc"].parent == "blocks.0" and paths["blocks"].parent == "(root)"
    assert paths["head.0"].parent == "head"
    assert len({m.id for m in modules}) == len(modules)


def test_ops_at_torch_level_by_hand(stack):
    ops = stack.ops
    # By hand: 4 blocks x (linear, relu, mul, add) + relu, linear, relu = 19 calls; unique:
    # linear 16->16, relu on 2x5x16, mul by 0.5, mul by 2.0, add, linear 16->8, relu on 2x5x8.
    assert ops.metadata.total_ops == 19
    assert ops.metadata.unique_ops == 7
    counts = {name: (calls, variants) for name, calls, variants in ops.counts_by_name()}
    assert counts == {"torch.nn.functional.linear": (5, 2), "torch.relu": (6, 2),
                      "torch.mul": (4, 2), "torch.add": (4, 1)}
    muls = sorted(o.attributes["other"] for o in ops.ops if o.op_name == "torch.mul")
    assert muls == [0.5, 2.0]
    relus = [o for o in ops.ops if o.op_name == "torch.relu"]
    act_id = by_path(stack.modules.modules)["act"].id
    assert {r.source_module_id for r in relus} == {act_id}
    # the shared module's second call keeps its own shapes (not the first call's)
    out_shape = "x".join(map(str, unique_models.load_stack()(unique_models.stack_inputs()).shape))
    assert [r.tensor_types["output"]["shape"] for r in relus] == ["2x5x16", out_shape]
    linear = ops.ops[0]
    assert [t["shape"] for t in linear.tensor_types["inputs"]] == ["2x5x16", "16x16", "16"]
    assert linear.tensor_types["output"]["shape"] == "2x5x16"


def test_aten_level_is_what_torch_runs():
    """The aten level lists the ops torch dispatches on real tensors, with their shapes."""
    model, x = tiny_model.load_model().eval(), tiny_model.get_inputs()
    recorder = _AtenOps()
    with torch.no_grad(), recorder:
        model(x)
    result = analyze_unique(tiny_model.load_model, tiny_model.get_inputs, level="aten").ops
    assert result.metadata.level == "aten"
    assert result.metadata.total_ops == len(recorder.ops) == 8
    ours = sorted(o.op_name for o in result.ops for _ in o.occurrences)
    assert ours == sorted(name for name, _, _ in recorder.ops)
    distinct = {(name, inputs, outputs) for name, inputs, outputs in recorder.ops}
    assert result.metadata.unique_ops == len(distinct)


# --------------------------------------------------------------------------------------------
# GPT-2 (HF transformers, not FX-traceable): the 12 blocks collapse


@pytest.fixture(scope="module")
def gpt2():
    return analyze_unique("gpt2", seq_len=8)


def test_gpt2_blocks_collapse(gpt2):
    from modellens.sources import resolve

    with torch.device("meta"):
        model = resolve("gpt2").build()
    names = [n or "(root)" for n, _ in model.named_modules()]
    assert gpt2.modules.metadata.total_modules == len(names)
    blocks = [m for m in gpt2.modules.modules if m.class_name == "GPT2Block"]
    assert len(blocks) == 1
    assert blocks[0].occurrences == [f"transformer.h.{i}" for i in range(model.config.n_layer)]
    attention = next(m for m in gpt2.modules.modules if m.class_name == "GPT2Attention")
    assert "layer_idx" not in attention.parameters and attention.parameters["num_heads"] == 12
    assert sorted(p for m in gpt2.modules.modules for p in m.occurrences) == sorted(names)
    sdpa = [o for o in gpt2.ops.ops
            if o.op_name == "torch.nn.functional.scaled_dot_product_attention"]
    assert len(sdpa) == 1 and len(sdpa[0].occurrences) == model.config.n_layer
    assert sdpa[0].source_module_class == "GPT2Attention"
    json.dumps(gpt2.to_dict(), allow_nan=False)  # strict JSON (-inf masks become strings)


def test_supported_list_reports_missing_ops_with_modules(gpt2):
    from modellens.analysis.unique import missing_ops

    classes = {m.id: m.class_name for m in gpt2.modules.modules}
    names = {o.op_name for o in gpt2.ops.ops}
    missing = missing_ops(gpt2.ops.ops, names - {"torch.tanh", "torch.addmm"}, classes)
    assert [m.op_name for m in missing] == ["torch.addmm", "torch.tanh"]  # 48 calls, then 12
    assert missing[0].occurrences == 4 * 12
    assert {m["class_name"] for m in missing[0].modules} == {"Conv1D"}
    assert {m["class_name"] for m in missing[1].modules} == {"NewGELUActivation"}
    # an aten-level list covers torch-level ops through what they lower to
    aten = {a.replace(".default", "") for o in gpt2.ops.ops for a in o.aten_ops}
    assert missing_ops(gpt2.ops.ops, aten, classes) == []
    lacking_mm = missing_ops(gpt2.ops.ops, aten - {"aten.mm"}, classes)
    assert [(m.op_name, m.missing_aten_ops) for m in lacking_mm] == [
        ("torch.nn.functional.linear", ["aten.mm.default"])]


# --------------------------------------------------------------------------------------------
# CLI, tt-model-analysis, errors


def test_cli_writes_both_files_to_model_class_dir(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    supported = tmp_path / "ops.txt"
    supported.write_text("# backend\ntorch.conv2d\naten::relu  # any overload\n")
    rc = main(["unique", "--model-path", f"{TINY}::load_model", "--inputs-path",
               f"{TINY}::get_inputs", "--supported", str(supported), "--format", "json"])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    assert [m["op_name"] for m in data["missing_ops"]] == ["torch.batch_norm"]
    assert data["missing_ops"][0]["modules"][0]["class_name"] == "BatchNorm2d"
    files = sorted(p.name for p in (tmp_path / "Sequential").iterdir())
    assert files == ["pytorch_ops.json", "unique_modules.json"]
    on_disk = json.loads((tmp_path / "Sequential" / "pytorch_ops.json").read_text())
    assert on_disk["metadata"]["source_modules_json"] == "unique_modules.json"
    assert on_disk == data["pytorch_ops"]


def test_cli_table_and_csv(tmp_path, capsys):
    assert main(["unique", f"{TINY}::load_model", "--dir", str(tmp_path), "--top", "0"]) == 0
    out = capsys.readouterr().out
    assert "modules: 7 total, 5 unique" in out and "torch.batch_norm" in out
    assert main(["unique", f"{TINY}::load_model", "--dir", str(tmp_path), "--level", "aten",
                 "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("id,op_name,calls")
    assert sum(int(line.split(",")[2]) for line in lines[1:]) == 8  # aten ops of the forward


def test_tt_model_analysis_entry_point(tmp_path, capsys):
    rc = tt_main(["--model-path", f"{TINY}::load_model", "--inputs-path", f"{TINY}::get_inputs",
                  "--dir", str(tmp_path / "out"), "-q"])
    assert rc == 0
    modules = read_modules_json(tmp_path / "out" / "unique_modules.json")
    assert modules.metadata.unique_modules == 5
    with pytest.raises(SystemExit):
        tt_main(["--model-path", f"{TINY}::load_model"])  # --inputs-path is required


@pytest.mark.parametrize("model, inputs, message", [
    ("nofile.py::load_model", f"{TINY}::get_inputs", "file not found: nofile.py"),
    (f"{TINY}::nope", f"{TINY}::get_inputs", "no function 'nope'"),
    (f"{TINY}::raises", f"{TINY}::get_inputs", "raised RuntimeError: boom"),
    (f"{TINY}::load_model", f"{TINY}::raises", "raised RuntimeError: boom"),
    (f"{TINY}::load_model", f"{TINY}::wrong_inputs", "inputs must be a tensor"),
    (f"{TINY}::load_model", f"{MODELS}::no_tensors", "inputs hold no tensor"),
    (f"{TINY}::not_a_model", f"{TINY}::get_inputs", "not a torch.nn.Module"),
])
def test_bad_input_is_one_clear_error_and_no_json(tmp_path, capsys, model, inputs, message):
    out = tmp_path / "out"
    rc = main(["unique", "--model-path", model, "--inputs-path", inputs, "--dir", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 1
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err
    assert not out.exists()


def test_api_errors_leave_no_file(tmp_path):
    target = tmp_path / "m.json"
    with pytest.raises(SpecError, match="raised RuntimeError"):
        extract_unique_modules(tiny_model.raises, tiny_model.get_inputs, target)
    with pytest.raises(SpecError, match="inputs must be a tensor"):
        extract_unique_modules(tiny_model.load_model, tiny_model.wrong_inputs, target)
    assert not target.exists()
    extract_unique_modules(unique_models.load_mlp, unique_models.mlp_inputs, target)
    with pytest.raises(ConfigError, match="does not describe this model"):
        extract_pytorch_ops(target, tiny_model.load_model, tiny_model.get_inputs,
                            tmp_path / "o.json")
    with pytest.raises(ConfigError, match="not found"):
        extract_pytorch_ops(tmp_path / "missing.json", tiny_model.load_model,
                            tiny_model.get_inputs, tmp_path / "o.json")
    assert not (tmp_path / "o.json").exists()


def test_reads_seed_format_modules_json(tmp_path):
    """A unique_modules.json as the seed's tool writes it (no extra fields) drives the ops."""
    seed = extract_unique_modules(tiny_model.load_model, tiny_model.get_inputs, None).to_dict()
    seed.pop("schema_version")
    seed["metadata"].pop("capture_method")
    for module in seed["modules"]:
        module.pop("type_name"), module.pop("weights")
    (tmp_path / "seed.json").write_text(json.dumps(seed))
    ops = extract_pytorch_ops(tmp_path / "seed.json", tiny_model.load_model,
                              tiny_model.get_inputs, None)
    assert [o.source_module_id for o in ops.ops] == ["mod_001", "mod_002", "mod_003", "mod_004"]


def test_every_torch_level_name_is_a_real_torch_function():
    from modellens.analysis import op_names
    from modellens.analysis.unique import node_base

    def resolve(dotted):
        obj = torch
        for part in dotted.split(".")[1:]:
            obj = getattr(obj, part)
        return obj

    for name in list(op_names.LEAF_FUNCTIONS.values()) + list(op_names._ATEN_NAMES.values()):
        assert callable(resolve(name)), name
    assert [op_names.public_name(n) for n in ("add", "gelu", "view", "_softmax")] == [
        "torch.add", "torch.nn.functional.gelu", "torch.Tensor.view", "aten._softmax"]
    assert [node_base(n) for n in ("torch.conv2d", "aten.add.Tensor",
                                   "torch.Tensor.__getitem__")] == ["conv2d", "add", "getitem"]
