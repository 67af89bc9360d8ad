"""The hub for an id the catalog lacks: unreachable -> one line naming what works, before torch
is imported; reachable -> only config.json is fetched, and the result says so; a config in
the HF cache is read offline."""

import http.server
import json
import os
import subprocess
import sys
import threading

import pytest

from modellens.sources import catalog_index, hub

DEAD_ENDPOINT = "http://127.0.0.1:9"  # the discard port: nothing listens, refused at once
TINY_GPT2 = {"model_type": "gpt2", "n_layer": 2, "n_embd": 64, "n_head": 2, "n_positions": 64,
             "vocab_size": 1000}
TINY_PARAMS = 1000 * 64 + 64 * 64 + 2 * (128 + 64 * 192 + 192 + 64 * 64 + 64 + 128
                                         + 64 * 256 + 256 + 256 * 64 + 64) + 128
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".h5", ".msgpack")


def run_online(*argv, endpoint, hub_cache):
    """The CLI in a fresh process with the network allowed (no HF_HUB_OFFLINE) and `endpoint`
    as the hub: (exit code, stdout, stderr, whether torch was imported)."""
    code = ("import sys\nfrom modellens.cli import main\nrc = main(sys.argv[1:])\n"
            "sys.stderr.write('TORCH=%s\\n' % ('torch' in sys.modules))\nsys.exit(rc)")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE",
                                                             "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT=endpoint, HF_HUB_CACHE=str(hub_cache))
    done = subprocess.run([sys.executable, "-c", code, *map(str, argv)], capture_output=True,
                          text=True, env=env, timeout=300)
    lines = done.stderr.splitlines()
    err = [line for line in lines if not line.startswith("TORCH=")]
    return done.returncode, done.stdout, err, "TORCH=True" in lines


@pytest.fixture
def fake_hub():
    """A local hub that has one repo, someone/tiny, with a config.json (and refuses the
    rest); yields (endpoint, the requests it saw)."""
    body = json.dumps(TINY_GPT2).encode()
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self, with_body):
            seen.append((self.command, self.path))
            if self.path.split("?")[0] == "/someone/tiny/resolve/main/config.json":
                self.send_response(200)
                for key, value in (("ETag", '"0123abcd"'), ("X-Repo-Commit", "a" * 40),
                                   ("Content-Type", "application/json"),
                                   ("Content-Length", str(len(body)))):
                    self.send_header(key, value)
                self.end_headers()
                if with_body:
                    self.wfile.write(body)
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def do_HEAD(self):
            self.answer(False)

        def do_GET(self):
            self.answer(True)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()


def test_unreachable_hub_fails_in_one_line_before_torch(tmp_path):
    code, out, err, torch_imported = run_online("profile", "Qwen/Qwen3-99B", "--format", "json",
                                                endpoint=DEAD_ENDPOINT, hub_cache=tmp_path)
    assert code == 1 and out == "" and len(err) == 1 and not torch_imported, err
    line = err[0]
    assert "cannot be reached" in line and "127.0.0.1:9" in line
    assert "(qwen family): Qwen/Qwen3-" in line  # the closest catalog ids of its family
    assert "hf:type:qwen3" in line and "pass a config.json or model directory" in line


def test_an_id_the_hub_lacks_fails_at_the_first_answer(fake_hub, tmp_path):
    endpoint, seen = fake_hub
    code, _, err, torch_imported = run_online("llm", "meta-llama/Llama-9-1B", endpoint=endpoint,
                                              hub_cache=tmp_path)
    assert code == 1 and len(err) == 1 and not torch_imported, err
    assert "HTTP 404" in err[0] and "(llama family)" in err[0] and "hf:type:llama" in err[0]
    assert seen == [("HEAD", "/meta-llama/Llama-9-1B/resolve/main/config.json")]


def test_online_fetches_only_config_json_and_says_so(fake_hub, tmp_path):
    endpoint, seen = fake_hub
    code, out, err, _ = run_online("profile", "someone/tiny", "--format", "json",
                                   endpoint=endpoint, hub_cache=tmp_path / "hf")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["params"]["total"] == TINY_PARAMS
    assert "config.json only (no weights)" in doc["input_description"]
    files = [path.split("/resolve/main/")[1] for _, path in seen if "/resolve/" in path]
    assert set(files) == {"config.json"}
    assert not any(path.split("?")[0].endswith(WEIGHT_SUFFIXES) for _, path in seen)
    cached = list((tmp_path / "hf").glob("models--someone--tiny/snapshots/*/config.json"))
    assert [json.loads(p.read_text()) for p in cached] == [TINY_GPT2]
    # the hub gone, the config in the HF cache still answers, read offline and said so
    code, out, err, _ = run_online("profile", "someone/tiny", "--format", "json",
                                   endpoint=DEAD_ENDPOINT, hub_cache=tmp_path / "hf")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["params"]["total"] == TINY_PARAMS
    assert "from the Hugging Face cache (hub unreachable" in doc["input_description"]


def test_offline_env_unknown_id_fails_with_the_same_advice(monkeypatch, tmp_path):
    from modellens.errors import SpecError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(SpecError) as caught:
        hub.require("google/gemma-9-2b")
    message = str(caught.value)
    assert "HF_HUB_OFFLINE" in message and "(gemma family): google/gemma-" in message
    assert "hf:type:gemma" in message and "\n" not in message


@pytest.mark.parametrize("spec, family, model_type", [
    ("Qwen/Qwen3-99B", "qwen", "qwen3"),
    ("meta-llama/Llama-3.1-8B-Extended", "llama", "llama"),
    ("microsoft/Phi-3.5-foo", "phi", None),
    ("openai-community/gpt2-xxl", "gpt2", "gpt2"),
])
def test_family_and_type_come_from_the_catalog(spec, family, model_type):
    assert hub.guess_family(spec) == family
    close = hub.closest_catalog_ids(spec, family)
    index = catalog_index.index()
    assert close and all(index[name]["family"] == family for name in close)
    if model_type:  # the closest id's config.json says so
        assert hub.guess_model_type(close) == model_type


def test_what_is_a_hub_id(tmp_path):
    assert hub.is_hub_id("someone/model-1.5B")
    assert not hub.is_hub_id("gpt2") and not hub.is_hub_id("meta-llama/Llama-3.1-8B")
    assert not hub.is_hub_id("dir/config.json") and not hub.is_hub_id("./a/b")
    (tmp_path / "m").mkdir()
    assert not hub.is_hub_id(str(tmp_path / "m"))


def test_endpoint_follows_hf_endpoint(monkeypatch):
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    assert hub.endpoint() == ("https", "huggingface.co", 443)
    monkeypatch.setenv("HF_ENDPOINT", "http://mirror.local:8080/")
    assert hub.endpoint() == ("http", "mirror.local", 8080)
