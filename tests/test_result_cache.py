"""The result cache: a repeated run replays the same output (JSON marked `cached: true`)
without importing torch; every input and option that changes the answer changes the key."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from modellens.cli import main
from modellens.commands.common import CACHE_NOTE, mark_cached
from modellens.tasks import result_cache

DATA = Path(__file__).parent / "data"
TINY_GPT2 = {"model_type": "gpt2", "n_layer": 2, "n_embd": 64, "n_head": 2, "n_positions": 64,
             "vocab_size": 1000}
# the tiny GPT-2's parameters, by hand: wte 1000x64 + wpe 64x64 + 2 blocks x (ln_1 128 +
# c_attn 64x192+192 + c_proj 64x64+64 + ln_2 128 + c_fc 64x256+256 + c_proj 256x64+64) + ln_f
TINY_PARAMS = 1000 * 64 + 64 * 64 + 2 * (128 + 64 * 192 + 192 + 64 * 64 + 64 + 128
                                         + 64 * 256 + 256 + 256 * 64 + 64) + 128


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A result cache in tmp_path, switched on (the suite runs with MODELLENS_NO_CACHE=1)."""
    monkeypatch.setenv("MODELLENS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MODELLENS_NO_CACHE")
    return tmp_path / "cache" / "results"


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "tiny" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(TINY_GPT2))
    return path


def entries(cache):
    return sorted(cache.glob("*/*.json"))


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    streams = capsys.readouterr()
    return code, streams.out, streams.err


def subprocess_cli(*argv, env_extra=None):
    """The CLI in a fresh process: (exit code, stdout, stderr, whether torch was imported)."""
    code = ("import sys\nfrom modellens.cli import main\ntry:\n    rc = main(sys.argv[1:])\n"
            "except SystemExit as exc:\n    rc = exc.code or 0\n"
            "sys.stderr.write('TORCH=%s\\n' % ('torch' in sys.modules))\nsys.exit(rc)")
    import os

    env = {**os.environ, **(env_extra or {})}
    done = subprocess.run([sys.executable, "-c", code, *map(str, argv)], capture_output=True,
                          text=True, env=env, timeout=300)
    lines = done.stderr.splitlines()
    torch_line = [line for line in lines if line.startswith("TORCH=")]
    err = "\n".join(line for line in lines if not line.startswith("TORCH="))
    return done.returncode, done.stdout, err, torch_line == ["TORCH=True"]


def test_a_repeated_json_answer_comes_from_the_cache_in_a_process_without_torch(
        cache, config, tmp_path, capsys):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    code, _, err = cli(capsys, "profile", config, "--format", "json", "-o", first)
    assert code == 0 and CACHE_NOTE not in err and len(entries(cache)) == 1
    doc = json.loads(first.read_text())
    assert doc["params"]["total"] == TINY_PARAMS and "cached" not in doc
    code, _, err, torch_imported = subprocess_cli("profile", config, "--format", "json",
                                                  "-o", second)
    assert code == 0 and not torch_imported, err
    assert CACHE_NOTE in err and f"wrote {second}" in err
    again = json.loads(second.read_text())
    assert again.pop("cached") is True
    assert again == doc  # the same document, timings of the run that made it included
    assert list(json.loads(second.read_text()))[:2] == ["schema_version", "cached"]


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "markdown", "html"])
def test_every_format_replays_what_the_run_printed(cache, config, capsys, fmt):
    code, out, _ = cli(capsys, "profile", config, "--format", fmt)
    assert code == 0 and out
    code, replay, err = cli(capsys, "profile", config, "--format", fmt)
    assert code == 0 and CACHE_NOTE in err
    assert replay == (mark_cached(out) if fmt == "json" else out)
    assert len(entries(cache)) == 1


def test_table_to_a_file_is_replayed_to_the_file(cache, config, tmp_path, capsys):
    target = tmp_path / "t.txt"
    assert cli(capsys, "profile", config, "-o", target)[0] == 0
    text = target.read_text()
    target.unlink()
    code, out, err = cli(capsys, "profile", config, "-o", target)
    assert code == 0 and out == "" and CACHE_NOTE in err and target.read_text() == text


def test_what_changes_the_answer_changes_the_key(cache, config, capsys):
    assert cli(capsys, "profile", config, "--format", "json")[0] == 0
    assert cli(capsys, "profile", config, "--format", "json", "--seq-len", "32")[0] == 0
    assert len(entries(cache)) == 2  # an option
    assert cli(capsys, "profile", config, "--format", "csv")[0] == 0
    assert len(entries(cache)) == 3  # the format
    config.write_text(json.dumps({**TINY_GPT2, "n_layer": 3}))
    code, out, err = cli(capsys, "profile", config, "--format", "json")
    assert code == 0 and CACHE_NOTE not in err and len(entries(cache)) == 4  # the config
    per_block = 128 + 64 * 192 + 192 + 64 * 64 + 64 + 128 + 64 * 256 + 256 + 256 * 64 + 64
    assert json.loads(out)["params"]["total"] == TINY_PARAMS + per_block


def test_no_cache_flag_and_env_neither_read_nor_write(cache, config, capsys, monkeypatch):
    assert cli(capsys, "profile", config, "--format", "json", "--no-cache")[0] == 0
    assert entries(cache) == []
    monkeypatch.setenv("MODELLENS_NO_CACHE", "1")
    assert cli(capsys, "profile", config, "--format", "json")[0] == 0
    assert entries(cache) == []
    monkeypatch.delenv("MODELLENS_NO_CACHE")
    assert cli(capsys, "profile", config, "--format", "json")[0] == 0
    code, _, err = cli(capsys, "profile", config, "--format", "json", "--no-cache")
    assert code == 0 and CACHE_NOTE not in err


def untimed(doc):
    return {k: v for k, v in doc.items() if k != "timings"}


def test_a_corrupt_entry_is_a_miss_and_is_rewritten(cache, config, capsys):
    code, out, _ = cli(capsys, "profile", config, "--format", "json")
    [entry] = entries(cache)
    for garbage in ("{not json", json.dumps({"entry_version": 1, "format": "json"}),
                    json.dumps([1, 2]), ""):
        entry.write_text(garbage)
        code, again, err = cli(capsys, "profile", config, "--format", "json")
        assert code == 0 and CACHE_NOTE not in err  # recomputed: the same but for timings
        assert untimed(json.loads(again)) == untimed(json.loads(out))
        assert result_cache.load(entry.stem) is not None  # whole again


def test_code_and_hub_ids_are_never_cached(cache, capsys):
    code, _, _ = cli(capsys, "profile", f"{DATA / 'tiny_model.py'}::load_model", "--format", "json")
    assert entries(cache) == []
    from modellens.sources.fingerprint import spec_fingerprint

    assert spec_fingerprint(f"{DATA / 'tiny_model.py'}::load_model") is None
    assert spec_fingerprint("someone/not-in-the-catalog") is None
    assert spec_fingerprint("gpt2").startswith("catalog:gpt2@")
    assert spec_fingerprint("openai-community/gpt2") == spec_fingerprint("gpt2")  # an alias
    assert spec_fingerprint("hf:type:bert") == "hf:type:bert"
    assert spec_fingerprint("tv:resnet50") == "tv:resnet50"


def test_matrices_side_file_and_llm_are_replayed(cache, config, tmp_path, capsys):
    side = tmp_path / "m.json"
    code, table, _ = cli(capsys, "matrices", config, "-o", side)
    # 2 blocks x (c_attn, c_proj, c_fc, c_proj, with biases) + the tied lm_head 1000x64
    matrix_params = 2 * (64 * 192 + 192 + 64 * 64 + 64 + 64 * 256 + 256 + 256 * 64 + 64) + 64000
    assert code == 0 and f"{matrix_params:,}" in table
    data = side.read_text()
    side.unlink()
    code, again, err = cli(capsys, "matrices", config, "-o", side)
    assert code == 0 and again == table and side.read_text() == data
    assert f"wrote {side}" in err and CACHE_NOTE in err
    code, out, _ = cli(capsys, "llm", config, "--format", "json", "--prompt-len", "16",
                       "--gen-len", "8")
    code2, again, err = cli(capsys, "llm", config, "--format", "json", "--prompt-len", "16",
                            "--gen-len", "8")
    assert code == code2 == 0 and again == mark_cached(out) and CACHE_NOTE in err


def test_transformer_without_timing_rewrites_its_files(cache, tmp_path, capsys):
    config = tmp_path / "vit.json"
    config.write_text(json.dumps({"embed_dim": 64, "num_heads": 2, "ff_dim": 128, "seq_len": 8,
                                  "num_encoder_blocks": 1, "num_decoder_blocks": 0}))
    out_dir = tmp_path / "stats"
    argv = ("transformer", config, "--no-timing", "--out-dir", out_dir, "--format", "json")
    code, out, _ = cli(capsys, *argv)
    files = {p.name: p.read_text() for p in out_dir.iterdir()}
    assert code == 0 and sorted(files) == ["vit.json", "vit.txt"]
    for p in out_dir.iterdir():
        p.unlink()
    code, again, err = cli(capsys, *argv)
    assert code == 0 and again == mark_cached(out) and CACHE_NOTE in err
    assert {p.name: p.read_text() for p in out_dir.iterdir()} == files
    code, _, err = cli(capsys, "transformer", config, "--out-dir", out_dir, "--repeats", "1",
                       "--warmup", "0", "--format", "json")
    assert code == 0 and CACHE_NOTE not in err  # measured timings are never kept
    assert len(entries(cache)) == 1


def test_cache_info_and_clear(cache, config, capsys):
    assert cli(capsys, "profile", config, "--format", "json")[0] == 0
    assert cli(capsys, "profile", config, "--format", "csv")[0] == 0
    code, out, _ = cli(capsys, "cache", "info", "--format", "json")
    info = json.loads(out)["cache"]
    assert code == 0 and info["entries"] == 2 and info["directory"] == str(cache)
    assert info["bytes"] == sum(p.stat().st_size for p in entries(cache))
    code, out, _ = cli(capsys, "cache", "clear", "--format", "json")
    assert code == 0 and json.loads(out)["cache"]["entries"] == 2 and entries(cache) == []
    code, out, _ = cli(capsys, "cache", "info")
    assert code == 0 and "entries" in out


def test_mark_cached_keeps_the_document_valid():
    text = '{\n  "schema_version": 1,\n  "x": [1]\n}\n'
    assert json.loads(mark_cached(text)) == {"schema_version": 1, "cached": True, "x": [1]}
    assert mark_cached("[1, 2]\n") == "[1, 2]\n"


@pytest.mark.parametrize("argv", [["--help"], ["profile", "--help"], ["models"],
                                  ["hardware"], ["cache", "info"]])
def test_help_models_hardware_and_cache_import_no_torch(argv, cache):
    code, out, err, torch_imported = subprocess_cli(*argv)
    assert code == 0 and out and not torch_imported, err
