"""Deliberate breaks of the figures the issue names, each run against the tests that pin it:
the manual complement of `mutmut run` (which cannot mutate code that runs at import, such as
the registry's conventions, and is slow on shared CPUs). Each break edits one source line,
runs the named tests, and puts the file back. A break no test catches is a survivor.

    PYTHONPATH=src python benchmarks/mutation/breaks.py [FIGURE ...]   # one line per break
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "modellens"


@dataclass(frozen=True)
class Break:
    figure: str
    path: str  # under src/modellens
    old: str
    new: str
    tests: tuple[str, ...]


FORMULAS = "tests/test_formulas.py"
PINNED = "tests/test_pinned.py"
ATTENTION = "tests/test_attention_flops.py"
BREAKS = [
    Break("softmax 5 FLOPs/element", "costing/elementwise.py",
          'category=SOFTMAX, per_element=PerElement(5))', 'category=SOFTMAX, per_element=PerElement(6))',
          (FORMULAS,)),
    Break("softmax backward 4", "costing/elementwise.py",
          'category=SOFTMAX,\n            per_element=PerElement(4))',
          'category=SOFTMAX,\n            per_element=PerElement(5))', (FORMULAS, PINNED)),
    Break("layer norm 5 (+2)", "costing/elementwise.py",
          "per_element=PerElement(5, INPUT, optional_arg=2, optional=2))",
          "per_element=PerElement(5, INPUT, optional_arg=2, optional=1))", (FORMULAS,)),
    Break("eval batch norm 2 (+2)", "costing/elementwise.py",
          "PerElement(2, INPUT, 1, 2)", "PerElement(3, INPUT, 1, 2)", (FORMULAS,)),
    Break("batch norm by its training flag", "costing/elementwise.py",
          'return (self.train if op.attributes()', 'return (self.train if not op.attributes()',
          (FORMULAS,)),
    Break("rms norm 4 (+1)", "costing/elementwise.py",
          "PerElement(4, INPUT, optional_arg=2, optional=1)",
          "PerElement(4, INPUT, optional_arg=2, optional=2)", (FORMULAS,)),
    Break("norm backward 10", "costing/elementwise.py",
          "per_element=PerElement(10, INPUT))", "per_element=PerElement(9, INPUT))",
          (FORMULAS, PINNED)),
    Break("conv backward per group", "costing/matmul.py",
          "int(bool(output_mask[0])) + int(bool(output_mask[1]))",
          "int(bool(output_mask[0])) + 2 * int(bool(output_mask[1]))", (FORMULAS,)),
    Break("FLOPS_PER_MAC = 2 (the MACs column)", "costing/cost.py",
          "        return self.flops // FLOPS_PER_MAC", "        return self.flops // 1",
          (PINNED,)),
    Break("vector peak = fp32 rate", "hardware/__init__.py",
          'return min(self.peak_flops["fp32"], self.peak(dtype, matmul=True))',
          'return self.peak(dtype, matmul=True)', (PINNED,)),
    Break("ridge point = peak / bandwidth", "hardware/__init__.py",
          "return self.peak(dtype) / self.memory_bandwidth",
          "return self.peak(dtype, matmul=False) / self.memory_bandwidth", (PINNED,)),
    Break("roofline time = max(compute, memory)", "analysis/roofline.py",
          "return max(compute, memory), compute, memory",
          "return compute + memory, compute, memory", (PINNED,)),
    Break("tokens/day", "analysis/training.py",
          "return mfu * peak_flops * gpus / flops_per_token * 86_400",
          "return mfu * peak_flops * gpus / flops_per_token * 86_000", (PINNED,)),
    Break("max batch", "tasks/llm.py",
          "per_sequence = kv * context + peak // batch",
          "per_sequence = kv * context + peak", (PINNED,)),
    Break("max context", "tasks/llm.py",
          "per_token = kv * batch + peak // prompt_len",
          "per_token = kv * batch", (PINNED,)),
    Break("causal pairs S(S+1)/2", "costing/attention.py",
          "return q_len * (k_len - q_len) + q_len * (q_len + 1) // 2",
          "return q_len * (k_len - q_len) + q_len * q_len // 2", (ATTENTION,)),
    Break("causal: torch's is_causal top-left", "analysis/attention.py",
          '    if op.attributes().get("is_causal"):\n        return START',
          '    if op.attributes().get("is_causal"):\n        return END', (ATTENTION,)),
    Break("cross-attention stays full", "analysis/attention.py",
          'return END if record.attributes["is_causal"] is True else None',
          "return END", (ATTENTION,)),
    Break("ring all-reduce 2(n-1)/n", "hardware/__init__.py",
          "2 * (devices - 1) / devices * nbytes", "2 * devices / devices * nbytes", (PINNED,)),
    # mutmut's survivors of the first time-boxed run, now pinned
    Break("all-reduce over 2 devices (mutmut)", "hardware/__init__.py",
          "if devices <= 1 or nbytes <= 0:", "if devices <= 2 or nbytes <= 0:", (PINNED,)),
    Break("all-reduce of 0 bytes (mutmut)", "hardware/__init__.py",
          "if devices <= 1 or nbytes <= 0:", "if devices <= 1 or nbytes < 0:", (PINNED,)),
    Break("all-reduce of 1 byte (mutmut)", "hardware/__init__.py",
          "if devices <= 1 or nbytes <= 0:", "if devices <= 1 or nbytes <= 1:", (PINNED,)),
    Break("wave efficiency: tiles along m (mutmut)", "hardware/timemodel.py",
          "math.ceil(m / tile[0])", "math.ceil(m / tile[1])", (PINNED,)),
    Break("wave efficiency: tile padding (mutmut)", "hardware/timemodel.py",
          "(tiles_m * tile[0] * tiles_n", "(tiles_m * tile[1] * tiles_n", (PINNED,)),
    Break("matmul-like names skip the namespace (mutmut)", "analysis/flops.py",
          '.split(".", 1)[-1]', '.split(".", 1)[0]', (PINNED,)),
    Break("matmul kinds: conv (import time)", "costing/matmul.py",
          "kind = CONV if name in _TORCH_CONV else", "kind = MATMUL if name in _TORCH_CONV else",
          (PINNED,)),
]


def run(item: Break) -> bool:
    """True when a test fails with the break in place (the break is killed)."""
    path = SRC / item.path
    original = path.read_text()
    if original.count(item.old) != 1:
        raise SystemExit(f"{item.figure}: the line to break is not in {item.path} exactly once")
    try:
        path.write_text(original.replace(item.old, item.new))
        done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:xdist",
                               *item.tests], cwd=ROOT, capture_output=True, text=True)
    finally:
        path.write_text(original)
    return done.returncode != 0


def main(names: list[str]) -> int:
    """Run every break, or those whose figure contains one of `names`."""
    survivors = 0
    for item in BREAKS:
        if names and not any(name in item.figure for name in names):
            continue
        killed = run(item)
        survivors += not killed
        print(f"{'killed  ' if killed else 'SURVIVED'}  {item.figure}  ({item.path})", flush=True)
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
