"""Input rules of `modellens.sources.hf`: each one lets a default-config model be captured, with
the parameters of the model built normally and a non-zero FLOP count."""

import pytest

from modellens.sources import hf
from modellens.sources.base import InputOptions
from modellens.tasks import discover as engine
from modellens.tasks.discover import Candidate, InputSettings


def profiled(model_type: str, **inputs):
    [result] = engine.discover(models=[Candidate("transformers", model_type, f"hf:type:{model_type}")],
                               jobs=0, inputs=InputSettings(**inputs)).results
    return result


def built_params(model_type: str) -> int:
    config = hf.default_config(model_type)
    model = hf.model_class(config)._from_config(config)
    return sum(p.numel() for p in model.parameters())


def assert_captured(result, model_type: str) -> None:
    assert result.status == "ok", result.reason
    assert result.params == built_params(model_type)
    assert result.flops > 0


def description(model_type: str) -> str:
    return hf.source(f"type:{model_type}", InputOptions()).input_description


@pytest.mark.parametrize("model_type, expected", [
    # required `*_embeds`: embeddings in the config's hidden_size
    ("nemotron3_5_transcribe_word_timestamp", "inputs_embeds 16x1280"),
    # `latents`: (hidden_size, frames) for an audio codec's decoder
    ("pocket_tts_audio_tokenizer_decoder", "latents 512x16"),
    # a Q-Former's queries and the image features it cross-attends to (encoder_hidden_size)
    ("blip_2_qformer", "query_embeds 16x768, encoder_hidden_states 16x1408"),
    # float inputs whose width the config names (`visual_feat_dim`, `visual_pos_dim`)
    ("lxmert", "visual_feats 16x2048, visual_pos 16x4"),
    # X-MOD's language adapters: the config's first language
    ("xmod", "language en_XX"),
    # a Perceiver without a preprocessor reads (seq, d_model) inputs
    ("perceiver", "inputs 16x768"),
])
def test_inputs_from_the_config(model_type, expected):
    result = profiled(model_type, seq_len=16)
    assert_captured(result, model_type)
    assert expected in result.input_description


def test_image_size_of_a_nested_backbone_config():
    """SAM 2 names its image size only in vision_config.backbone_config; at 224 its mask
    decoder's feature maps do not line up."""
    result = profiled("sam2")
    assert_captured(result, "sam2")
    assert "image 3x1024x1024" in result.input_description


def test_image_size_of_a_timm_wrapped_tower():
    """PE Video's vision tower is a timm wrapper around vit_pe_core_large_patch14_336: its size
    is in timm's pretrained config, and the patch embedding asserts 336."""
    assert "video 16x3x336x336" in description("pe_video_encoder")


def test_audio_video_encoder_gets_a_video_with_its_audio():
    text = description("pe_audio_video_encoder")
    assert "audio input_values" in text and "video 16x3x336x336" in text


def test_unset_placeholder_token_gets_the_last_text_id():
    """BLIP-2's default config leaves image_token_index unset: `input_ids == None` is False
    and the model cannot run; the last id of its OPT vocabulary (50272) stands in."""
    assert description("blip-2").endswith("image_token_id=50271 (unset in the config)")
    assert "audio_token_id=131071" in description("voxtral")
    assert "unset in the config" not in description("llava")  # a set id is kept


@pytest.mark.slow
def test_unset_placeholder_model_captures():
    assert_captured(profiled("blip-2", seq_len=16), "blip-2")


def test_extractor_outputs_under_the_model_names():
    """Gemma 3n's audio encoder takes its extractor's features as audio_mel, and a mask that
    marks padding (all False) where the extractor's marks valid frames."""
    assert description("gemma3n_audio").endswith(
        "audio audio_mel 97x128, audio audio_mel_mask 97)")
    source = hf.source("type:gemma3n_audio", InputOptions())
    assert not source.make_inputs().kwargs["audio_mel_mask"].any()


def test_patch_positions_on_a_pooled_grid():
    """Gemma 4's vision tower takes patches with (x, y) positions; 224 / 16 = 14 patches a side,
    rounded down to 12 for its 3x3 pooling."""
    inputs = hf.source("type:gemma4_vision", InputOptions()).make_inputs().kwargs
    assert inputs["pixel_values"].shape == (1, 144, 768)
    positions = inputs["pixel_position_ids"]
    assert positions.shape == (1, 144, 2)
    assert positions[0, 13].tolist() == [1, 1] and positions[0, 143].tolist() == [11, 11]


def test_temporal_patch_named_patch_temporal():
    """Muse Glimmer's vision tower names its temporal patch `patch_temporal` (2): each
    flattened patch is 3 x 2 x 14 x 14."""
    assert "image patches 256x1176" in description("muse_glimmer_vision")


def test_segmentation_prompt_pair_halves_the_canvas():
    """SegGPT's image_size (896, 448) is the canvas that stacks prompt over image."""
    assert description("seggpt").endswith(
        "image 3x448x448, prompt_pixel_values 3x448x448, prompt_masks 3x448x448)")


def test_audio_extractor_runs_on_a_batch_of_one():
    """Gemma 4's feature extractor rejects a bare array; its features are 128 mel bins."""
    assert description("gemma4_audio").startswith(
        "inputs (batch 1, audio input_features 99x128")


@pytest.mark.slow
@pytest.mark.parametrize("model_type", ["gemma4_audio", "clvp"])
def test_audio_models_capture(model_type):
    result = profiled(model_type)
    assert_captured(result, model_type)


def test_audio_beside_text_keeps_the_text_attention_mask():
    """CLVP: the extractor's sample-level attention_mask must not replace the tokens' one."""
    assert description("clvp") == (
        "tokens (batch 1, seq 128, with attention_mask, audio input_features 80x517)")


def test_a_class_without_forward_fails_at_build():
    result = profiled("bark")
    assert result.status == "failed-at-build"
    assert "BarkModel has no forward()" in result.reason


def test_a_vision_tower_reads_its_grid_under_fake_tensors():
    """The grid_thw input is a small constant the fake capture can read (`.tolist()`), so a
    Qwen-VL-style tower no longer needs real weights."""
    result = profiled("lfm3_vl_vision")
    assert_captured(result, "lfm3_vl_vision")
    assert result.method == "fake"
    assert "on grid (1, 14, 14)" in result.input_description


def test_merge_sizes_beside_the_patch_grid():
    """VideoLLaMA 3's tower takes a merge size per image beside grid_thw."""
    result = profiled("video_llama_3_vision", image_size=64)
    assert_captured(result, "video_llama_3_vision")
    assert "on grid (1, 4, 4)" in result.input_description


@pytest.mark.parametrize("model_type", sorted(hf.DEFAULT_CONFIG_REPAIRS))
def test_default_config_repair_is_needed_and_enough(model_type):
    """Each repair keeps a default config that fails in plain PyTorch from failing: a one-layer
    real CPU model (small vocabulary and MLP) raises without it and runs with it. A repair that
    transformers no longer needs fails here."""
    import torch

    small = {"num_hidden_layers": 1, "vocab_size": 64, "pad_token_id": 0, "intermediate_size": 64,
             "moe_intermediate_size": 64, "n_routed_experts": 4, "first_k_dense_replace": 1}

    def run(repaired: bool):
        config = hf.default_config(model_type)
        for key, value in small.items():
            if hasattr(config, key):
                setattr(config, key, value)
        if repaired:
            assert hf.repair_default_config(config)
        model = hf.model_class(config)._from_config(config)
        return model(input_ids=torch.ones(1, 8, dtype=torch.long)).last_hidden_state

    with pytest.raises(RuntimeError):
        run(repaired=False)
    assert run(repaired=True).shape[:2] == (1, 8)
