"""The Hugging Face hub, for an id the offline catalog lacks: is it reachable (one short
connection check, never huggingface_hub's retries), is the config already in the HF cache, and,
when neither, a one-line error naming what works instead. Read without torch or transformers,
so an unreachable hub fails in well under a second."""

from __future__ import annotations

import difflib
import json
import os
import re
import threading
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import SpecError
from . import catalog_index

DEFAULT_ENDPOINT = "https://huggingface.co"
PROBE_TIMEOUT_S = 1.0  # the whole check, name lookup included
_TRUE = ("1", "true", "yes", "on")
_REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
# a spec ending so names a file (a missing one), not a repo
_FILE_SUFFIXES = (".json", ".py", ".yaml", ".yml", ".safetensors", ".bin", ".pt", ".pth",
                  ".ckpt", ".gguf", ".onnx")


def offline_env() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) asks for no network at all."""
    return any(os.environ.get(name, "").strip().lower() in _TRUE
               for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def endpoint() -> tuple[str, str, int]:
    """(scheme, host, port) of $HF_ENDPOINT, else https://huggingface.co:443."""
    url = urlsplit(os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT)
    scheme = "http" if url.scheme == "http" else "https"
    return scheme, url.hostname or "huggingface.co", url.port or (80 if scheme == "http" else 443)


@lru_cache(maxsize=None)
def _probe(scheme: str, host: str, port: int, path: str, timeout: float) -> int | str:
    """The HTTP status of HEAD `path` within `timeout` seconds, else why there was none. A
    request, not only a connection (a sandbox or proxy may accept any connection); the whole
    check, name lookup included, is bounded (a thread: getaddrinfo has no timeout)."""
    import http.client

    outcome: list[int | str] = []

    def ask() -> None:
        kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        connection = kind(host, port, timeout=timeout)
        try:
            connection.request("HEAD", path, headers={"User-Agent": "modellens"})
            outcome.append(connection.getresponse().status)
        except (OSError, http.client.HTTPException) as exc:
            outcome.append(getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)
        finally:
            connection.close()

    worker = threading.Thread(target=ask, daemon=True)
    worker.start()
    worker.join(timeout)
    return outcome[0] if outcome else f"no answer in {timeout:g} s"


def config_status(repo_id: str) -> tuple[int | None, str]:
    """(HTTP status, where) of the hub's config.json of `repo_id` (main revision), or
    (None, why not) when the hub does not answer; one request per id and process."""
    from urllib.parse import quote

    scheme, host, port = endpoint()
    where = f"{scheme}://{host}:{port}"
    answer = _probe(scheme, host, port, f"/{quote(repo_id)}/resolve/main/config.json",
                    PROBE_TIMEOUT_S)
    if isinstance(answer, int):
        return answer, where
    return None, f"{where}: {answer[:80].lower()}"


def hub_cache_dir() -> Path:
    """huggingface_hub's cache: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface")
    return Path(home) / "hub"


def cached_config(repo_id: str) -> Path | None:
    """The config.json of `repo_id` in the HF cache (any snapshot), if one is there."""
    snapshots = hub_cache_dir() / f"models--{repo_id.replace('/', '--')}" / "snapshots"
    found = sorted(snapshots.glob("*/config.json")) if snapshots.is_dir() else []
    return found[0] if found else None


def is_hub_id(spec: str) -> bool:
    """Whether only the hub can answer for `spec`: an owner/name id that is no catalog id,
    file, directory or file name."""
    return (bool(_REPO_ID.match(spec)) and not spec.lower().endswith(_FILE_SUFFIXES)
            and catalog_index.catalog_file(spec) is None and not os.path.exists(spec))


def require(spec: str) -> bool:
    """Check that `spec`, a hub id, can be answered: False when the hub has its config.json
    (or asks for a login, which transformers' token may pass), True when it must be read from
    the HF cache alone (the hub does not answer, the config is cached). Otherwise a SpecError in
    one line naming what works offline: the hub has no such config (404), or neither the hub
    nor the cache has it."""
    if offline_env():
        if cached_config(spec) is not None:
            return True
        raise SpecError(unreachable_message(spec, "HF_HUB_OFFLINE is set and the Hugging Face "
                                                  "cache has no config for it"))
    status, where = config_status(spec)
    if status == 404:
        raise SpecError(unreachable_message(spec, f"the hub has no config.json for it "
                                                  f"(HTTP 404 from {where})"))
    if status is not None and status < 500:
        return False
    if cached_config(spec) is not None:
        return True
    why = f"HTTP {status} from {where}" if status is not None else where
    raise SpecError(unreachable_message(spec, f"the hub cannot be reached ({why})"))


def unreachable_message(spec: str, why: str) -> str:
    """One line: not in the catalog and why the hub cannot help; the closest catalog ids of the
    same family, `hf:type:TYPE` guessed from them, and the local alternatives."""
    family = guess_family(spec)
    close = closest_catalog_ids(spec, family)
    parts = [f"unknown model {spec!r}: not in the offline catalog and {why}."]
    if close:
        parts.append(f"Closest catalog ids{f' ({family} family)' if family else ''}: "
                     f"{', '.join(close)}.")
    model_type = guess_model_type(close)
    if model_type:
        parts.append(f"Or hf:type:{model_type} (transformers' default {model_type} config).")
    parts.append("Or pass a config.json or model directory.")
    return " ".join(parts)


def _normal(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def guess_family(spec: str) -> str | None:
    """The catalog family named in the id (the longest one it contains, e.g. 'qwen' in
    'Qwen/Qwen3-99B'), else the family of a catalog id from the same owner."""
    families = {entry.get("family") for entry in catalog_index.index().values()} - {None}
    named = [f for f in families if _normal(f) and _normal(f) in _normal(spec)]
    if named:
        return max(named, key=lambda f: len(_normal(f)))
    owner = spec.split("/")[0].lower() if "/" in spec else None
    for name, entry in catalog_index.index().items():
        if owner and name.lower().startswith(owner + "/"):
            return entry.get("family")
    return None


def closest_catalog_ids(spec: str, family: str | None, n: int = 3) -> list[str]:
    """The catalog ids most like `spec`: the closest of `family` when one is given, else
    those close enough among all."""
    index = catalog_index.index()
    names = [name for name in catalog_index.catalog_names()
             if family is None or index.get(name, {}).get("family") == family]
    by_lower = {name.lower(): name for name in names}
    close = difflib.get_close_matches(spec.lower(), list(by_lower), n=n, cutoff=0.0 if family
                                      else 0.5)
    return [by_lower[name] for name in close]


def guess_model_type(catalog_ids: list[str]) -> str | None:
    """The model_type of the first of `catalog_ids` (its config file's)."""
    for name in catalog_ids:
        file = catalog_index.catalog_file(name)
        try:
            model_type = json.loads(file.read_text()).get("model_type") if file else None
        except (OSError, ValueError):
            continue
        if model_type:
            return model_type
    return None
