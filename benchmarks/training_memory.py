"""Predicted vs measured peak memory of a training step on this CPU.

Predicted: `modellens.profile(model, inputs, optimizer=..., activation_checkpointing=...)`,
`memory.training_peak_bytes` (fake capture, no memory used). Measured: the same model, inputs
and optimizer run for real, three steps, under `torch.profiler.profile(profile_memory=True)`:
every allocation and free the CPU allocator reports, summed in time order from an empty start
(the model, its optimizer and inputs are made inside the profiler); the peak is the highest
running total, the steady state being the third step. A step is written as the capture runs
it: outputs = model(inputs); backward from ones on every floating output; optimizer step;
gradients set to None. Models run in train mode with dropout off (the capture runs in eval mode
and has no dropout masks).

    PYTHONPATH=src python benchmarks/training_memory.py [--only NAME] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import torch
from torch import nn

STEPS = 3


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], nn.Module]
    inputs: Callable[[], Any]  # a tensor or a dict of keyword inputs
    batch: str
    optimizer: str
    checkpointing: bool = False


@dataclass(frozen=True)
class Row:
    model: str
    batch: str
    optimizer: str
    checkpointing: bool
    predicted_bytes: int
    measured_bytes: int

    @property
    def error(self) -> float:
        return self.predicted_bytes / self.measured_bytes - 1


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(1024, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(),
                         nn.Linear(4096, 1000))


def _tv(name: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import torchvision

        return getattr(torchvision.models, name)()
    return build


def _bert_small() -> nn.Module:
    from transformers import BertConfig, BertModel

    return BertModel(BertConfig(hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                                intermediate_size=1024, hidden_dropout_prob=0.0,
                                attention_probs_dropout_prob=0.0))


def _gpt2() -> nn.Module:
    from transformers import GPT2Config, GPT2LMHeadModel

    return GPT2LMHeadModel(GPT2Config(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                                      use_cache=False))


def _images(batch: int, size: int = 224) -> Callable[[], torch.Tensor]:
    return lambda: torch.randn(batch, 3, size, size)


def _tokens(batch: int, seq: int, vocab: int) -> Callable[[], dict]:
    return lambda: {"input_ids": torch.randint(0, vocab, (batch, seq))}


CASES = [
    Case("mlp-1024-4096-4096-1000", _mlp, lambda: torch.randn(64, 1024), "64", "sgd"),
    Case("mlp-1024-4096-4096-1000", _mlp, lambda: torch.randn(64, 1024), "64", "adamw"),
    Case("resnet18", _tv("resnet18"), _images(8), "8×224²", "sgd-momentum"),
    Case("resnet18", _tv("resnet18"), _images(8), "8×224²", "sgd-momentum", checkpointing=True),
    Case("resnet50", _tv("resnet50"), _images(8), "8×224²", "adamw"),
    Case("mobilenet_v2", _tv("mobilenet_v2"), _images(8), "8×224²", "adam"),
    Case("bert-small (4 layers, 256)", _bert_small, _tokens(8, 128, 30522), "8×128", "adamw"),
    Case("bert-small (4 layers, 256)", _bert_small, _tokens(8, 128, 30522), "8×128", "sgd"),
    Case("bert-small (4 layers, 256)", _bert_small, _tokens(8, 128, 30522), "8×128", "sgd",
         checkpointing=True),
    Case("gpt2 (124M, LM head)", _gpt2, _tokens(2, 64, 50257), "2×64", "adamw"),
    Case("gpt2 (124M, LM head)", _gpt2, _tokens(2, 128, 50257), "2×128", "sgd"),
    Case("gpt2 (124M, LM head)", _gpt2, _tokens(2, 128, 50257), "2×128", "sgd",
         checkpointing=True),
]

OPTIMIZERS = {
    "none": None,
    "sgd": lambda p: torch.optim.SGD(p, lr=1e-3),
    "sgd-momentum": lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9),
    "adam": lambda p: torch.optim.Adam(p, lr=1e-3),
    "adamw": lambda p: torch.optim.AdamW(p, lr=1e-3),
}


def predict(case: Case) -> tuple[int, list[str]]:
    """modellens' training peak, and the blocks it checkpoints."""
    import modellens
    from modellens.analysis.training_peak import checkpoint_blocks

    torch.manual_seed(0)
    with torch.device("meta"):
        model = case.build()
    result = modellens.profile(model, case.inputs(), optimizer=case.optimizer,
                               activation_checkpointing=case.checkpointing)
    blocks = checkpoint_blocks(result.analysis.capture) if case.checkpointing else []
    return result.memory.training_peak_bytes, blocks


def measure(case: Case, blocks: list[str]) -> int:
    """The CPU allocator's peak over `STEPS` real training steps, from an empty start."""
    return measured_peak(case.build, case.inputs, case.optimizer, blocks)


def measured_peak(build: Callable[[], nn.Module], make_inputs: Callable[[], Any],
                  optimizer: str, blocks: list[str] = (), steps: int = STEPS) -> int:
    """Peak of the CPU allocator's reported allocations over `steps` real training steps of
    `build()` on `make_inputs()` with `optimizer` (an `OPTIMIZERS` name), the `blocks` run
    under torch.utils.checkpoint; model, optimizer and inputs made inside the profiler."""
    from torch.profiler import ProfilerActivity, profile

    torch.manual_seed(0)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        model = build().train()
        for path in blocks:
            _checkpointed(model.get_submodule(path))
        make = OPTIMIZERS[optimizer]
        opt = make(model.parameters()) if make else None
        inputs = make_inputs()
        for _ in range(steps):
            _step(model, inputs, opt)
        del model, opt, inputs
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    live = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        live += event.nbytes()
        peak = max(peak, live)
    return peak


def _step(model: nn.Module, inputs: Any, optimizer) -> None:
    """One step as the capture runs it; its locals (outputs) die when it returns."""
    from modellens.capture.records import iter_tensors

    output = model(**inputs) if isinstance(inputs, dict) else model(inputs)
    roots = [t for t in iter_tensors(output) if t.requires_grad and t.is_floating_point()]
    seeds = [torch.ones_like(t) for t in roots]
    torch.autograd.backward(roots, seeds)
    del seeds
    if optimizer is not None:
        optimizer.step()
    model.zero_grad(set_to_none=True)


def _checkpointed(module: nn.Module) -> None:
    """Run `module` under torch.utils.checkpoint (non-reentrant), as the prediction assumes."""
    from torch.utils.checkpoint import checkpoint

    forward = module.forward
    module.forward = lambda *a, **k: checkpoint(forward, *a, use_reentrant=False, **k)


def run(cases: list[Case]) -> list[Row]:
    rows = []
    for case in cases:
        started = time.perf_counter()
        predicted, blocks = predict(case)
        measured = measure(case, blocks)
        row = Row(case.name, case.batch, case.optimizer, case.checkpointing, predicted, measured)
        rows.append(row)
        print(f"{row.model:30} {row.batch:8} {row.optimizer:13} ckpt={row.checkpointing!s:5} "
              f"predicted {predicted / 2**20:9.2f} MiB  measured {measured / 2**20:9.2f} MiB  "
              f"error {row.error:+.1%}  ({time.perf_counter() - started:.0f} s)", flush=True)
    return rows


def markdown(rows: list[Row]) -> str:
    lines = ["| Model | Batch | Optimizer | Checkpointing | Predicted | Measured | Error |",
             "|---|---|---|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r.model} | {r.batch} | {r.optimizer} | "
                     f"{'yes' if r.checkpointing else 'no'} | {r.predicted_bytes / 2**20:.1f} MiB"
                     f" | {r.measured_bytes / 2**20:.1f} MiB | {r.error:+.1%} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="cases whose model name contains this")
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args(argv)
    cases = [c for c in CASES if not args.only or args.only in c.name]
    rows = run(cases)
    print(markdown(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{**asdict(r), "error": r.error} for r in rows], f, indent=1)
    return 0 if all(abs(r.error) <= 0.10 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
