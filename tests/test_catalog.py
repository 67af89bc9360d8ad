"""The offline catalog: every entry's parameter count equals the one its index records, the
`models` listing filters and imports no torch, and aliases resolve."""

import json
import subprocess
import sys

import pytest

from modellens.cli import main
from modellens.sources import catalog_index, hf

INDEX = catalog_index.index()
FAST = ["Qwen/Qwen3-8B", "meta-llama/Llama-3.1-8B", "google/gemma-2-2b-it",
        "microsoft/Phi-3.5-mini-instruct", "HuggingFaceTB/SmolLM2-135M", "openai/clip-vit-base-patch32",
        "EleutherAI/gpt-j-6b", "microsoft/phi-4", "Qwen/Qwen1.5-MoE-A2.7B-Chat"]


def test_every_catalog_entry_is_indexed():
    names = hf.catalog_names()
    assert sorted(INDEX) == names
    for name in names:
        entry = INDEX[name]
        assert {"source", "family", "params", "params_source", "context", "architecture"} <= set(entry)
        assert isinstance(entry["params"], int) and entry["params"] > 0
        assert entry["architecture"] == (hf.catalog_config(name).get("architectures") or [None])[0]


@pytest.mark.parametrize("spec", FAST)
def test_counted_params_equal_the_index(profiled, spec):
    assert profiled(spec).params.total == INDEX[spec]["params"]


@pytest.mark.slow
@pytest.mark.parametrize("spec", sorted(set(INDEX) - set(FAST)))
def test_counted_params_equal_the_index_for_every_entry(profiled, spec):
    assert profiled(spec).params.total == INDEX[spec]["params"]


def test_published_counts_equal_the_index_or_the_note_gives_the_gap():
    published = {name: e for name, e in INDEX.items() if "published_params" in e}
    assert len(published) >= 45
    for name, entry in published.items():
        gap = entry["published_params"] - entry["params"]
        assert gap == 0 or str(abs(gap)) in entry.get("params_note", ""), name


def _listed(capsys, *args) -> list[dict]:
    assert main(["models", "--format", "json", *args]) == 0
    return json.loads(capsys.readouterr().out)["models"]


def test_models_search_lists_only_matching_ids(capsys):
    rows = _listed(capsys, "--search", "qwen3")
    assert rows and all("qwen3" in row["spec"].lower() for row in rows)
    assert "Qwen/Qwen3-30B-A3B" in {row["spec"] for row in rows}
    assert "Qwen/Qwen2.5-7B" not in {row["spec"] for row in rows}


def test_models_family_filters_and_rows_come_from_the_index(capsys):
    rows = _listed(capsys, "--family", "llama")
    assert {row["family"] for row in rows} == {"llama"}
    assert "meta-llama/Llama-3.1-405B" in {row["spec"] for row in rows}
    row = next(r for r in rows if r["spec"] == "meta-llama/Llama-3.1-8B")
    assert row["params"] == INDEX["meta-llama/Llama-3.1-8B"]["params"]
    assert (row["context"], row["architecture"]) == (131072, "LlamaForCausalLM")


def test_models_lists_the_new_families(capsys):
    dinov2 = _listed(capsys, "--family", "dinov2")
    assert {r["spec"] for r in dinov2} == {"facebook/dinov2-small", "facebook/dinov2-base",
                                           "facebook/dinov2-giant"}
    assert {(r["architecture"], r["context"]) for r in dinov2} == {("Dinov2Model", None)}
    phi = {r["spec"]: r for r in _listed(capsys, "--family", "phi")}
    assert {"microsoft/phi-4", "microsoft/Phi-4-mini-instruct", "microsoft/Phi-3-mini-4k-instruct",
            "microsoft/Phi-3-medium-4k-instruct", "microsoft/Phi-3.5-mini-instruct"} <= set(phi)
    assert (phi["microsoft/phi-4"]["context"], phi["microsoft/Phi-4-mini-instruct"]["context"]) == (16384, 131072)
    falcon = _listed(capsys, "--family", "falcon")
    assert [(r["spec"], r["context"]) for r in falcon] == [("tiiuae/Falcon3-7B-Instruct", 32768)]
    moe = _listed(capsys, "--search", "MoE-A2.7B")
    assert [(r["spec"], r["family"], r["architecture"]) for r in moe] == [
        ("Qwen/Qwen1.5-MoE-A2.7B-Chat", "qwen", "Qwen2MoeForCausalLM")]


def test_models_csv_and_table(capsys):
    assert main(["models", "--family", "gpt-oss", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("spec,family,params,context,architecture") and len(lines) == 3
    assert main(["models", "--search", "smollm2"]) == 0
    assert "SmolLM2-135M" in capsys.readouterr().out


def test_models_imports_no_torch():
    code = ("import sys, io, contextlib\nfrom modellens.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    assert main(['models']) == 0\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n"
            "assert 'transformers' not in sys.modules, 'transformers imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("alias, target", [
    ("meta-llama/Meta-Llama-3.1-8B", "meta-llama/Llama-3.1-8B"),
    ("meta-llama/Meta-Llama-3.1-70B", "meta-llama/Llama-3.1-70B"),
    ("meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B"),
    ("google/gemma-3-1b-pt", "google/gemma-3-1b-it"),
    ("openai-community/gpt2", "gpt2"),
    ("meta-llama/Llama-2-13b-chat-hf", "meta-llama/Llama-2-13b-hf"),
    ("microsoft/Phi-4", "microsoft/phi-4"),
    ("Qwen/Qwen1.5-MoE-A2.7B", "Qwen/Qwen1.5-MoE-A2.7B-Chat"),
])
def test_aliases_resolve(alias, target):
    assert catalog_index.resolve(alias) == target
    assert hf.in_catalog(alias)
    assert hf.catalog_config(alias) == hf.catalog_config(target)


def test_every_alias_names_a_catalog_entry():
    names = set(hf.catalog_names())
    assert {target for target in catalog_index.aliases().values()} <= names
    assert not set(catalog_index.aliases()) & names  # an alias never shadows an entry
