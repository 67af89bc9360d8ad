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
    ["report", f"{TINY}::load_model", "--plot", "plots"],
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
