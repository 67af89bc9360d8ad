"""results.json -> the Markdown tables of docs/benchmarks.md."""

from __future__ import annotations

import statistics

from benchmarks.agreement import compare
from benchmarks.models import BY_KEY
from benchmarks.peers import TOOLS


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def short_error(run: dict) -> str:
    return run.get("error", "failed").split(": ", 1)[-1][:90].replace("|", "/")


def giga(value: float | None) -> str:
    return "—" if value is None else f"{value / 1e9:.2f}"


def cell(run: dict | None, key: str) -> str:
    if run is None:
        return ""
    if not run.get("ok"):
        return "fails" if not run.get("error", "").startswith("skipped") else "skipped"
    value = run.get(key)
    if value is None:
        return "—"
    if key == "flops":
        return giga(value)
    if key == "params":
        return f"{value / 1e6:.2f}"
    if key in ("median_s", "cpu_median_s"):
        return f"{value:.2f}"
    if key == "rss_peak_mb":
        return f"{value:,.0f}"
    return str(value)


def index(runs: list[dict]) -> dict[tuple[str, str], dict]:
    return {(r["tool"], r["model"]): r for r in runs}


def per_model_table(runs: list[dict], key: str) -> str:
    found = index(runs)
    models = list(dict.fromkeys(r["model"] for r in runs))
    tools = [t for t in TOOLS if any((t, m) in found for m in models)]
    rows = [[t] + [cell(found.get((t, m)), key) for m in models] for t in tools]
    if key == "median_s":
        ours = [found.get(("modellens", m)) for m in models]
        rows.insert(1, ["modellens incl. meta build"] + [
            f"{r['median_s'] + r['inner_build_s']:.2f}" if r and r.get("ok") else ""
            for r in ours])
    return table(["tool"] + [BY_KEY[m].label for m in models], rows)


def failures(runs: list[dict]) -> str:
    rows = [[r["tool"], BY_KEY[r["model"]].label, short_error(r)] for r in runs if not r.get("ok")]
    return table(["tool", "model", "what happened"], rows) if rows else "None."


def speed_summary(runs: list[dict], key: str = "median_s") -> str:
    """modellens' counting time (`key`: wall or CPU) against FlopCounterMode's and the fastest
    peer's, per model."""
    found = index(runs)
    rows = []
    for model in dict.fromkeys(r["model"] for r in runs):
        ours = found.get(("modellens", model))
        if not ours or ours.get(key) is None:
            continue
        torch_run = found.get(("FlopCounterMode", model))
        peers = [r for (t, m), r in found.items() if m == model and r.get(key) is not None
                 and not t.startswith(("modellens", "FlopCounterMode"))]
        fastest = min(peers, key=lambda r: r[key], default=None)
        torch_s = torch_run.get(key) if torch_run else None
        rows.append([
            BY_KEY[model].label,
            f"{ours[key]:.2f}",
            f"{torch_s:.2f}" if torch_s else "—",
            f"{torch_s / ours[key]:.1f}x" if torch_s else "—",
            f"{fastest['tool']} {fastest[key]:.2f}" if fastest else "—",
            f"{fastest[key] / ours[key]:.1f}x" if fastest else "—",
        ])
    return table(["model", "modellens s", "FlopCounterMode s", "FlopCounterMode / modellens",
                  "fastest peer, s", "peer / modellens"], rows)


def torch_check(runs: list[dict]) -> str:
    """modellens vs FlopCounterMode, as run by default and with attention on the math backend
    (where the two conventions match: torch then has a formula for every matmul it runs)."""
    found = index(runs)
    rows = []
    for model in dict.fromkeys(r["model"] for r in runs):
        ours = found.get(("modellens", model))
        if not ours or not ours.get("ok"):
            continue
        row = [BY_KEY[model].label, giga(ours["flops"])]
        for tool in ("FlopCounterMode", "FlopCounterMode (math SDPA)"):
            theirs = found.get((tool, model))
            ok = theirs and theirs.get("ok")
            row += [giga(theirs["flops"]) if ok else "—",
                    f"{100 * (theirs['flops'] / ours['flops'] - 1):+.3f} %" if ok else "—"]
        missing = ours["extra"]["without_torch_formula"]
        row.append(", ".join(f"{k.removeprefix('aten.')} {v / 1e9:.2f}" for k, v in missing.items())
                   or "—")
        rows.append(row)
    return table(["model", "modellens GFLOPs", "FlopCounterMode", "diff", "FlopCounterMode, "
                  "math SDPA", "diff", "ops in modellens' capture that torch counts as 0, "
                  "GFLOPs"], rows)


def class_reason(agreement) -> str:
    parts = []
    for d in agreement.diffs:
        ops = f" [{', '.join(o.removeprefix('aten.') for o in d.modellens_ops)}]" \
            if d.modellens_ops and d.modellens else ""
        parts.append(f"{d.class_name}: {giga(d.peer)} vs {giga(d.modellens)}{ops}")
    for op, ours, theirs in agreement.op_diffs:
        parts.append(f"{op}: {giga(theirs)} vs {giga(ours)}")
    if abs(agreement.unattributed) > 0.0005 * agreement.modellens_flops:
        parts.append(f"in no module's own count: {giga(agreement.unattributed)}")
    return "; ".join(parts) or "no per-module detail"


def agreement_table(runs: list[dict]) -> str:
    found = index(runs)
    rows = []
    for (tool, model), run in found.items():
        ours = found.get(("modellens", model))
        if tool == "modellens" or not run.get("ok") or not ours or not ours.get("ok"):
            continue
        agreement = compare(ours, run)
        theirs, ours_params = agreement.peer_params, agreement.modellens_params
        params = "—" if theirs is None else (
            "same" if theirs == ours_params else f"{theirs:,} ({theirs - ours_params:+,})")
        rows.append([
            BY_KEY[model].label, tool, giga(agreement.peer_flops),
            f"{100 * (agreement.ratio - 1):+.2f} %", params,
            class_reason(agreement) if agreement.needs_reason else "",
        ])
    return table(["model", "tool", "GFLOPs", "vs modellens", "params",
                  "largest per-module-class differences (tool vs modellens, GFLOPs)"], rows)


def scale_tables(scale: dict) -> str:
    rows = []
    for run in scale["modellens"]:
        label = BY_KEY[run["model"]].label
        if not run.get("ok"):
            rows.append([label, "fails", "", "", "", short_error(run)])
            continue
        rows.append([label, f"{run['params'] / 1e9:.2f} B", giga(run["flops"]),
                     f"{run['first_s']:.2f}", f"{run['median_s']:.2f}",
                     f"{run['rss_peak_mb']:,.0f}"])
    ours = table(["model", "params", "GFLOPs", "first profile() s", "warm median s",
                  "peak RSS MiB"], rows)
    on_meta = scale["peers_on_meta"]
    models = list(dict.fromkeys(r["model"] for r in on_meta))
    found = index(on_meta)
    meta_rows = []
    for tool in dict.fromkeys(r["tool"] for r in on_meta):
        row = [tool]
        for model in models:
            run = found[(tool, model)]
            row.append(f"{giga(run['flops'])} GFLOPs, {run['first_s']:.1f} s, "
                       f"{run['rss_peak_mb']:,.0f} MiB" if run.get("ok")
                       else f"fails: {short_error(run)[:60]}")
        meta_rows.append(row)
    real_rows = []
    for entry in scale["real_weights"]:
        peer = entry.get("peer_run")
        outcome = "not attempted: does not fit in RAM"
        if peer:
            outcome = (f"{peer['tool']}: {giga(peer['flops'])} GFLOPs, build "
                       f"{peer['build_s']:.0f} s, count {peer['first_s']:.1f} s, "
                       f"peak RSS {peer['rss_peak_mb']:,.0f} MiB"
                       if peer.get("ok") else f"{peer['tool']}: {peer.get('error', 'failed')}")
        real_rows.append([BY_KEY[entry["model"]].label, f"{entry['fp32_gb']}",
                          f"{entry['bf16_gb']}", outcome])
    return "\n\n".join([
        ours,
        "Peers on the same models built on the meta device (no weights): GFLOPs, count time, "
        "peak RSS",
        table(["tool"] + [BY_KEY[m].label for m in models], meta_rows),
        "Peers need real weights:",
        table(["model", "weights fp32 GiB", "bf16 GiB", "peer with real weights"], real_rows),
    ])


def cli_line(cli: dict) -> str:
    return (f"`{cli['command']}` (a fresh process each time): median "
            f"{statistics.median(cli['times_s']):.2f} s over {len(cli['times_s'])} runs "
            f"({', '.join(f'{t:.2f}' for t in cli['times_s'])}), "
            f"peak RSS {cli['rss_mb']:,.0f} MiB.")


def load_range(results: dict) -> str:
    scale = results.get("scale", {})
    runs = results["runs"] + scale.get("modellens", []) + scale.get("peers_on_meta", [])
    loads = [float(r["loadavg"].split()[0]) for r in runs if "loadavg" in r]
    return f"{min(loads):.2f}-{max(loads):.2f}" if loads else "?"


def render(results: dict) -> str:
    env, runs = results["environment"], results["runs"]
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items() if v)
    parts = [
        f"Run {env['date']} on {env['cpu']}, {env['cores']} cores, {env['ram_gb']} GB RAM; "
        f"Python {env['python']}; {versions}. Load average (1/5/15 min) at start "
        f"{results['load']['loadavg_at_start']}, at end {results['load'].get('loadavg_at_end')}; "
        f"1-min load after each measurement {load_range(results)}.",
        "### Forward GFLOPs (FLOPs = 2 x MACs)", per_model_table(runs, "flops"),
        "### Counting time, s (median, model already built)", per_model_table(runs, "median_s"),
        speed_summary(runs),
        "### CPU time of the counting call, s (median; all threads, so less disturbed by other "
        "load on the machine; modellens' includes its meta build)",
        per_model_table(runs, "cpu_median_s"), speed_summary(runs, "cpu_median_s"),
        "### Peak RSS of the process, MiB (imports + model + counting)",
        per_model_table(runs, "rss_peak_mb"),
        "### Params, M", per_model_table(runs, "params"),
        "### modellens vs FlopCounterMode", torch_check(runs),
        "### Agreement with modellens", agreement_table(runs),
        "### Failures", failures(runs),
    ]
    if "scale" in results:
        parts += ["### Scale", scale_tables(results["scale"])]
    if "cli" in results:
        parts += ["### CLI", cli_line(results["cli"])]
    return "\n\n".join(parts) + "\n"
