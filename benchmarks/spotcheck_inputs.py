"""Spot-check the Hugging Face input rules against the last full sweep: `modellens profile
hf:type:X --format json` must give the forward FLOPs and input description that
benchmarks/coverage.json records for X.

    .venv/bin/python benchmarks/spotcheck_inputs.py              # the default ~45 model types
    .venv/bin/python benchmarks/spotcheck_inputs.py whisper t5   # chosen ones

Run it after changing an input rule (`modellens.sources.hf.inputs`); the full sweep is
benchmarks/coverage.py. Exits 1 when a model differs (a newer transformers may change a default
config: check `settings.versions` in coverage.json).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "coverage.json"
# vision, patch grids, video, audio, multimodal, time series, seq2seq, embeddings-fed sub-models
DEFAULT_TYPES = (
    "vit", "resnet", "convnext", "swin", "dinov2_with_registers", "seggpt", "sam2",
    "siglip2_vision_model", "glm4v_vision", "lfm3_vl_vision", "qwen3_vl_vision",
    "gemma4_vision", "video_llama_3_vision",
    "vivit", "videomae", "timesformer", "pe_video_encoder", "xclip", "videoprism",
    "pe_audio_video_encoder",
    "whisper", "wav2vec2", "audio-spectrogram-transformer", "omniasr_ctc", "pe_audio_encoder",
    "nemotron3_diarization_audio", "qwen2_audio_encoder", "gemma3n_audio", "gemma4_audio",
    "clvp", "clap",
    "clip", "siglip", "siglip2", "layoutlmv3", "owlvit", "blip", "kosmos-2", "git", "lxmert",
    "blip-2", "llava",
    "patchtst", "patchtsmixer", "timesfm", "informer",
    "t5", "bart", "marian", "florence2",
    "perceiver", "blip_2_qformer", "xmod", "bert", "gpt2",
)


def recorded() -> dict[str, dict]:
    models = json.loads(RESULTS.read_text())["models"]
    return {m["name"]: m for m in models if m["library"] == "transformers"}


def profile(model_type: str) -> dict:
    """flops.forward and input_description from the CLI, or the error it printed."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, "-m", "modellens.cli", "profile", f"hf:type:{model_type}",
               "--format", "json", "-o", "-", "-q"]
    run = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if run.returncode:
        return {"error": (run.stderr.strip().splitlines() or ["?"])[-1]}
    data = json.loads(run.stdout)
    return {"flops": data["flops"]["forward"], "input_description": data["input_description"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("types", nargs="*", default=DEFAULT_TYPES)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    sweep = recorded()
    missing = [t for t in args.types if sweep.get(t, {}).get("status") != "ok"]
    if missing:
        print(f"not ok in {RESULTS.name} (skipped): {', '.join(missing)}")
    todo = [t for t in args.types if t not in missing]
    with ThreadPoolExecutor(args.jobs) as pool:
        now = dict(zip(todo, pool.map(profile, todo)))
    differ = 0
    for model_type in todo:
        then, got = sweep[model_type], now[model_type]
        same = (got.get("flops") == then["flops"]
                and got.get("input_description") == then["input_description"])
        differ += not same
        print(f"{'ok  ' if same else 'DIFF'} {model_type:<34} {then['flops']:>16,} "
              f"{then['input_description']}")
        if not same:
            print(f"     {'now':<34} {got.get('flops') or 0:>16,} "
                  f"{got.get('input_description') or got.get('error')}")
    print(f"{len(todo) - differ} of {len(todo)} as recorded")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
