"""Safe by default (issue 18): no code runs unasked, no name can inject into a terminal or a
spreadsheet, no output overwrites an input or fails after the work, no input hangs or takes
quadratic time, no YAML expands without bound. The file policy itself is in test_io_files.py.

Devices, FIFOs and links are made inside tmp_path; the real /dev is never touched."""

import csv
import io as stdio
import json
import os
import stat
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from modellens.cli import build_parser, main
from modellens.errors import CheckpointError, HardwareError
from modellens.report.csv_io import to_csv
from modellens.report.text import clean, csv_cell, for_plot, safe

ROOT = os.geteuid() == 0
REPO = Path(__file__).parent.parent
EVIL_NAMES = ("[/]", "[link=https://evil]click[/link]", "x\x1b]8;;https://evil\x1b\\y",
              "red\x1b[31mtext", "=HYPERLINK(\"https://evil\")", "rtl\u202eoverride")


def run(*argv, stdin: str | None = None, env: dict | None = None, timeout: float = 120):
    """The CLI in a subprocess: (exit code, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "modellens.cli", *map(str, argv)],
                          input=stdin, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=REPO)
    return proc.returncode, proc.stdout, proc.stderr


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


# ---------------------------------------------------------------- 3. no remote code unasked

CONFIG_CODE = '''
import pathlib
pathlib.Path(MARKER).write_text("the directory's code ran")  # transformers runs a copy
from transformers import PretrainedConfig


class EvilConfig(PretrainedConfig):
    model_type = "evil-custom"

    def __init__(self, hidden_size=8, **kwargs):
        self.hidden_size = hidden_size
        super().__init__(**kwargs)
'''
MODEL_CODE = '''
import torch
from transformers import PreTrainedModel

from .configuration_evil import EvilConfig


class EvilModel(PreTrainedModel):
    config_class = EvilConfig

    def __init__(self, config):
        super().__init__(config)
        self.proj = torch.nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, input_ids=None, **kwargs):
        return self.proj(torch.zeros(1, self.config.hidden_size))
'''


def remote_code_dir(tmp_path: Path, model_type: str = "evil-custom") -> Path:
    model = tmp_path / "evil_model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({
        "model_type": model_type, "architectures": ["EvilModel"],
        "auto_map": {"AutoConfig": "configuration_evil.EvilConfig",
                     "AutoModel": "modeling_evil.EvilModel"},
        "n_layer": 1, "n_embd": 16, "n_head": 2, "n_positions": 32, "vocab_size": 64,
    }))
    (model / "configuration_evil.py").write_text(f"MARKER = {str(model / 'MARKER')!r}\n"
                                                 + CONFIG_CODE)
    (model / "modeling_evil.py").write_text(MODEL_CODE)
    return model


@pytest.mark.parametrize("command", [["profile"], ["info"], ["llm"]])
def test_auto_map_code_never_runs_without_the_flag_even_answering_yes(tmp_path, command):
    model = remote_code_dir(tmp_path)
    code, out, err = run(*command, model, "--format", "json", stdin="y\ny\n",
                         env={"HF_MODULES_CACHE": str(tmp_path / "modules")})
    assert code == 1 and out == ""  # nothing on stdout: no prompt, no partial JSON
    assert "--trust-remote-code" in one_line(err)
    assert not (model / "MARKER").exists()


def test_auto_map_on_a_known_model_type_uses_transformers_own_classes(tmp_path):
    model = remote_code_dir(tmp_path, model_type="gpt2")
    code, out, err = run("info", model, "--format", "json",
                         env={"HF_MODULES_CACHE": str(tmp_path / "modules")})
    assert code == 0, err
    assert json.loads(out)["total_params"] > 0
    assert not (model / "MARKER").exists()


def test_trust_remote_code_runs_the_directory_code(tmp_path):
    model = remote_code_dir(tmp_path)
    code, out, err = run("info", model, "--trust-remote-code", "--format", "json",
                         env={"HF_MODULES_CACHE": str(tmp_path / "modules")})
    assert (model / "MARKER").exists()
    assert code == 0, err
    assert json.loads(out)["total_params"] == 8 * 8 + 8


def test_trust_remote_code_is_offered_by_every_command_taking_a_model_spec():
    parser = build_parser()
    for command in ("profile", "report", "matrices", "unique", "info", "llm", "time"):
        args = parser.parse_args([command, "gpt2", "--trust-remote-code"])
        assert args.trust_remote_code is True
        assert parser.parse_args([command, "gpt2"]).trust_remote_code is False


# ---------------------------------------------------------------- 4. terminal injection


def test_clean_and_safe_remove_escapes_and_markup():
    assert clean("a\x1b[31mred\x1b[0m") == "ared"
    assert clean("x\x1b]8;;https://evil\x1b\\link\x1b]8;;\x1b\\y") == "xlinky"
    assert clean("bell\x07 back\x08 del\x7f c1\x9b31m") == "bell back del c1"
    assert clean("rtl\u202eoverride\u2066") == "rtloverride"
    assert clean("tab\there\nnewline") == "tab here\nnewline"
    assert safe("[/]") == "\\[/]" and safe("[link=x]y[/link]") == "\\[link=x]y\\[/link]"
    assert for_plot("cost $5 $x$") == r"cost \$5 \$x\$"


def _evil_model_file(tmp_path: Path) -> Path:
    source = tmp_path / "evil_names.py"
    source.write_text(textwrap.dedent(f"""
        import torch
        from torch import nn

        NAMES = {EVIL_NAMES!r}


        def load_model():
            model = nn.Sequential()
            for name in NAMES:
                model.add_module(name, nn.Linear(4, 4))
            return model


        def get_inputs():
            return torch.zeros(1, 4)
    """))
    return source


def _assert_literal(text: str) -> None:
    assert "\x1b" not in text and "\u202e" not in text
    assert "[/]" in text and "[link=https://evil]click[/link]" in text


def test_module_names_render_literally_in_profile_and_unique(tmp_path, capsys):
    source = _evil_model_file(tmp_path)
    assert main(["profile", f"{source}::load_model", "--depth", "1", "--top", "3"]) == 0
    _assert_literal(capsys.readouterr().out)
    assert main(["unique", f"{source}::load_model", "--level", "aten",
                 "--dir", str(tmp_path / "u")]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "Sequential" in out


def test_tensor_names_render_literally_in_info_and_diff(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")  # wide enough that no name folds (xdist sets 80)
    path = tmp_path / "evil.safetensors"
    save_file({name: torch.ones(2, 2) for name in EVIL_NAMES}, path)
    assert main(["info", str(path)]) == 0
    _assert_literal(capsys.readouterr().out)
    assert main(["diff", str(path), str(path)]) == 0
    _assert_literal(capsys.readouterr().out)


def test_markup_in_a_file_path_does_not_crash(tmp_path, capsys):
    folder = tmp_path / "[bold]x["  # the path holds "[bold]x[/]w.safetensors"
    folder.mkdir()
    path = folder / "]w.safetensors"
    save_file({"w": torch.ones(2)}, path)
    assert main(["info", str(path)]) == 0
    assert "[bold]x[/]w.safetensors" in capsys.readouterr().out.replace("\n", "")


# ---------------------------------------------------------------- 5. CSV formula injection


@pytest.mark.parametrize("cell, written", [
    ("=1+1", "'=1+1"), ("+SUM(A1)", "'+SUM(A1)"), ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"),
    ("@SUM(1)", "'@SUM(1)"), ("\t=1", "' =1"), ("\r=1", "'=1"), ("plain", "plain"),
    ("-1.5", "-1.5"), ("-2e5", "-2e5"), ("-", "-"), (-3, -3), (-0.25, -0.25),
])
def test_csv_cell_neutralises_formulas_and_keeps_numbers(cell, written):
    assert csv_cell(cell) == written


def test_every_csv_cell_and_header_passes_the_rule():
    text = to_csv([{"=name": "=cmd()", "value": -1.5, "shape": [2, 3], "none": None}])
    rows = list(csv.reader(stdio.StringIO(text)))
    assert rows == [["'=name", "value", "shape", "none"], ["'=cmd()", "-1.5", "2x3", ""]]


def test_profile_csv_of_a_model_with_formula_names(tmp_path):
    source = _evil_model_file(tmp_path)
    out = tmp_path / "m.csv"
    assert main(["profile", f"{source}::load_model", "--format", "csv", "-o", str(out),
                 "-q"]) == 0
    cells = [c for row in csv.reader(out.open()) for c in row]
    assert not any(c.startswith(("=", "+", "@", "\t", "\r")) for c in cells)
    assert any(c.startswith("'=HYPERLINK") for c in cells)
    assert not any("\x1b" in c for c in cells)


# ---------------------------------------------------------------- 6, 7. outputs checked first


def test_output_equal_to_the_input_is_refused_and_the_input_kept(tmp_path, capsys):
    path = tmp_path / "w.safetensors"
    save_file({"w": torch.ones(2)}, path)
    before = path.read_bytes()
    assert main(["info", str(path), "--format", "json", "-o", str(path)]) == 2
    assert "refusing to overwrite an input" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_transformer_out_dir_holding_the_config_is_refused(tmp_path, capsys):
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"embed_dim": 8, "num_heads": 2}))
    assert main(["transformer", str(config), "--out-dir", str(tmp_path)]) == 2
    assert "refusing to overwrite an input" in capsys.readouterr().err
    assert json.loads(config.read_text()) == {"embed_dim": 8, "num_heads": 2}


@pytest.mark.parametrize("argv, needle", [
    (["profile", "not-a-model", "-o", "{dir}"], "is a directory"),
    (["profile", "not-a-model", "--format", "json", "-o", "{file}/p.json"], "is a file"),
    (["report", "not-a-model", "--plot-dir", "{file}/plots"], "is a file"),
    (["report", "not-a-model", "--plot-dir", "{file}"], "is not a directory"),
    (["report", "not-a-model", "--plot", "{dir}"], "is a directory"),
    (["info", "not-a-model", "--plot", "{dir}"], "is a directory"),
    (["llm", "not-a-model", "--plot", "{file}/x.png"], "is a file"),
    (["matrices", "not-a-model", "-o", "{file}/m.json"], "is a file"),
    (["unique", "not-a-model", "--dir", "{file}"], "is not a directory"),
    (["transformer", "not-a-config.json", "--out-dir", "{file}"], "is not a directory"),
    (["discover", "--limit", "1", "--markdown", "{file}/c.md"], "is a file"),
    (["discover", "--limit", "1", "--generate-examples", "{dir}"], "is a directory"),
    (["discover", "--limit", "1", "-o", "{dir}"], "is a directory"),
])
def test_unwritable_outputs_are_usage_errors_before_any_work(tmp_path, capsys, argv, needle):
    # the model does not exist (or the sweep would take long): an error about it, or a run
    # of the sweep, would mean the work had started before the output was checked
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    argv = [a.format(dir=tmp_path / "dir", file=tmp_path / "file") for a in argv]
    started = time.perf_counter()
    assert main(argv) == 2
    assert needle in capsys.readouterr().err
    assert time.perf_counter() - started < 20
    assert (tmp_path / "file").read_text() == "x"


def test_models_json_to_a_fifo_and_to_stdout(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    proc = subprocess.Popen([sys.executable, "-m", "modellens.cli", "models", "--search",
                             "gpt2", "--format", "json", "-o", str(fifo), "-q"], cwd=REPO)
    with open(fifo) as reader:
        data = json.loads(reader.read())
    assert proc.wait(timeout=60) == 0 and data["models"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    code, out, _ = run("models", "--search", "gpt2", "--format", "json", "-o", "-", "-q")
    assert code == 0 and json.loads(out)["models"]


# ---------------------------------------------------------------- 9. non-regular inputs


@pytest.mark.parametrize("name", ["pipe", "pipe.safetensors", "pipe.pt"])
def test_info_on_a_fifo_is_refused_at_once(tmp_path, name):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    code, _, err = run("info", fifo, timeout=60)
    assert code == 1 and "is a FIFO" in one_line(err)


@pytest.mark.skipif(not ROOT, reason="os.mknod of a character device needs root")
@pytest.mark.parametrize("name", ["zero", "zero.safetensors"])
def test_info_on_a_character_device_is_refused_at_once(tmp_path, name):
    zero = tmp_path / name  # /dev/zero's device numbers, made here
    os.mknod(zero, stat.S_IFCHR | 0o666, os.makedev(1, 5))
    code, _, err = run("info", zero, timeout=60)
    assert code == 1 and "is a character device" in one_line(err)


# ---------------------------------------------------------------- 11. many tensors: linear


def test_many_tensors_read_each_header_once_in_linear_time(tmp_path, monkeypatch):
    from modellens.measure import safetensors_format
    from modellens.measure.checkpoints import open_checkpoint
    from modellens.tasks.model_info import collect_model_info

    parses = []
    original = safetensors_format.read_header
    monkeypatch.setattr(safetensors_format, "read_header",
                        lambda file: parses.append(file) or original(file))
    seconds = {}
    for n in (2000, 8000):
        path = tmp_path / f"t{n}.safetensors"
        save_file({f"layers.{i}.w": torch.full((2,), float(i)) for i in range(n)}, path)
        started = time.perf_counter()
        info = collect_model_info(open_checkpoint(path))
        seconds[n] = time.perf_counter() - started
        assert info.num_layers == n and info.layers[n - 1].mean == n - 1
    assert len(parses) == 2  # once per file, not once per tensor read
    assert seconds[8000] < 8 * seconds[2000] + 1.0  # quadratic would be 16x


# ---------------------------------------------------------------- 12. shard paths stay inside


@pytest.mark.parametrize("shard", ["../outside.safetensors", "/etc/passwd",
                                   "sub/../../outside.safetensors", "~/x.safetensors", 7])
def test_shard_index_paths_must_stay_in_the_directory(tmp_path, shard):
    from modellens.measure.checkpoints import open_checkpoint

    model = tmp_path / "model"
    model.mkdir()
    save_file({"w": torch.ones(2)}, tmp_path / "outside.safetensors")
    (model / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"w": shard}}))
    with pytest.raises(CheckpointError, match="leaves the model directory|not a file name"):
        open_checkpoint(model)


def test_shards_in_a_subdirectory_are_fine(tmp_path):
    from modellens.measure.checkpoints import open_checkpoint

    (tmp_path / "sub").mkdir()
    save_file({"w": torch.ones(2)}, tmp_path / "sub" / "a.safetensors")
    (tmp_path / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"w": "sub/a.safetensors"}}))
    assert [e.name for e in open_checkpoint(tmp_path).entries] == ["w"]


# ---------------------------------------------------------------- 13. YAML alias bombs

BOMB = "\n".join(["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
                 + [f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi")]
                 + ["chips: {x: {name: bomb, peak_flops: {fp32: *i}}}"])


def test_yaml_alias_bomb_is_refused_in_one_line(tmp_path):
    from modellens.hardware import load_chips

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    assert len(BOMB) < 600
    with pytest.raises(HardwareError, match="aliases are not allowed.*line 2: alias \\*a"):
        load_chips(str(bomb))
    code, _, err = run("hardware", "--file", bomb, "--format", "json", timeout=60)
    assert code == 1 and "aliases are not allowed" in one_line(err)


def test_hardware_yaml_fifo_is_refused(tmp_path):
    from modellens.hardware import load_chips

    fifo = tmp_path / "chips.yaml"
    os.mkfifo(fifo)
    with pytest.raises(HardwareError, match="not a regular file"):
        load_chips(str(fifo))


# ---------------------------------------------------------------- 21. dtypes and file names


def _safetensors_bytes(tensors: dict[str, tuple[str, list[int], int]]) -> bytes:
    """A file by hand: name -> (dtype, shape, byte count), zero-filled data."""
    header, offset = {}, 0
    for name, (dtype, shape, size) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + bytes(offset)


def test_sub_byte_and_e8m0_dtypes_have_their_real_sizes(tmp_path):
    from modellens.measure.checkpoints import open_checkpoint
    from modellens.tasks.model_info import collect_model_info

    path = tmp_path / "mx.safetensors"
    path.write_bytes(_safetensors_bytes({
        "w4": ("F4", [64, 32], 64 * 32 // 2), "w6": ("F6_E2M3", [64, 32], 64 * 32 * 3 // 4),
        "scales": ("F8_E8M0", [64, 1], 64), "w8": ("F8_E4M3", [16], 16),
    }))
    store = open_checkpoint(path)
    sizes = {e.name: (e.spec.nbytes, e.is_buffer) for e in store.entries}
    assert sizes == {"w4": (1024, False), "w6": (1536, False), "scales": (64, False),
                     "w8": (16, False)}
    info = collect_model_info(store)
    assert info.params_bytes == 1024 + 1536 + 64 + 16 and not info.warnings
    assert any("F4, F6_E2M3" in note for note in info.notes)


def test_wrong_byte_count_for_a_dtype_is_a_clear_error(tmp_path):
    from modellens.measure.checkpoints import open_checkpoint

    path = tmp_path / "bad.safetensors"
    path.write_bytes(_safetensors_bytes({"w": ("F4", [64], 64)}))  # F4 takes 32 bytes
    with pytest.raises(CheckpointError, match="should take 32 bytes"):
        open_checkpoint(path)


def test_non_utf8_file_name_is_read(tmp_path, capsys):
    path = tmp_path / os.fsdecode(b"w\xff\xfe.safetensors")
    save_file({"w": torch.ones(2, 2)}, tmp_path / "plain.safetensors")
    os.rename(tmp_path / "plain.safetensors", path)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "truncated or corrupt" not in out and "4" in out
    assert main(["info", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["total_params"] == 4


# ---------------------------------------------------------------- 23. formats and usage errors

HTML_COMMANDS = {"profile", "report", "compare", "unique"}  # unique: with --run-on
MARKDOWN_COMMANDS = {"profile", "compare", "matrices", "llm"}
LATEX_COMMANDS = MARKDOWN_COMMANDS


def test_format_offers_only_what_each_command_implements():
    from modellens.commands import COMMANDS

    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    for command in COMMANDS:
        formats = next(a for a in subparsers[command]._actions if a.dest == "format").choices
        expected = ({"table", "json", "csv"} | ({"html"} if command in HTML_COMMANDS else set())
                    | ({"markdown"} if command in MARKDOWN_COMMANDS else set())
                    | ({"latex"} if command in LATEX_COMMANDS else set()))
        assert set(formats) == expected, command


def test_unique_without_a_model_is_a_fast_usage_error():
    code = ("import sys; from modellens.cli import main; rc = main(['unique']); "
            "print('torch' in sys.modules); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=REPO)
    assert proc.returncode == 2 and proc.stdout.strip() == "False"
    assert "no model" in one_line(proc.stderr)
