"""HTML report, PNG plots and the `report` command; the page itself is driven in headless
Chromium (marked `browser`, skipped where no Chromium is installed)."""

import base64
import fcntl
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from modellens import profile
from modellens.cli import main
from modellens.hardware import get_chip
from modellens.report import html as html_report
from modellens.report import plots, view
from modellens.sources import resolve
from modellens.tasks.pipeline import capture_source

DATA = Path(__file__).parent / "data"
TINY = DATA / "tiny_model.py"
MiB = 2**20
# GPT-2 at seq 128, by hand: per block 2*128*(768*2304 + 768*768 + 2*768*3072) for the four
# linears plus 2 * 2*128*128*64*12 for QK^T and AV; lm_head 2*128*768*50257.
GPT2_BLOCK_FLOPS = 2 * 128 * (768 * 2304 + 768 * 768 + 2 * 768 * 3072) + 2 * 2 * 128 * 128 * 64 * 12
GPT2_LM_HEAD_FLOPS = 2 * 128 * 768 * 50257
# c_attn, c_proj (weights + biases), two LayerNorms, c_fc, mlp c_proj
GPT2_BLOCK_PARAMS = (768 * 2304 + 2304) + (768 * 768 + 768) + 2 * 2 * 768 \
    + (768 * 3072 + 3072) + (3072 * 768 + 768)


def embedded(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="modellens-data">(.*?)</script>',
                      page, re.S)
    assert match, "no embedded data block"
    return json.loads(match.group(1))


class Blocks(nn.Module):
    """Three identical numbered blocks and a head: small, with repeats to merge."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(*[nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 16))
                                      for _ in range(3)])
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        return self.head(self.blocks(x))


@pytest.fixture(scope="module")
def blocks_result():
    return profile(Blocks(), torch.randn(2, 8, 16), backward=True, hardware="h100")


# ---------------------------------------------------------------- HTML, no browser


def test_html_is_self_contained(profiled):
    page = html_report.render_html(profiled("gpt2"), [get_chip("h100"), get_chip("a100")])
    assert page.startswith("<!DOCTYPE html>")
    network = re.compile(r"""(?:\b(?:src|href)\s*=\s*["']?\s*|url\(\s*["']?)(?:https?:)?//""", re.I)
    assert not network.search(page)
    assert "<script src" not in page and 'rel="stylesheet"' not in page and "@import" not in page
    assert page.count("<script") == page.count("</script>") == 2


def test_embedded_totals_equal_the_result(profiled):
    result = profiled("gpt2")
    data = embedded(html_report.render_html(result))
    assert data["params"] == result.params.to_dict()
    assert data["params"]["total"] == 124_439_808  # GPT-2 small, tied lm_head counted once
    assert data["flops"]["forward"] == result.flops.forward
    assert result.flops.forward == 12 * GPT2_BLOCK_FLOPS + GPT2_LM_HEAD_FLOPS
    assert data["macs"]["forward"] == result.flops.forward // 2
    assert data["memory"] == result.memory.to_dict()
    tree = data["module_tree"]
    assert (tree["params"], tree["flops"]) == (result.params.total, result.flops.forward)
    groups = data["op_groups"]
    assert sum(g["flops_all"] * g["n"] for g in groups) == result.flops.forward_all
    assert sum(g["n"] for g in groups) == len(result.ops) == data["report"]["ops"]
    # the result's own chip: per-chip time equals the analysis' bottleneck summary
    chip = data["chips"][0]
    assert chip["id"] == result.hardware.id
    assert chip["forward"]["time_s"] == pytest.approx(result.bottleneck.predicted_time_s, rel=1e-12)
    assert chip["backward"] is None


def test_chip_times_match_the_roofline_analysis(blocks_result):
    """Every chip's predicted time equals roofline.bottleneck on the capture, phase by phase."""
    chips = [get_chip(name) for name in ("h100", "l4", "mi300x")]
    data = embedded(html_report.render_html(blocks_result, chips))
    captured = capture_source(resolve(Blocks(), torch.randn(2, 8, 16)), backward=True)
    for chip, entry in zip(chips, data["chips"]):
        for phase in ("forward", "backward"):
            summary = captured.analysis.roofline(chip).bottleneck(phase)
            assert entry[phase]["time_s"] == pytest.approx(summary.predicted_time_s, rel=1e-12)
            assert entry[phase]["compute_bound_share"] == pytest.approx(
                summary.compute_bound_time_share, abs=1e-12)


def test_identical_numbered_blocks_merge_in_the_tree(profiled):
    result = profiled("gpt2")
    tree, omitted = view.module_tree(result)
    assert omitted == 0
    h = next(n for n in tree.children[0].children if n.name == "h")
    (blocks,) = h.children
    assert (blocks.name, blocks.count, blocks.class_name) == ("0–11", 12, "GPT2Block")
    assert blocks.flops == 12 * GPT2_BLOCK_FLOPS
    assert blocks.params == 12 * GPT2_BLOCK_PARAMS
    mlp = next(n for n in blocks.children if n.name == "mlp")
    by_path = {m.path: m for m in result.modules}
    assert mlp.count == 12 and mlp.flops == 12 * by_path["transformer.h.5.mlp"].flops
    assert tree.size() == 21 < len(result.modules) == 164


def test_blocks_that_differ_stay_apart(profiled):
    """ResNet-50: layer1.0 has a downsample branch, layer1.1 and layer1.2 are identical."""
    tree, _ = view.module_tree(profiled("tv:resnet50"))
    layer1 = next(n for n in tree.children if n.name == "layer1")
    assert [(n.name, n.count) for n in layer1.children] == [("0", 1), ("1–2", 2)]


class Windowed(nn.Linear):
    """A layer whose config says how it attends; its figures do not show it."""

    def __init__(self, index: int, window: int | None):
        super().__init__(8, 8)
        self.layer_idx, self.window = index, window


def test_tree_merges_by_the_structural_signature():
    """Blocks merge when only their place differs (layer_idx), not when their config does."""
    layers = [Windowed(i, None) for i in range(3)] + [Windowed(3, 4)]
    result = profile(nn.Sequential(*layers), torch.randn(2, 8))
    tree, _ = view.module_tree(result)
    assert [(n.name, n.count) for n in tree.children] == [("0–2", 3), ("3", 1)]
    assert tree.children[0].flops == 3 * tree.children[1].flops



def test_tree_keeps_its_first_nodes_when_too_large(profiled):
    full, _ = view.module_tree(profiled("tv:resnet50"))
    tree, omitted = view.module_tree(profiled("tv:resnet50"), max_nodes=20)
    assert tree.size() == 20 and omitted == full.size() - 20
    # breadth-first: root, its 10 children (conv1 … fc) and their 8 children (layerN.0 and the
    # merged rest) stay, then one node of the next level; the parents say what they lost
    def levels(node):
        return [(c.name, [g.name for g in c.children]) for c in node.children]

    assert levels(tree) == levels(full)
    kept = [(g.name, len(g.children), g.omitted) for n in tree.children for g in n.children]
    full_counts = [len(g.children) for n in full.children for g in n.children]
    # layer1.0 keeps conv1 and omits its 7 other children (bn1 … downsample); the rest omit all
    assert kept[0] == ("0", 1, 7)
    assert [k + o for _, k, o in kept] == full_counts


def test_op_rows_are_capped_and_the_page_says_so(profiled, monkeypatch):
    monkeypatch.setattr(html_report, "MAX_OP_ROWS", 5)
    data = embedded(html_report.render_html(profiled("gpt2")))
    assert len(data["op_groups"]) == data["report"]["op_groups_shown"] == 5
    assert data["report"]["op_groups"] > 5
    times = [g["t"][0] * g["n"] for g in data["op_groups"]]
    assert times == sorted(times, reverse=True)  # the slowest groups are the ones kept


def test_script_breakout_is_escaped():
    name = "</script><script>alert(1)</script><!--"
    result = profile(nn.Linear(4, 4), torch.randn(1, 4), name=name)
    page = html_report.render_html(result)
    assert "<script>alert(1)" not in page
    assert embedded(page)["model"] == name
    assert "&lt;/script&gt;" in page.split("</title>")[0]


@pytest.mark.parametrize("spec", ["gpt2", "tv:resnet50"])
def test_report_size(profiled, spec):
    chips = [get_chip(name) for name in ("h100", "a100", "l4", "mi300x")]
    size = len(html_report.render_html(profiled(spec), chips).encode())
    assert size < 2 * MiB
    print(f"{spec}: {size / 1024:.0f} KiB")


@pytest.mark.slow
def test_70b_report_stays_small():
    result = profile("meta-llama/Llama-2-70b-hf", backward=True)
    data = embedded(page := html_report.render_html(result, [get_chip("h100"), get_chip("a100")]))
    assert len(page.encode()) < 512 * 1024
    assert data["report"]["ops"] > 9000 and len(data["op_groups"]) < 200
    assert data["report"]["tree_nodes"] < 40 < data["report"]["modules"]
    assert data["params"]["total"] == result.params.total


# ---------------------------------------------------------------- plots


def test_roofline_figure(profiled):
    result = profiled("gpt2")
    chips = [get_chip("h100"), get_chip("l4")]
    fig = plots.roofline_figure(result, chips)
    (ax,) = fig.axes
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert ax.get_xlabel() == "Arithmetic intensity (FLOPs/byte)"
    assert ax.get_ylabel() == "Attainable performance (FLOP/s)"
    assert "gpt2" in ax.get_title() and "h100-sxm, l4" in ax.get_title()
    groups = [g for g in view.op_groups(result, chips[0])
              if g.first.phase == "forward" and g.first.flops_all > 0]
    points = [p for c in ax.collections for p in c.get_offsets()]
    assert len(points) == 2 * len(groups)
    roofs = [line for line in ax.get_lines()]
    assert len(roofs) == sum(len(view.roofs(result, c)) for c in chips)
    h100_roof = roofs[0].get_ydata()
    assert max(h100_roof) == 66.9e12  # GPT-2 runs in fp32: H100 SXM's fp32 peak
    # L4 has no calibrated curves: its points sit on its roof, min(peak, intensity * bandwidth);
    # H100's calibrated times put every point at or under its roof
    h100, l4 = points[:len(groups)], points[len(groups):]
    for x, y in l4:
        assert any(y == pytest.approx(min(peak, x * chips[1].memory_bandwidth), rel=1e-9)
                   for _, peak in view.roofs(result, chips[1]))
    for x, y in h100:
        assert y <= max(peak for _, peak in view.roofs(result, chips[0])) * (1 + 1e-9)
        assert y <= x * chips[0].memory_bandwidth * (1 + 1e-9)


def test_layers_figure_has_hand_counted_bars(profiled):
    fig = plots.layers_figure(profiled("gpt2"))
    flops_ax, params_ax = fig.axes
    names = [t.get_text() for t in flops_ax.get_yticklabels()]
    blocks = [f"transformer.h.{i}" for i in range(12)]
    assert names == ["transformer.wte", "transformer.wpe", *blocks, "transformer.ln_f", "lm_head"]
    flops = dict(zip(names, (bar.get_width() for bar in flops_ax.patches)))
    params = dict(zip(names, (bar.get_width() for bar in params_ax.patches)))
    assert flops_ax.get_xlabel() == "Forward FLOPs, matmul-class (GFLOPs)"
    assert params_ax.get_xlabel() == "Parameters (M)"
    assert flops["transformer.h.7"] == pytest.approx(GPT2_BLOCK_FLOPS / 1e9)
    assert flops["lm_head"] == pytest.approx(GPT2_LM_HEAD_FLOPS / 1e9)
    assert params["transformer.h.0"] == pytest.approx(GPT2_BLOCK_PARAMS / 1e6)
    assert params["transformer.wte"] == pytest.approx(50257 * 768 / 1e6)


def test_memory_figure(profiled):
    result = profiled("gpt2")
    (ax,) = plots.memory_figure(result).axes
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "Weights (params + buffers)" and "Gradients" not in labels
    assert ax.patches[0].get_width() == pytest.approx(124_439_808 * 4 / MiB)  # fp32 weights
    assert ax.get_xlabel().startswith("Memory (MiB; 1 KiB = 1024 bytes)")
    assert ax.get_xscale() == "log"  # 1 KiB of token ids next to 475 MiB of weights


def test_write_plots_writes_pngs(blocks_result, tmp_path):
    paths = plots.write_plots(blocks_result, tmp_path / "plots", [get_chip("h100")])
    assert sorted(p.name for p in paths) == ["layers.png", "memory.png", "roofline.png",
                                            "roofline_backward.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((tmp_path / "plots").glob(".*.tmp"))


# ---------------------------------------------------------------- CLI


def test_report_cli_html_and_plots(tmp_path):
    out, plot_dir = tmp_path / "r.html", tmp_path / "plots"
    assert main(["report", f"{TINY}::load_model", "--inputs", f"{TINY}::get_inputs", "-o", str(out),
                 "--hardware", "h100, l4,h100-sxm5", "--plot-dir", str(plot_dir), "-q"]) == 0
    data = embedded(out.read_text())
    assert [c["id"] for c in data["chips"]] == ["h100-sxm", "l4"]  # alias of h100 dropped
    assert data["hardware"]["id"] == "h100-sxm"
    # two 3x3 convs on 1x3x224x224 (64 channels, padding 1): 2 * 224² * 64 * 9 * (3 + 64) FLOPs
    assert data["flops"]["forward"] == 2 * 224 * 224 * 64 * 9 * (3 + 64)
    assert {p.name for p in plot_dir.iterdir()} == {"roofline.png", "layers.png", "memory.png"}


def test_report_cli_csv_is_the_op_table(tmp_path):
    import csv

    out = tmp_path / "ops.csv"
    assert main(["report", f"{TINY}::load_model", "--inputs", f"{TINY}::get_inputs",
                 "--format", "csv", "-o", str(out), "--hardware", "h100,l4", "-q"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert sum(int(r["count"]) for r in rows) == 6  # conv, bn, relu twice (views left out)
    conv = [r for r in rows if r["op"] == "aten.convolution.default"]
    assert [int(r["count"]) for r in conv] == [1, 1]
    assert "time_total_s_l4" in rows[0] and rows[0]["bound_h100-sxm"] in ("compute", "memory")


def test_profile_format_html(tmp_path):
    out = tmp_path / "p.html"
    assert main(["profile", f"{TINY}::load_model", "--inputs", f"{TINY}::get_inputs",
                 "--format", "html", "-o", str(out), "-q"]) == 0
    assert embedded(out.read_text())["chips"][0]["id"] == "a100-sxm-80gb"


@pytest.mark.parametrize("argv, message, code", [
    (["--hardware", " , "], "--hardware ' , ' names no chip", 1),
    (["--hardware", "h100,h1000"], "unknown hardware 'h1000'; did you mean h100", 1),
    (["--seq-len", "128,512"],
     "report takes one --seq-len; sweep several with `modellens profile`", 2),
])
def test_report_cli_errors(capsys, argv, message, code):
    assert main(["report", "gpt2", *argv]) == code
    assert capsys.readouterr().err.startswith(f"modellens: error: {message}")


# ---------------------------------------------------------------- headless Chromium


def chromium_path() -> str | None:
    explicit = os.environ.get("MODELLENS_CHROMIUM")
    if explicit:
        return explicit
    names = ("chromium", "chromium-browser", "google-chrome")
    return next(filter(None, map(shutil.which, names)), None)


class Chromium:
    """Headless Chromium driven by the DevTools protocol over --remote-debugging-pipe
    (it reads commands on fd 3 and writes replies on fd 4, each message ending in NUL), so
    no test dependency and no network port are needed."""

    def __init__(self, executable: str, width: int = 1360, height: int = 900):
        child_in, self._send = os.pipe()
        self._receive, child_out = os.pipe()
        # copies at fd >= 10, so wiring them to 3 and 4 in the child cannot clobber each other
        high_in = fcntl.fcntl(child_in, fcntl.F_DUPFD, 10)
        high_out = fcntl.fcntl(child_out, fcntl.F_DUPFD, 10)

        def wire() -> None:
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)

        self._profile = tempfile.TemporaryDirectory()
        self.proc = subprocess.Popen(
            [executable, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-quic", "--no-first-run",
             "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
             f"--user-data-dir={self._profile.name}", f"--window-size={width},{height}",
             "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            close_fds=False, preexec_fn=wire)
        for fd in (child_in, child_out, high_in, high_out):
            os.close(fd)
        self.events: list[dict] = []
        self._replies: dict[int, queue.Queue] = {}
        self._lock = threading.Lock()
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        page = next(t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page")
        self._session = self.call("Target.attachToTarget", targetId=page["targetId"],
                                  flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.page(f"{domain}.enable")

    def _read(self) -> None:
        buffer = b""
        while chunk := os.read(self._receive, 1 << 16):
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for raw in messages:
                message = json.loads(raw)
                if "id" in message:
                    self._replies[message["id"]].put(message)
                else:
                    with self._lock:
                        self.events.append(message)

    def call(self, method: str, session: str | None = None, timeout: float = 60, **params):
        with self._lock:
            self._next_id += 1
            ident = self._next_id
            self._replies[ident] = queue.Queue()
        message = {"id": ident, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._send, json.dumps(message).encode() + b"\0")
        reply = self._replies[ident].get(timeout=timeout)
        del self._replies[ident]
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def page(self, method: str, **params):
        return self.call(method, session=self._session, **params)

    def open(self, path: Path) -> float:
        """Navigate and wait for the load event; seconds it took."""
        started = time.perf_counter()
        self.page("Page.navigate", url=path.resolve().as_uri())
        while self.evaluate("document.readyState") != "complete":
            assert time.perf_counter() - started < 30, "page did not load"
            time.sleep(0.02)
        return time.perf_counter() - started

    def evaluate(self, expression: str):
        reply = self.page("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in reply:
            raise AssertionError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def errors(self) -> list[str]:
        """JavaScript exceptions, console errors and browser log errors seen so far."""
        found = []
        with self._lock:
            events = list(self.events)
        for event in events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(json.dumps(params["exceptionDetails"])[:500])
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                found.append(json.dumps(params["args"])[:500])
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(params["entry"]["text"])
        return found

    def screenshot(self, path: Path, width: int = 1360) -> Path:
        """A full-page PNG with the page laid out `width` CSS pixels wide."""
        self.page("Emulation.setDeviceMetricsOverride", width=width, height=900,
                  deviceScaleFactor=1, mobile=False)
        time.sleep(0.3)  # the page redraws width-dependent charts on resize (debounced)
        height = self.evaluate("document.documentElement.scrollHeight")
        self.page("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        shot = self.page("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))
        self.page("Emulation.clearDeviceMetricsOverride")
        return path

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=5)
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        os.close(self._send)
        self._profile.cleanup()


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    if executable is None:
        pytest.skip("headless Chromium not installed (Debian: apt-get install chromium)")
    chrome = Chromium(executable)
    yield chrome
    chrome.close()


def screenshot_dir(tmp_path: Path) -> Path:
    """$MODELLENS_SCREENSHOTS if set (to look at them), else the test's tmp dir."""
    target = Path(os.environ.get("MODELLENS_SCREENSHOTS", tmp_path))
    target.mkdir(parents=True, exist_ok=True)
    return target


TREE_ROWS = "document.querySelectorAll('#module-tree tbody tr').length"
OP_ORDER = """[...document.querySelectorAll('#op-table tbody tr')].map(tr => {
  const g = window.modellensReport.op_groups[+tr.dataset.index];
  return g.flops_all * g.n; })"""


@pytest.mark.browser
def test_report_in_chromium(browser, profiled, tmp_path):
    result = profiled("gpt2")
    chips = [get_chip("h100"), get_chip("a100")]
    page = tmp_path / "gpt2.html"
    page.write_text(html_report.render_html(result, chips))
    seconds = browser.open(page)
    assert browser.errors() == []
    assert seconds < 10
    assert browser.evaluate("document.getElementById('model-name').textContent") == "gpt2"

    # the module tree collapses and expands: root, transformer (wte, wpe, drop, h, ln_f), lm_head
    browser.evaluate("document.getElementById('tree-collapse').click()")
    assert browser.evaluate(TREE_ROWS) == 9  # root, 2 children, 5 in transformer, h.0–11
    caret = "document.querySelector('#module-tree tr[data-key=\"0/0/3/0\"] button.toggle')"
    merged = browser.evaluate(f"{caret}.closest('tr').textContent")
    assert "0–11" in merged and "×12" in merged and "GPT2Block" in merged
    assert browser.evaluate(f"{caret}.getAttribute('aria-expanded')") == "false"
    browser.evaluate(f"{caret}.click()")
    assert browser.evaluate(TREE_ROWS) == 9 + 4  # ln_1, attn, ln_2, mlp
    assert browser.evaluate(f"{caret}.getAttribute('aria-expanded')") == "true"
    browser.evaluate("document.getElementById('tree-expand').click()")
    assert browser.evaluate(TREE_ROWS) == view.module_tree(result)[0].size() == 21

    # the op table sorts by a clicked column, both ways, and filters
    browser.evaluate("document.querySelector('#op-table th[data-key=\"flops\"]').click()")
    order = browser.evaluate(OP_ORDER)
    assert len(order) == len(view.op_groups(result, chips[0]))
    assert order == sorted(order, reverse=True)
    assert order[0] == GPT2_LM_HEAD_FLOPS  # lm_head's one matmul beats 12 of any block op
    browser.evaluate("document.querySelector('#op-table th[data-key=\"flops\"]').click()")
    assert browser.evaluate(OP_ORDER) == sorted(order)
    browser.evaluate("""(() => { const f = document.getElementById('op-filter');
        f.value = 'addmm'; f.dispatchEvent(new Event('input')); })()""")
    time.sleep(0.3)
    ops = browser.evaluate(
        "[...document.querySelectorAll('#op-table tbody td.op')].map(td => td.textContent)")
    assert ops == ["addmm"] * 4  # c_attn, attn c_proj, c_fc, mlp c_proj

    # roofline: one point per op group with FLOPs per chip; hovering shows its details
    points = sum(1 for g in view.op_groups(result, chips[0]) if g.first.flops_all > 0)
    assert browser.evaluate("document.querySelectorAll('#roof-svg circle').length") == 2 * points
    browser.evaluate("""document.querySelector('#roof-svg circle').dispatchEvent(
        new MouseEvent('mouseenter', {clientX: 300, clientY: 300}))""")
    assert not browser.evaluate("document.getElementById('tip').hidden")
    tip = browser.evaluate("document.getElementById('tip').textContent")
    # the biggest point is drawn first: the op group with the most predicted time on the slower
    # chip (under A100's calibrated curves, GPT-2's 12 c_fc addmms outweigh lm_head's one mm)
    a100 = get_chip("a100")
    biggest = max(view.op_groups(result, a100),
                  key=lambda g: result.timing(g.first, a100).time_s * g.count)
    assert tip.startswith(biggest.first.name.split(".")[1]) and "on a100-sxm-80gb" in tip
    assert biggest.module_pattern in tip
    browser.evaluate("document.querySelector('#roof-svg circle')"
                     ".dispatchEvent(new MouseEvent('mouseleave'))")
    assert browser.evaluate("document.getElementById('tip').hidden")
    browser.evaluate(
        "document.querySelector('#roof-legend input[data-chip=\"a100-sxm-80gb\"]').click()")
    assert browser.evaluate("document.querySelectorAll('#roof-svg circle').length") == points

    shot = browser.screenshot(screenshot_dir(tmp_path) / "report-gpt2.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert browser.errors() == []


@pytest.mark.browser
def test_backward_report_in_chromium(browser, blocks_result, tmp_path):
    page = tmp_path / "blocks.html"
    page.write_text(html_report.render_html(blocks_result, [get_chip("h100"), get_chip("l4")]))
    browser.open(page)
    forward = browser.evaluate("document.querySelectorAll('#roof-svg circle').length")
    browser.evaluate(
        "document.querySelector('#roof-controls button[data-value=\"backward\"]').click()")
    backward = browser.evaluate("document.querySelectorAll('#roof-svg circle').length")
    groups = view.op_groups(blocks_result, get_chip("h100"))
    assert (forward, backward) == tuple(
        2 * sum(1 for g in groups if g.first.phase == phase and g.first.flops_all > 0)
        for phase in ("forward", "backward"))
    browser.evaluate("(() => { const s = document.getElementById('op-phase'); s.value = 'all';"
                     " s.dispatchEvent(new Event('change')); })()")
    assert browser.evaluate("document.querySelectorAll('#op-table tbody tr').length") == len(groups)
    browser.screenshot(screenshot_dir(tmp_path) / "report-blocks-backward.png")
    assert browser.errors() == []
