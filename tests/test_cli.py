"""End-to-end CLI: outputs, formats and one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from modellens.cli import main

DATA = Path(__file__).parent / "data"
TINY = DATA / "tiny_model.py"


def run(*argv):
    """Run the CLI in a subprocess; return (exit code, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "modellens.cli", *map(str, argv)],
                          capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def assert_one_line_error(code, stderr, *needles):
    assert code != 0
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.parametrize(
    "argv, needles",
    [
        (["profile", "gtp2"], ["unknown model 'gtp2'", "gpt2"]),
        (["profile", "tv:resnet5O"], ["unknown torchvision model", "resnet50"]),
        (["profile", "missing_file.py::load"], ["file not found"]),
        (["profile", f"{TINY}::missing_fn"], ["no function 'missing_fn'", "load_model"]),
        (["profile", f"{TINY}::raises"], ["raised RuntimeError", "boom from user code"]),
        (["profile", f"{TINY}::not_a_model"], ["not a torch.nn.Module"]),
        (["profile", f"{TINY}::load_model", "--inputs", f"{TINY}::wrong_inputs"],
         ["inputs must be a tensor"]),
        (["profile", f"{TINY}::load_uncapturable", "--inputs", f"{TINY}::get_small_inputs"],
         ["could not capture", "this model always fails in forward"]),
        (["profile", "gpt2", "--hardware", "h1000"], ["unknown hardware 'h1000'", "h100"]),
        (["profile", "gpt2", "--dtype", "float12"], ["unknown dtype"]),
        (["profile", "gpt2", "--seq-len", "0"], ["--seq-len", "positive integer"]),
    ],
)
def test_bad_input_gives_one_line_error(argv, needles):
    code, _, stderr = run(*argv)
    assert_one_line_error(code, stderr, *needles)


def test_profile_json_schema(tmp_path):
    out = tmp_path / "p.json"
    assert main(["profile", f"{TINY}::load_model", "--format", "json", "-o", str(out), "-q"]) == 0
    data = json.loads(out.read_text())
    for key in ("schema_version", "model", "capture_method", "inputs", "params", "flops", "macs",
                "memory", "hardware", "bottleneck", "modules", "ops"):
        assert key in data
    assert set(data["params"]) >= {"total", "trainable", "non_trainable", "by_dtype"}
    assert set(data["flops"]) >= {"forward", "forward_all", "backward"}
    assert set(data["memory"]) >= {"weights_bytes", "inputs_bytes", "outputs_bytes",
                                   "activations_bytes", "peak_activations_bytes"}
    # seed 002 model: conv 3->64 then 64->64 at 224x224, MACs = out pixels * k*k*cin * cout
    pixels = 224 * 224
    macs = pixels * 9 * 3 * 64 + pixels * 9 * 64 * 64
    assert data["macs"]["forward"] == macs
    assert data["params"]["total"] == (3 * 9 * 64 + 64) + (64 * 9 * 64 + 64) + 4 * 64


def test_profile_table_and_csv(tmp_path, capsys):
    assert main(["profile", f"{TINY}::load_model", "--depth", "1", "--showshape"]) == 0
    table = capsys.readouterr().out
    assert "PARAMETERS" in table and "BOTTLENECK" in table and "Conv2d" in table
    csv_path = tmp_path / "m.csv"
    assert main(["profile", f"{TINY}::load_model", "--format", "csv", "-o", str(csv_path), "-q"]) == 0
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("path,class_name,depth")
    assert len(lines) == 1 + 7  # header + root + 6 layers


def test_help_of_every_command():
    code, out, _ = run("--help")
    assert code == 0 and "profile" in out
    from modellens.commands import COMMANDS

    for command in COMMANDS:
        code, out, _ = run(command, "--help")
        assert code == 0 and "--format" in out, command


def test_import_and_help_do_not_load_model_libraries():
    code = ("import sys, modellens, modellens.cli; modellens.cli.build_parser(); "
            "bad = [m for m in ('transformers', 'torchvision', 'ultralytics', 'timm', 'torch') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_output_is_written_atomically_and_failure_leaves_no_file(tmp_path):
    out = tmp_path / "never.json"
    code, _, _ = run("profile", "not-a-model", "--format", "json", "-o", out)
    assert code != 0
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["matrices", "info", "llm", "transformer"])
def test_format_html_is_not_offered_where_there_is_no_html_view(command, capsys):
    # the model does not exist: an error about it would mean the work had started
    with pytest.raises(SystemExit) as exit_:
        main([command, "not-a-model", "--format", "html"])
    assert exit_.value.code == 2
    assert "invalid choice: 'html'" in capsys.readouterr().err


def test_profile_sweep_refuses_html_before_any_work(capsys):
    assert main(["profile", "not-a-model", "--seq-len", "8,16", "--format", "html"]) == 2
    err = capsys.readouterr().err
    assert err == "modellens: error: profile has no HTML view here; use --format table|json|csv\n"
