"""Export formats and consistent flags (issue 22): the JSON Schemas, CSV parent links and
--depth, markdown and LaTeX views, --hardware a,b,c, --unit macs in the top ops, block-replay
notes behind --verbose."""

import csv
import io
import json
import re
from pathlib import Path

import pytest

from modellens.cli import main

DATA = Path(__file__).parent / "data"
TINY = DATA / "tiny_model.py"
LLM = ["llm", "gpt2", "--prompt-len", "64", "--gen-len", "2", "--no-training"]


def _run(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


# ---------------------------------------------------------------- JSON Schemas


def test_schemas_are_valid_draft_2020_12_and_shipped_as_package_data():
    import jsonschema

    import modellens

    for name in ("profile", "llm", "compare", "matrices"):
        jsonschema.Draft202012Validator.check_schema(modellens.schema(name))
    text = (Path(__file__).parent.parent / "pyproject.toml").read_text()
    assert '"schemas/*.json"' in text and "jsonschema" in text
    with pytest.raises(modellens.ModellensError, match="no schema named 'report'"):
        modellens.schema("report")


@pytest.mark.parametrize("spec,backward", [("gpt2", False), ("tv:resnet18", True)])
def test_real_profile_documents_match_the_schema(profiled, spec, backward):
    import modellens

    result = profiled(spec, backward=backward)
    document = json.loads(json.dumps(result.to_dict()))
    modellens.validate(document, "profile")
    assert (document["flops"]["backward"] is not None) == backward
    # the schema catches what it promises: a count as text, a missing key, an unknown key
    broken = json.loads(json.dumps(document))
    broken["flops"]["forward"] = "32 G"
    with pytest.raises(modellens.ModellensError, match="flops/forward"):
        modellens.validate(broken, "profile")
    del broken["flops"]
    with pytest.raises(modellens.ModellensError, match="'flops' is a required property"):
        modellens.validate(broken, "profile")
    with pytest.raises(modellens.ModellensError, match="extra"):
        modellens.validate({**document, "extra": 1}, "profile")


def test_cli_json_of_profile_compare_matrices_and_llm_match_their_schemas(capsys):
    import modellens

    for name, argv in (
        ("profile", ["profile", f"{TINY}::load_model", "--backward", "--hardware", "a100,h100"]),
        ("compare", ["compare", f"{TINY}::load_model", "tv:resnet18"]),
        ("matrices", ["matrices", "gpt2", "tv:resnet18", "--seq-len", "16"]),
        ("llm", [*LLM, "--hardware", "a100,h100"]),
    ):
        modellens.validate(json.loads(_run(capsys, *argv, "--format", "json")), name)


# ---------------------------------------------------------------- CSV


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_profile_csv_parent_links_resolve_and_depth_is_honoured(capsys, profiled, depth):
    rows = list(csv.DictReader(io.StringIO(
        _run(capsys, "profile", "tv:resnet18", "--format", "csv", "--depth", str(depth)))))
    expected = [m for m in profiled("tv:resnet18").modules if m.depth <= depth]
    assert len(rows) == len(expected) and max(int(r["depth"]) for r in rows) == depth
    paths = {r["path"] for r in rows}
    root = rows[0]
    assert root["path"] == "(root)" and root["parent"] == ""
    for row in rows[1:]:
        assert row["parent"] in paths, row["path"]
        parent = next(r for r in rows if r["path"] == row["parent"])
        assert int(parent["depth"]) == int(row["depth"]) - 1
    # children's params sum to the parent's own-less total (the links mean what they say)
    children = [r for r in rows if r["parent"] == "(root)"]
    assert sum(int(r["params"]) for r in children) + int(root["own_params"]) == int(root["params"])


# ---------------------------------------------------------------- markdown and LaTeX


def _latex_tables(text: str) -> list[tuple[str, list[str]]]:
    """(column spec, body lines) of every tabular."""
    found = re.findall(r"\\begin\{tabular\}\{([lr]+)\}\n(.*?)\\end\{tabular\}", text, re.S)
    return [(spec, [line for line in body.splitlines() if line.endswith(r"\\")])
            for spec, body in found]


def _check_latex(text: str, tables: int) -> list[tuple[str, list[str]]]:
    assert text.isascii(), [c for c in text if not c.isascii()][:5]
    assert text.count(r"\begin{table}") == text.count(r"\end{table}") == tables
    found = _latex_tables(text)
    assert len(found) == tables
    for spec, lines in found:
        assert r"\toprule" not in lines  # rules are their own lines
        for line in lines:  # every row has as many cells as the spec has columns
            assert len(re.split(r"(?<!\\)&", line)) == len(spec), line
    assert text.count(r"\toprule") == text.count(r"\midrule") == text.count(r"\bottomrule")
    return found


def test_profile_latex_is_booktabs_with_escaped_cells(capsys, profiled):
    text = _run(capsys, "profile", "tv:resnet18", "--format", "latex", "--depth", "1",
                "--top", "3", "--hardware", "a100,h100")
    tables = _check_latex(text, 4)  # summary, modules, top ops, time per chip
    assert r"\usepackage{booktabs}" in text
    result = profiled("tv:resnet18")
    spec, modules = tables[1]
    assert spec == "llrrr" and len(modules) == 1 + sum(m.depth <= 1 for m in result.modules)
    assert r"\hspace{1em}\texttt{layer1} & Sequential" in text
    assert r"$\mu$s" in text or " ms " in text  # the unit survives, as ASCII
    assert "(depth $\\leq$ 1; inclusive)" in text


def test_latex_escapes_every_special_character():
    from modellens.report.latex import escape

    assert escape("a_b & 50% #1 $x {y} ~ ^ \\") == (
        r"a\_b \& 50\% \#1 \$x \{y\} \textasciitilde{} \textasciicircum{} \textbackslash{}")
    assert escape("1.2 µs × 3 ≤ 4 café") == r"1.2 $\mu$s $\times$ 3 $\leq$ 4 cafe"


def test_compare_matrices_and_llm_have_markdown_and_latex(capsys):
    compare = ["compare", f"{TINY}::load_model", "tv:resnet18"]
    md = _run(capsys, *compare, "--format", "markdown")
    assert md.splitlines()[0] == f"|  | `{TINY}::load_model` | `tv:resnet18` |"
    (spec, rows), = _check_latex(_run(capsys, *compare, "--format", "latex"), 1)
    assert spec == "lrr" and rows[0].startswith(r" & \texttt{")
    assert any(r.startswith("Params & ") and "11.69 M" in r for r in rows)

    matrices = ["matrices", "gpt2", "tv:resnet18", "--seq-len", "16"]
    md = _run(capsys, *matrices, "--format", "markdown")
    gpt2 = next(line for line in md.splitlines() if line.startswith("| `gpt2`"))
    assert "| 49 |" in gpt2 and "| 123,614,976 |" in gpt2  # 12 layers × 4 + lm_head
    (spec, rows), = _check_latex(_run(capsys, *matrices, "--format", "latex"), 1)
    assert spec == "lrrrrrrr" and rows[1].startswith(r"\texttt{gpt2} & 49 & ")

    md = _run(capsys, *LLM, "--format", "markdown")
    assert md.startswith("## gpt2 on NVIDIA A100") and "### Decode (one step, whole batch)" in md
    data = json.loads(_run(capsys, *LLM, "--format", "json"))
    context = data["decode"]["points"][0]["context"]
    assert re.search(rf"^\| {context} \| ", md, re.M)  # the decode row at the captured context
    _check_latex(_run(capsys, *LLM, "--format", "latex"), 3)


def test_format_follows_a_tex_extension(tmp_path):
    path = tmp_path / "p.tex"
    assert main(["profile", f"{TINY}::load_model", "-o", str(path), "-q"]) == 0
    assert path.read_text().startswith("% modellens output")


# ---------------------------------------------------------------- --hardware a,b,c


def test_profile_on_several_chips(capsys, profiled, monkeypatch):
    data = json.loads(_run(capsys, "profile", "tv:resnet18", "--backward", "--format", "json",
                           "--hardware", "a100,h100,l4"))
    assert [c["id"] for c in data["chips"]] == ["a100-sxm-80gb", "h100-sxm", "l4"]
    assert data["chips"][0]["bottleneck"] == data["bottleneck"]  # the first is `hardware`
    alone = profiled("tv:resnet18", backward=True, hardware="h100")  # timed on its own
    h100 = data["chips"][1]
    assert h100["bottleneck"]["predicted_time_s"] == pytest.approx(
        alone.bottleneck.predicted_time_s, rel=1e-12)
    assert h100["backward_bottleneck"]["predicted_time_s"] == pytest.approx(
        alone.backward_bottleneck.predicted_time_s, rel=1e-12)
    single = json.loads(_run(capsys, "profile", "tv:resnet18", "--format", "json"))
    assert "chips" not in single  # one chip: the document as before
    page = _run(capsys, "profile", f"{TINY}::load_model", "--format", "html",
                "--hardware", "a100,h100")
    assert '"id":"a100-sxm-80gb"' in page and '"id":"h100-sxm"' in page  # a roofline each
    monkeypatch.setenv("COLUMNS", "80")
    out = _run(capsys, "profile", "tv:resnet18", "--hardware", "a100,h100,l4", "--top", "0")
    assert max(map(len, out.splitlines())) <= 80
    table = out[out.index("PREDICTED TIME PER CHIP"):]
    for chip in ("a100-sxm-80gb", "h100-sxm", "l4"):
        assert re.search(rf"{chip} +forward", table), chip


def test_llm_on_several_chips(capsys, monkeypatch):
    from modellens.tasks.llm import llm_cost

    kwargs = dict(prompt_len=64, gen_len=2, decode_points=1, training=False)
    report = llm_cost("gpt2", hardware=["a100", "h100"], **kwargs)
    first, second = report.chips
    assert first.time_to_first_token_s == report.time_to_first_token_s
    assert first.decode_tokens_per_second == report.decode_tokens_per_second
    assert first.max_batch == report.max_batch
    alone = llm_cost("gpt2", hardware="h100", **kwargs)  # its own captures
    assert not alone.chips and alone.to_dict().get("chips") is None
    assert second.chip.id == "h100-sxm"
    assert second.time_to_first_token_s == pytest.approx(alone.time_to_first_token_s, rel=1e-9)
    assert second.end_to_end_s == pytest.approx(alone.end_to_end_s, rel=1e-9)
    assert second.max_context == alone.max_context and second.fits == alone.fits
    monkeypatch.setenv("COLUMNS", "80")
    out = _run(capsys, *LLM, "--hardware", "a100,h100,l4")
    assert max(map(len, out.splitlines())) <= 80
    table = out[out.index("PER CHIP"):]
    assert all(chip in table for chip in ("a100-sxm-80gb", "h100-sxm", "l4"))


def test_llm_training_tokens_per_day_scale_with_each_chips_peak():
    from modellens.hardware import get_chip
    from modellens.tasks.llm import llm_cost

    report = llm_cost("gpt2", prompt_len=64, gen_len=2, decode_points=1, train_seq_len=64,
                      hardware=["a100", "h100"])
    a100, h100 = report.chips
    assert a100.training_tokens_per_day == pytest.approx(report.training_tokens_per_day)
    ratio = get_chip("h100").peak("bfloat16") / get_chip("a100").peak("bfloat16")  # 989.4 / 312
    assert h100.training_tokens_per_day / a100.training_tokens_per_day == pytest.approx(ratio)


# ---------------------------------------------------------------- --unit, --verbose


def test_unit_macs_applies_to_the_top_ops(capsys, profiled, monkeypatch):
    from modellens import units

    monkeypatch.setenv("COLUMNS", "120")
    out = _run(capsys, "profile", "tv:resnet18", "--unit", "macs", "--top", "1")
    top = profiled("tv:resnet18").top_ops("flops", 1)[0]
    section = out[out.index("TOP 1 OPS BY MATMUL-CLASS MACS"):]
    lines = section.splitlines()
    at = next(i for i, line in enumerate(lines) if "Op" in line and "Module" in line)
    header = "\n".join(lines[at - 1:at + 1])  # two-line headers: "MACs" over "(matmul)"
    assert "MACs" in header and "FLOPs " not in header
    assert units.count(top.flops // 2) in section and units.count(top.flops) not in section
    monkeypatch.setenv("COLUMNS", "80")
    narrow = _run(capsys, "profile", "tv:resnet18", "--unit", "macs", "--top", "1")
    assert max(map(len, narrow.splitlines())) <= 80
    assert units.count(top.flops // 2) in narrow[narrow.index("TOP 1 OPS BY MATMUL-CLASS MACS"):]
    md = _run(capsys, "profile", "tv:resnet18", "--unit", "macs", "--top", "1", "--format",
              "markdown")
    assert f"| {units.count(top.flops // 2)} |" in md.split("### Top 1 ops by matmul-class MACs")[1]


def test_block_replay_notes_only_with_verbose(capsys):
    quiet = _run(capsys, "profile", "gpt2", "--top", "0", "--depth", "0")
    loud = _run(capsys, "profile", "gpt2", "--top", "0", "--depth", "0", "--verbose")
    assert "replayed the rest" not in quiet
    assert "12 identical GPT2Block blocks" in loud
    data = json.loads(_run(capsys, "profile", "gpt2", "--format", "json", "--top", "0"))
    assert any("replayed the rest" in note for note in data["notes"])  # the data keeps it
    assert "replayed the rest" not in _run(capsys, "matrices", "gpt2", "--seq-len", "16")


def test_help_is_in_user_words(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "seed" not in out.lower()
    assert "transformer" in out


def test_report_plot_is_one_png_and_plot_dir_every_plot(tmp_path):
    pytest.importorskip("matplotlib")
    png, directory = tmp_path / "roofline.png", tmp_path / "plots"
    assert main(["report", f"{TINY}::load_model", "-o", str(tmp_path / "r.html"), "-q",
                 "--plot", str(png), "--plot-dir", str(directory)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {p.name for p in directory.iterdir()} == {"roofline.png", "layers.png", "memory.png"}


def test_a_sweep_on_several_chips_is_a_usage_error(capsys):
    assert main(["profile", "gpt2", "--seq-len", "16,32", "--hardware", "a100,h100"]) == 2
    assert "one chip" in capsys.readouterr().err
