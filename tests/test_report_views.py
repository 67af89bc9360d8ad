"""The HTML report's views beyond the basic page: the memory fit per chip, per-module time
for the treemap, the LLM section, `compare --format html` and the porting page; each driven in
headless Chromium (marked `browser`, skipped where no Chromium is installed)."""

import dataclasses
import json
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from modellens import profile
from modellens.analysis.memory_fit import MEMORY_HEADROOM, chip_fits, memory_needs
from modellens.cli import main
from modellens.hardware import get_chip
from modellens.report import html as html_report
from modellens.report import view
from modellens.report.llm_section import BATCHES, llm_section
from modellens.report.porting import render_porting_html
from tests.test_report import (  # noqa: F401 (browser is a fixture)
    GPT2_BLOCK_FLOPS,
    GPT2_BLOCK_PARAMS,
    GPT2_LM_HEAD_FLOPS,
    browser,
    embedded,
    screenshot_dir,
)

DATA = Path(__file__).parent / "data"
PAIR = DATA / "compare_models.py"
GiB = 2**30
GPT2_PARAMS = 124_439_808
# compare_models.py: conv 3*C*9 + C, linear C*16*16*10 + 10 (C = 8 narrow, 32 wide)
NARROW, WIDE = 3 * 8 * 9 + 8 + 2048 * 10 + 10, 3 * 32 * 9 + 32 + 8192 * 10 + 10


def chain():
    """Linear(16, 32) -> ReLU -> Linear(32, 4): 16*32 + 32 + 32*4 + 4 = 676 parameters."""
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))


# ---------------------------------------------------------------- no browser


def test_memory_needs_by_hand():
    """fp32 AdamW: 4 bytes of weights, 4 of gradients, 8 of optimizer states per parameter."""
    params = 16 * 32 + 32 + 32 * 4 + 4
    result = profile(chain(), torch.randn(8, 16), backward=True)
    needs = memory_needs(result.analysis)
    assert result.params.total == params
    assert needs.inference_bytes == 4 * params + result.memory.peak_activations_bytes
    _, saved = result.analysis.activations(("forward", "backward"))
    assert needs.training_measured and needs.training.activations_bytes == saved > 0
    assert needs.training_bytes == 16 * params + saved
    # without a backward: every forward activation counts as kept
    forward = memory_needs(profile(chain(), torch.randn(8, 16)).analysis)
    assert not forward.training_measured
    assert forward.training_bytes == 16 * params + result.memory.activations_bytes


def test_chip_fit_headroom():
    needs = memory_needs(profile(chain(), torch.randn(8, 16)).analysis)
    fits = chip_fits(needs, get_chip("l4"))
    usable = int(24 * GiB * 0.9)  # the L4's 24 GB, 90 % of it usable
    assert MEMORY_HEADROOM == 0.9
    assert fits["inference"].usable_bytes == usable
    assert fits["inference"].headroom_bytes == usable - needs.inference_bytes
    assert fits["training"].headroom_bytes == usable - needs.training_bytes
    assert fits["inference"].fits and fits["training"].fits
    exact = dataclasses.replace(get_chip("l4"), memory_bytes=needs.inference_bytes)
    short = chip_fits(needs, exact)["inference"]  # all of it needed, only 90 % usable
    assert not short.fits and short.headroom_bytes == int(0.9 * needs.inference_bytes) - (
        needs.inference_bytes)


def test_default_chips_and_the_fit_in_the_page(profiled):
    result = profiled("gpt2")
    data = embedded(html_report.render_html(result))
    ids = [c["id"] for c in data["chips"]]
    assert ids == ["a100-sxm-80gb", "h100-sxm", "l4", "rtx-4090"]
    first_h100 = html_report.default_chips(get_chip("h100"))
    assert [c.id for c in first_h100] == ["h100-sxm", "a100-sxm-80gb", "l4", "rtx-4090"]
    fit = data["fit"]
    # GPT-2 small in fp32: 4 bytes per parameter, no buffers
    assert result.memory.weights_bytes == 4 * GPT2_PARAMS
    assert fit["inference_bytes"] == 4 * GPT2_PARAMS + result.memory.peak_activations_bytes
    for chip_id, entry in zip(ids, fit["chips"]):
        capacity = get_chip(chip_id).memory_bytes
        assert entry["inference"]["capacity_bytes"] == capacity
        assert entry["inference"]["headroom_bytes"] == int(0.9 * capacity) - fit["inference_bytes"]
        assert entry["training"]["needed_bytes"] == fit["training_bytes"]


def test_module_times_add_up_to_the_chip_time(profiled):
    """The root's time is the roofline's forward total; identical blocks take equal time; a
    merged node is its count times one block; children never exceed their parent."""
    result = profiled("gpt2")
    chips = [get_chip("h100"), get_chip("l4")]
    times = view.module_times(result, chips)
    for i, chip in enumerate(chips):
        assert times[""][i] == pytest.approx(result.roofline(chip).phase("forward").time_s,
                                             rel=1e-12)
        assert times["transformer.h.0"][i] == pytest.approx(times["transformer.h.7"][i])
    tree, _ = view.module_tree(result, chips=chips)
    blocks = next(n for n in tree.children[0].children if n.name == "h").children[0]
    assert blocks.times == pytest.approx([12 * t for t in times["transformer.h.0"]])

    def check(node):
        for i in range(len(chips)):
            assert sum(c.times[i] for c in node.children) <= node.times[i] * (1 + 1e-9)
        for child in node.children:
            check(child)

    check(tree)


@pytest.fixture(scope="module")
def gpt2_llm():
    from modellens.tasks.llm import llm_cost

    return llm_cost("gpt2", prompt_len=64, gen_len=8, decode_points=2, training=False,
                    hardware="h100")


def test_llm_section_tokens_per_second(gpt2_llm):
    """At the captured batch (1) on llm's own chip, tokens/s is 1 / that decode step's time; on
    two plain-roofline chips it goes as their bandwidths; more sequences per weight read never
    lower the throughput."""
    chips = [get_chip(name) for name in ("h100", "l4", "rtx4090")]
    section = llm_section(gpt2_llm, chips)
    middle = gpt2_llm.decode[len(gpt2_llm.decode) // 2]
    assert section["batches"] == list(BATCHES) and section["batches"][0] == 1
    first = section["per_chip"][0]["tokens_per_second"][0]
    assert first == pytest.approx(1 / middle.step.time_s, rel=1e-9)
    # L4 and RTX 4090 run the plain roofline; a decode step at batch 1 is memory-bound on
    # both, so their throughputs are in the ratio of their bandwidths
    l4, rtx = (entry["tokens_per_second"][0] for entry in section["per_chip"][1:])
    assert l4 / rtx == pytest.approx(chips[1].memory_bandwidth / chips[2].memory_bandwidth,
                                     rel=1e-9)
    for chip, entry in zip(chips, section["per_chip"]):
        rates = entry["tokens_per_second"]
        assert rates == sorted(rates)
        assert entry["usable_bytes"] == int(chip.memory_bytes * 0.9)
    assert section["memory"]["kv_bytes_per_token"] == 2 * 12 * 768 * 2  # K and V, 12 layers, bf16


def test_report_cli_llm_section_only_for_causal_lms(tmp_path):
    out = tmp_path / "r.json"
    tiny = DATA / "tiny_model.py"
    assert main(["report", f"{tiny}::load_model", "--format", "json", "-o", str(out), "-q"]) == 0
    assert json.loads(out.read_text())["llm"] is None
    assert main(["report", "gpt2", "--seq-len", "32", "--no-llm", "--format", "json",
                 "-o", str(out), "-q"]) == 0
    assert json.loads(out.read_text())["llm"] is None


def test_report_leaves_the_llm_section_out_where_llm_refuses(tmp_path, capsys):
    """GPT-2 has 1024 positions: a 900-token prompt profiles, but 900 + 256 generated do not."""
    out = tmp_path / "r.json"
    assert main(["report", "gpt2", "--seq-len", "900", "--format", "json", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["llm"] is None
    assert "LLM section left out: prompt_len + gen_len = 1156 is beyond the model's 1024" in (
        capsys.readouterr().err)


def test_unique_has_html_only_with_run_on(capsys):
    """Refused before any work (the model does not exist: an error about it would mean the
    capture had started)."""
    assert main(["unique", "not-a-model", "--format", "html"]) == 2
    assert capsys.readouterr().err == (
        "modellens: error: unique has no HTML view here; use --format table|json|csv\n")


@pytest.fixture(scope="module")
def compare_page(tmp_path_factory):
    page = tmp_path_factory.mktemp("compare") / "compare.html"
    assert main(["compare", f"{PAIR}::narrow", f"{PAIR}::wide", "--hardware", "h100,l4",
                 "--format", "html", "-o", str(page), "-q"]) == 0
    return page


def test_compare_html_embeds_each_model(compare_page):
    data = embedded(compare_page.read_text())
    assert data["kind"] == "compare" and len(data["models"]) == 2
    assert [m["params"]["total"] for m in data["models"]] == [NARROW, WIDE]
    assert [m["params"] for m in data["compare"]["models"]] == [NARROW, WIDE]
    for model, row in zip(data["models"], data["compare"]["models"]):
        assert [c["id"] for c in model["chips"]] == data["compare"]["chips"] == ["h100-sxm", "l4"]
        assert model["fit"]["training_bytes"] == row["training_memory_bytes"]
        assert model["fit"]["inference_bytes"] == row["inference_memory_bytes"]


@pytest.fixture(scope="module")
def no_conv_result(tmp_path_factory):
    import os

    from modellens.tasks.porting import port
    from tests.test_porting import CNN, MLP, OTHER

    os.environ.setdefault("MODELLENS_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    return port([CNN, MLP, OTHER], "test-no-convolution", cache=False)


def test_porting_page_embeds_the_run(no_conv_result):
    data = embedded(render_porting_html(no_conv_result))
    assert data["kind"] == "porting"
    assert data["porting"] == no_conv_result.to_dict()


# ---------------------------------------------------------------- headless Chromium

CARD_ROWS = """(() => { const rows = {};
  document.querySelectorAll('#cards .card').forEach(c => {
    rows[c.offsetTop] = (rows[c.offsetTop] || 0) + 1; });
  return Object.values(rows); })()"""
CUT = """[...document.querySelectorAll('%s')].filter(e => e.scrollWidth > e.clientWidth + 1)
  .map(e => e.textContent)"""


def layout(browser, width: int) -> None:
    browser.page("Emulation.setDeviceMetricsOverride", width=width, height=900,
                 deviceScaleFactor=1, mobile=False)


def top_areas(browser) -> dict[str, float]:
    """name -> area of the rectangles laid out directly in the zoomed node."""
    rects = browser.evaluate("""[...document.querySelectorAll('#map-svg rect')].map(r => [
        r.dataset.name, r.dataset.depth, +r.getAttribute('width') * +r.getAttribute('height')])""")
    return {name: area for name, depth, area in rects if depth == "0"}


def type_into(browser, element: str, text: str) -> None:
    browser.evaluate(f"""(() => {{ const f = document.getElementById('{element}');
        f.value = {text!r}; f.dispatchEvent(new Event('input')); }})()""")
    time.sleep(0.3)


@pytest.mark.browser
def test_new_views_in_chromium(browser, profiled, gpt2_llm, tmp_path):
    result = profiled("gpt2")
    chips = html_report.default_chips(get_chip("a100"))
    page = tmp_path / "gpt2.html"
    page.write_text(html_report.render_html(result, chips, llm_section(gpt2_llm, chips)))
    browser.open(page)
    assert browser.errors() == []
    shots = screenshot_dir(tmp_path)

    # six summary cards: one row at 1400 px, two full rows of three at 800; nothing cut
    layout(browser, 1400)
    assert browser.evaluate(CARD_ROWS) == [6]
    for selector in ("#cards .label", "#chip-table td", "#fit-table td", ".badge"):
        assert browser.evaluate(CUT % selector) == [], selector
    layout(browser, 800)
    assert browser.evaluate(CARD_ROWS) == [3, 3]
    assert browser.evaluate(CUT % "#cards .label") == []

    # does it fit: one row per chip with its headroom
    rows = browser.evaluate("[...document.querySelectorAll('#fit-table tbody tr')]"
                            ".map(tr => tr.dataset.chip)")
    assert rows == [c.id for c in chips]
    l4 = browser.evaluate("document.querySelector('#fit-table tr[data-chip=\"l4\"]').textContent")
    usable = int(0.9 * 24 * GiB)
    need = 4 * GPT2_PARAMS + result.memory.peak_activations_bytes
    assert f"{(usable - need) / GiB:.2f} GiB" in l4 and "fits" in l4

    # treemap: top-level areas are the FLOPs shares (hand-counted GPT-2), then params, time
    layout(browser, 1400)
    areas = top_areas(browser)
    total = sum(areas.values())
    _, _, width, height = map(float, browser.evaluate(
        "document.getElementById('map-svg').getAttribute('viewBox')").split())
    assert total == pytest.approx(width * height, rel=1e-4)  # sides are written to 0.01 px
    flops = 12 * GPT2_BLOCK_FLOPS + GPT2_LM_HEAD_FLOPS
    assert areas["lm_head"] / total == pytest.approx(GPT2_LM_HEAD_FLOPS / flops, abs=1e-4)
    browser.evaluate("document.querySelector('#map-metric button[data-value=\"params\"]').click()")
    areas = top_areas(browser)
    assert list(areas) == ["transformer"]  # lm_head is tied to wte: no params of its own
    browser.evaluate("document.querySelector('#map-svg rect[data-name=\"transformer\"]')"
                     ".dispatchEvent(new MouseEvent('click', {bubbles: true}))")
    crumbs = browser.evaluate("[...document.querySelectorAll('#map-crumbs button')]"
                              ".map(b => b.textContent)")
    assert crumbs == ["(root)", "transformer"]
    areas = top_areas(browser)
    assert areas["h"] / sum(areas.values()) == pytest.approx(12 * GPT2_BLOCK_PARAMS / GPT2_PARAMS,
                                                             abs=1e-4)
    browser.evaluate("document.querySelector('#map-crumbs button').click()")
    browser.evaluate("document.querySelector('#map-metric button[data-value=\"time\"]').click()")
    assert not browser.evaluate("document.getElementById('map-chip').hidden")
    browser.evaluate("(() => { const s = document.getElementById('map-chip'); s.value = '2';"
                     " s.dispatchEvent(new Event('change')); })()")
    times = view.module_times(result, [chips[2]])
    areas = top_areas(browser)
    assert areas["lm_head"] / sum(areas.values()) == pytest.approx(
        times["lm_head"][0] / times[""][0], abs=1e-4)

    # module search: matches and their parents, then back to the tree as it was
    before = browser.evaluate("document.querySelectorAll('#module-tree tbody tr').length")
    type_into(browser, "tree-filter", "c_proj")
    names = browser.evaluate("[...document.querySelectorAll('#module-tree tbody tr')]"
                             ".map(tr => tr.cells[0].textContent.replace(/×\\d+/, ''))")
    assert [n.strip("▶▼ ") for n in names] == ["(root)", "transformer", "h", "0–11", "attn",
                                                "c_proj", "mlp", "c_proj"]
    assert browser.evaluate("document.querySelectorAll('#module-tree tr.hit').length") == 2
    type_into(browser, "tree-filter", "")
    assert browser.evaluate("document.querySelectorAll('#module-tree tbody tr').length") == before

    # LLM section: shown, one decode line per chip
    assert not browser.evaluate("document.getElementById('llm').hidden")
    assert browser.evaluate("document.querySelectorAll('#llm-batch path.series').length") == 4
    assert browser.evaluate("document.querySelectorAll('#llm-steps tbody tr').length") == 3
    tabs = browser.evaluate("[...document.querySelectorAll('#tabs a')].map(a => a.textContent)")
    assert "LLM" in tabs and "Treemap" in tabs and "Compare" not in tabs

    for width in (1400, 800):
        browser.screenshot(shots / f"report-gpt2-views-{width}.png", width=width)
    assert browser.errors() == []


@pytest.mark.browser
def test_compare_page_in_chromium(browser, compare_page, tmp_path):
    browser.open(compare_page)
    assert browser.errors() == []
    assert not browser.evaluate("document.getElementById('compare').hidden")
    heads = browser.evaluate("[...document.querySelectorAll('#compare-table th')]"
                             ".map(th => th.textContent)")
    assert heads[1].endswith("::narrow") and heads[2].endswith("::wide")
    params = browser.evaluate("document.querySelector('#compare-table tbody tr:nth-child(2)')"
                              ".textContent")
    assert f"{NARROW / 1e3:.2f} K" in params and f"{WIDE / 1e3:.2f} K" in params
    assert browser.evaluate("document.querySelectorAll('#compare-fit tbody tr').length") == 2
    # the switch redraws the per-model sections for the other model
    assert browser.evaluate("window.modellensReport.params.total") == NARROW
    browser.evaluate("document.querySelector('#compare-pick button[data-value=\"1\"]').click()")
    assert browser.evaluate("window.modellensReport.params.total") == WIDE
    card = browser.evaluate("document.querySelector('#cards .card .value').textContent")
    assert card == f"{WIDE / 1e3:.2f} K"
    assert browser.evaluate("document.querySelectorAll('#map-svg rect').length") > 0
    for width in (1400, 800):  # long model names wrap; no badge or header is cut
        layout(browser, width)
        for selector in (".badge", "#compare-table th", "#compare-fit th", "#cards .label"):
            assert browser.evaluate(CUT % selector) == [], (width, selector)
    for width in (1400, 800):
        browser.screenshot(screenshot_dir(tmp_path) / f"compare-{width}.png", width=width)
    assert browser.errors() == []


@pytest.mark.browser
def test_porting_page_in_chromium(browser, no_conv_result, tmp_path):
    page = tmp_path / "porting.html"
    page.write_text(render_porting_html(no_conv_result))
    browser.open(page)
    assert browser.errors() == []
    assert browser.evaluate("document.getElementById('model-sections').hidden")
    rollup = browser.evaluate("[...document.querySelectorAll('#porting-rollup tbody tr')]"
                              ".map(tr => [...tr.cells].map(td => td.textContent))")
    assert len(rollup) == 1
    op, _, unblocks, blocks, blocked, failing, stages, error = rollup[0]
    assert (op, unblocks, blocks, blocked, failing, stages) == (
        "convolution", "2", "2", "small_cnn, other_cnn", "2", "compile: 2")
    assert error == "NotImplementedError: convolution is not lowered yet"
    rows = "document.querySelectorAll('#porting-configs tbody tr').length"
    assert browser.evaluate(rows) == len(no_conv_result.configs)
    browser.evaluate("(() => { const s = document.getElementById('config-status');"
                     " s.value = 'fail'; s.dispatchEvent(new Event('change')); })()")
    failing = browser.evaluate("[...document.querySelectorAll('#porting-configs tbody tr')]"
                               ".map(tr => tr.cells[1].textContent)")
    assert failing == ["convolution", "convolution"]
    type_into(browser, "config-filter", "other_cnn")
    assert browser.evaluate(rows) == 2  # both convolutions: other_cnn uses the shared one too
    for width in (1400, 800):
        browser.screenshot(screenshot_dir(tmp_path) / f"porting-{width}.png", width=width)
    assert browser.errors() == []


@pytest.mark.browser
def test_long_chip_ids_are_not_cut(browser, tmp_path):
    """Roof labels at the roofline's right and chip cells keep long ids whole."""
    chips = [get_chip(name) for name in ("a100-pcie-40gb", "v100", "blackhole-p150a")]
    page = tmp_path / "long.html"
    page.write_text(html_report.render_html(profile(chain(), torch.randn(8, 16)), chips))
    browser.open(page)
    inside = browser.evaluate("""(() => { const svg = document.getElementById('roof-svg');
        const width = svg.viewBox.baseVal.width;
        return [...svg.querySelectorAll('.roof-label')].map(t => {
            const box = t.getBBox();
            return [t.textContent, box.x + box.width <= width]; }); })()""")
    assert inside and all(ok for _, ok in inside), inside
    assert any("blackhole-p150a" in text for text, _ in inside)
    for selector in ("#chip-table td", "#fit-table td", "#cards .label", ".badge"):
        assert browser.evaluate(CUT % selector) == [], selector
    assert browser.errors() == []
