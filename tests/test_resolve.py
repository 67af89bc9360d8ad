"""`sources.resolve`, THE dispatcher: every way to give a model ends in one ModelSource that
says where the model came from."""

from pathlib import Path

import pytest
import torch

from modellens import profile
from modellens.errors import SpecError
from modellens.sources import resolve
from modellens.sources.pyfile import called_once
from tests.data import tiny_model, unique_models

DATA = Path(__file__).resolve().parent / "data"
TINY = f"{DATA / 'tiny_model.py'}"
CONFIGS = Path(__file__).resolve().parent.parent / "examples" / "configs"


@pytest.mark.parametrize("target, kind, location, function", [
    ("gpt2", "hf", "gpt2", None),
    (f"{TINY}::load_model", "pyfile", f"{TINY}:load_model", "load_model"),
    (unique_models.load_mlp(), "pyfile", "<Sequential object>", None),
    (unique_models.load_mlp, "pyfile", "tests/data/unique_models.py:load_mlp", "load_mlp"),
])
def test_where_the_model_came_from(target, kind, location, function):
    source = resolve(target, unique_models.mlp_inputs)
    assert (source.kind, source.function) == (kind, function)
    assert source.location.endswith(location)


def test_a_function_returning_a_module_profiles_like_the_module():
    """Linear(10, 20), ReLU, Linear(20, 10) on 1x10: 2 x (200 + 200) matmul FLOPs."""
    from_function = profile(unique_models.load_mlp, unique_models.mlp_inputs)
    from_module = profile(unique_models.load_mlp(), unique_models.mlp_inputs())
    assert from_function.flops.forward == from_module.flops.forward == 2 * (200 + 200)
    assert from_function.model == "load_mlp"


def test_inputs_of_a_file_model_in_any_form():
    """A tensor (or a function) for a file.py::fn model; without, the file's get_inputs."""
    given = resolve(f"{TINY}::load_model", torch.zeros(1, 3, 8, 8)).make_inputs()
    assert given.args[0].shape == (1, 3, 8, 8)
    default = resolve(f"{TINY}::load_model").make_inputs()
    assert default.args[0].shape == (1, 3, 224, 224)


def test_a_config_path_object():
    source = resolve(CONFIGS / "vit-b-16.json")
    assert source.kind == "transformer-config"
    assert source.location == str(CONFIGS / "vit-b-16.json")


@pytest.mark.parametrize("target, inputs, message", [
    (42, None, "a model is a spec string, an nn.Module or a function returning one, got int"),
    (torch.nn.Linear(2, 2), None, "<Linear object>: no sample inputs"),
    (unique_models.load_mlp, None, "unique_models.py:load_mlp: no sample inputs"),
])
def test_what_is_not_a_model(target, inputs, message):
    with pytest.raises(SpecError, match=message):
        resolve(target, inputs)


def test_called_once_fails_on_a_wrong_function_before_capture():
    with pytest.raises(SpecError, match="tiny_model.py:not_a_model: returned int, not a torch"):
        called_once(resolve(tiny_model.not_a_model, tiny_model.get_inputs))
    with pytest.raises(SpecError, match="no_tensors: inputs hold no tensor \\(got list\\)"):
        called_once(resolve(unique_models.load_mlp, unique_models.no_tensors))
    source = called_once(resolve(unique_models.load_mlp, unique_models.mlp_inputs))
    assert source.make_inputs() is source.make_inputs()  # made once


def _whisper_tiny_dir(tmp_path, **extra):
    transformers = pytest.importorskip("transformers")
    transformers.WhisperConfig(
        d_model=384, encoder_layers=4, decoder_layers=4, encoder_attention_heads=6,
        decoder_attention_heads=6, encoder_ffn_dim=1536, decoder_ffn_dim=1536, **extra,
    ).save_pretrained(tmp_path)
    return str(tmp_path)


@pytest.mark.parametrize("architectures", [None, ["WhisperForConditionalGeneration"]])
def test_whisper_gets_its_lm_head_by_default_and_with_seq2seq_lm(tmp_path, architectures):
    """Whisper's seq2seq head lives in the speech mapping: auto and --task seq2seq-lm build it,
    and its head adds 2 x decoder tokens x d_model x vocab FLOPs over the bare model."""
    from modellens import profile

    spec = _whisper_tiny_dir(tmp_path, architectures=architectures)
    auto, seq2seq, base = (profile(spec, task=t, seq_len=32)
                           for t in ("auto", "seq2seq-lm", "base"))
    assert auto.model_class == seq2seq.model_class == "WhisperForConditionalGeneration"
    assert base.model_class == "WhisperModel"
    mm = lambda r: sum(o.flops for o in r.operators if o.name == "aten.mm")
    assert mm(seq2seq) - mm(base) == 2 * 32 * 384 * 51865
    assert auto.flops.forward == seq2seq.flops.forward


def test_every_listed_task_builds_on_a_model_type_it_applies_to(tmp_path):
    """Each --task in --help: Whisper for the ones it has, BERT for masked-lm, ViT for
    image-classification; a task a type lacks is a one-line ConfigError naming it."""
    from modellens.errors import ConfigError
    from modellens.sources.hf.classes import TASKS, model_class

    transformers = pytest.importorskip("transformers")
    whisper = transformers.WhisperConfig(architectures=["WhisperForConditionalGeneration"])
    expected = {"auto": "WhisperForConditionalGeneration", "base": "WhisperModel",
                "causal-lm": "WhisperForCausalLM",
                "seq2seq-lm": "WhisperForConditionalGeneration",
                "architecture": "WhisperForConditionalGeneration"}
    for task, name in expected.items():
        assert model_class(whisper, task).__name__ == name
    assert model_class(transformers.BertConfig(), "masked-lm").__name__ == "BertForMaskedLM"
    assert (model_class(transformers.ViTConfig(), "image-classification").__name__
            == "ViTForImageClassification")
    assert set(expected) | {"masked-lm", "image-classification"} == set(TASKS)
    with pytest.raises(ConfigError, match="masked-lm does not apply to model type 'whisper'"):
        model_class(whisper, "masked-lm")
