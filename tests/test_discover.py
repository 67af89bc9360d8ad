"""`modellens discover`: a small fixed subset of each library, checked against torch itself."""

import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from modellens.cli import main
from modellens.io import SCHEMA_VERSION
from modellens.report.markdown import render_markdown
from modellens.tasks import discover as engine
from modellens.tasks.discover import Candidate, DiscoveryResult, InputSettings, ModelResult

SMALL = InputSettings(seq_len=32, image_size=64)


def numel(model):
    return sum(p.numel() for p in model.parameters())


def counted_flops(model, *args, **kwargs):
    """torch.utils.flop_counter on real CPU tensors."""
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*args, **kwargs)
    return counter.get_total_flops()


@pytest.fixture(scope="module")
def sweep():
    """One model or two of each library, in this process (jobs=0), at small input sizes."""
    models = [
        Candidate("catalog", "google/electra-small-discriminator",
                  "google/electra-small-discriminator"),
        Candidate("transformers", "t5", "hf:type:t5"),
        Candidate("transformers", "whisper", "hf:type:whisper"),
        Candidate("torchvision", "mobilenet_v3_small", "tv:mobilenet_v3_small"),
        Candidate("timm", "resnet10t", "timm:resnet10t"),
        Candidate("yolo", "yolov8n-seg", "yolo:yolov8n-seg"),
    ]
    result = engine.discover(models=models, jobs=0, inputs=SMALL)
    return {r.name: r for r in result.results}, result


def test_small_sweep_is_all_ok(sweep):
    by_name, result = sweep
    assert [r.status for r in result.results] == ["ok"] * 6, [r.reason for r in result.results]
    # ultralytics' anchors call .item() on the model's plain `stride` tensor: kept as a constant
    assert by_name["yolov8n-seg"].method == "fake"
    assert by_name["t5"].method == "fake"
    summary = {s.library: (s.tried, s.ok) for s in result.summaries()}
    assert summary == {"catalog": (1, 1), "transformers": (2, 2), "torchvision": (1, 1),
                       "timm": (1, 1), "yolo": (1, 1)}


def test_params_equal_the_model_built_normally(sweep):
    import timm
    import torchvision
    from transformers import (
        T5Config,
        T5ForConditionalGeneration,
        WhisperConfig,
        WhisperForConditionalGeneration,
    )

    by_name, _ = sweep
    assert by_name["mobilenet_v3_small"].params == numel(torchvision.models.mobilenet_v3_small())
    assert by_name["resnet10t"].params == numel(timm.create_model("resnet10t"))
    assert by_name["t5"].params == numel(T5ForConditionalGeneration(T5Config()))
    assert by_name["whisper"].params == numel(WhisperForConditionalGeneration(WhisperConfig()))


def test_encoder_decoders_get_decoder_tokens_and_audio_features(sweep):
    by_name, _ = sweep
    assert "decoder seq 32" in by_name["t5"].input_description
    # Whisper's encoder takes exactly 2 x max_source_positions = 3000 frames of 80 mel bins
    assert "audio input_features 80x3000, decoder seq 32" in by_name["whisper"].input_description


def test_flops_equal_torch_flop_counter_on_real_tensors(sweep):
    import torchvision

    by_name, _ = sweep
    model = torchvision.models.mobilenet_v3_small()
    assert by_name["mobilenet_v3_small"].flops == counted_flops(model, torch.zeros(1, 3, 64, 64))


def test_yolo_stages_add_up_and_match_torch(sweep):
    from ultralytics.nn.tasks import SegmentationModel

    by_name, _ = sweep
    yolo = by_name["yolov8n-seg"]
    model = SegmentationModel("yolov8n-seg.yaml", verbose=False)
    stages = {s.stage: s for s in yolo.stages}
    assert list(stages) == ["backbone", "neck", "head"]
    assert sum(s.params for s in yolo.stages) == yolo.params == numel(model)
    # the yaml's backbone is layers 0-9; the head is the last layer (Segment)
    assert stages["backbone"].params == sum(numel(m) for m in model.model[:10])
    assert stages["head"].params == numel(model.model[-1])
    assert sum(s.flops for s in yolo.stages) == yolo.flops
    assert yolo.flops == counted_flops(model, torch.zeros(1, 3, 64, 64))


def test_tiny_hf_config_flops_match_torch_with_eager_attention(tmp_path):
    """modellens counts CPU SDPA attention, which FlopCounterMode misses; with eager attention
    torch counts the same two matmuls, so the totals must agree."""
    from transformers import BertConfig, BertModel

    config = {"model_type": "bert", "hidden_size": 32, "num_hidden_layers": 2,
              "num_attention_heads": 2, "intermediate_size": 37, "vocab_size": 99,
              "max_position_embeddings": 64}
    path = tmp_path / "tiny_bert.json"
    path.write_text(json.dumps(config))
    [result] = engine.discover(models=[Candidate("custom", "tiny", str(path))], jobs=0,
                               inputs=InputSettings(seq_len=16)).results
    reference = BertModel(BertConfig(**{k: v for k, v in config.items() if k != "model_type"},
                                     attn_implementation="eager"))
    ids = torch.zeros(1, 16, dtype=torch.long)
    assert result.status == "ok"
    assert result.params == numel(reference)
    expected = counted_flops(reference, input_ids=ids, attention_mask=torch.ones_like(ids))
    assert result.flops == expected


def test_failures_are_results_and_the_pool_survives_hangs_and_crashes(tmp_path):
    file = tmp_path / "zoo.py"
    file.write_text(
        "import os, time\nimport torch\n\n"
        "def get_inputs():\n    return torch.ones(2, 4)\n\n"
        "def good():\n    return torch.nn.Linear(4, 3)\n\n"
        "def hangs():\n    time.sleep(600)\n\n"
        "def dies():\n    os._exit(3)\n\n"
        "def hog():\n    return torch.nn.Linear(2**15, 2**15)\n\n"
        "def raises():\n    raise RuntimeError('broken constructor')\n\n"
        "class Bad(torch.nn.Module):\n    def forward(self, x):\n"
        "        raise ValueError('bad forward')\n\n"
        "def bad_forward():\n    return Bad()\n")
    names = ["good", "hangs", "dies", "hog", "raises", "bad_forward", "good"]
    models = [Candidate("custom", n, f"{file}::{n}") for n in names]
    # 4 GiB of float32 weights cannot be built under a 3 GiB limit per worker
    result = engine.discover(models=models, jobs=2, timeout=10, memory_limit=3 * 2**30)
    statuses = [(r.name, r.status) for r in result.results]
    assert statuses == [("good", "ok"), ("hangs", "timeout"), ("dies", "failed-at-build"),
                        ("hog", "failed-at-build"), ("raises", "failed-at-build"),
                        ("bad_forward", "failed-at-capture"), ("good", "ok")]
    by_name = {r.name: r for r in result.results}
    assert by_name["good"].params == 4 * 3 + 3
    assert by_name["good"].flops == 2 * 2 * 4 * 3
    assert "while building" in by_name["hangs"].reason
    assert "exit code 3" in by_name["dies"].reason
    assert "allocate" in by_name["hog"].reason
    assert "broken constructor" in by_name["raises"].reason
    assert "bad forward" in by_name["bad_forward"].reason


def test_summary_markdown_and_json_round_trip():
    rows = [ModelResult("tv", "a", "tv:a", "ok", 1.0, "fake", 10, 20),
            ModelResult("tv", "b", "tv:b", "ok", 1.0, "real", 10, 20),
            ModelResult("tv", "c", "tv:c", "failed-at-build", 0.1, reason="no | default"),
            ModelResult("tv", "d", "tv:d", "timeout", 9.0, reason="slow")]
    result = DiscoveryResult(rows, {"inputs": {"batch_size": 1, "seq_len": None,
                                               "image_size": 96}})
    [summary] = result.summaries()
    assert (summary.tried, summary.ok, summary.built) == (4, 2, 3)
    assert summary.by_method == {"fake": 1, "real": 1}
    assert summary.by_status == {"ok": 2, "failed-at-build": 1, "timeout": 1}
    markdown = render_markdown(result)
    assert "| tv | 4 | 2 | 3 | 66.7% | 3 | 66.7% | 1 | 1 | 1 | 0 | 0 | 1 |" in markdown
    assert "no \\| default" in markdown
    assert result.examples() == ["modellens profile tv:a --image-size 96",
                                 "modellens profile tv:b --image-size 96"]
    data = json.loads(json.dumps(result.to_dict()))
    assert data["schema_version"] == SCHEMA_VERSION
    assert DiscoveryResult.from_dict(data).results == rows


def test_candidate_lists():
    yolo = [c.spec for c in engine.candidates("yolo")]
    assert len(yolo) == 5 + 15 + 15
    assert {"yolo:yolov5n", "yolo:yolov8x-seg", "yolo:yolo11m-pose"} <= set(yolo)
    import re

    import timm

    timm_names = engine.timm_sample()
    families = {re.match("[a-z]*", n).group(0) for n in timm.list_models()}
    assert len(timm_names) == len(families) >= 100 and timm_names == sorted(timm_names)
    assert {"resnet101", "convnext_atto", "vgg11"} <= set(timm_names)
    types = [c.name for c in engine.candidates("transformers")]
    assert {"bert", "gpt2", "t5", "whisper", "llama"} <= set(types)
    assert engine.candidates("catalog", limit=2) == engine.candidates("catalog")[:2]
    assert engine.find_candidate("resnet50").spec == "tv:resnet50"
    assert engine.find_candidate("gpt2", "transformers").spec == "hf:type:gpt2"


def test_cli_writes_json_markdown_and_examples(tmp_path, capsys):
    out, md, sh = tmp_path / "r.json", tmp_path / "r.md", tmp_path / "ex.sh"
    code = main(["discover", "--library", "yolo", "--limit", "1", "--jobs", "0",
                 "--image-size", "64", "-o", str(out), "--markdown", str(md),
                 "--generate-examples", str(sh), "-q"])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["summary"][0]["library"] == "yolo" and data["summary"][0]["ok"] == 1
    assert data["models"][0]["spec"] == "yolo:yolov5n"
    assert "### yolo by stage" in md.read_text()
    assert "modellens profile yolo:yolov5n --image-size 64" in sh.read_text()


def test_cli_test_model_shows_the_profile(capsys):
    assert main(["discover", "--test-model", "tv:squeezenet1_1", "--image-size", "64",
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"]["status"] == "ok"
    assert data["profile"]["flops"]["forward"] == data["model"]["flops"]
    assert main(["discover", "--test-model", "tv:nonexistent"]) == 1
    assert "unknown torchvision model" in capsys.readouterr().out
