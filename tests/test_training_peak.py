"""Training peak memory (`memory.training_peak_bytes`): hand counts of a tiny MLP, optimizer
state sizes, mixed precision, checkpointing and the CUDA lines, and the CPU allocator's own
count of real training steps (torch.profiler memory events) as the measurement."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import modellens
from benchmarks.training_memory import measured_peak
from modellens.analysis.training_peak import (
    BLOCK_BYTES,
    CUDA_CONTEXT_BYTES,
    checkpoint_blocks,
    training_peak,
)
from modellens.errors import ConfigError

F32 = 4
B, D_IN, D_HID, D_OUT = 2, 8, 16, 4


def tiny_mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(D_IN, D_HID), nn.ReLU(), nn.Linear(D_HID, D_OUT))


NUMEL = D_IN * D_HID + D_HID + D_HID * D_OUT + D_OUT  # 212 parameters
WEIGHTS = NUMEL * F32
INPUT = B * D_IN * F32
OUTPUT = B * D_OUT * F32  # and the backward seed (ones of the output)
HIDDEN_GRAD = B * D_HID * F32


def _profile(model: nn.Module, x, **options):
    return modellens.profile(model, x, backward=True, **options)


def test_tiny_mlp_sgd_peak_is_the_hand_count():
    peak = _profile(tiny_mlp(), torch.randn(B, D_IN), optimizer="sgd").memory.training
    # the peak: layer 0's backward making the bias gradient: every gradient exists, the
    # hidden gradient it reads, the seed and the output are alive; nothing saved is left
    assert peak.at == "backward"
    assert peak.line("gradients") == WEIGHTS
    assert peak.line("activations saved for backward") == 0
    assert peak.line("backward temporaries") == OUTPUT + HIDDEN_GRAD
    assert peak.line("optimizer state") == 0
    assert peak.peak_bytes == WEIGHTS + INPUT + WEIGHTS + OUTPUT + OUTPUT + HIDDEN_GRAD == 1952


def test_tiny_mlp_adamw_peak_is_the_hand_count():
    result = _profile(tiny_mlp(), torch.randn(B, D_IN), optimizer="adamw")
    peak = result.memory.training
    largest = D_IN * D_HID * F32
    assert peak.line("optimizer state") == 2 * NUMEL * F32  # exp_avg + exp_avg_sq, fp32
    assert peak.line("optimizer step temporaries") == 2 * largest  # sqrt, then / correction
    # the step: weights, input, states, every gradient, the output, the temporaries
    assert peak.at == "optimizer step"
    assert peak.peak_bytes == WEIGHTS + INPUT + 2 * WEIGHTS + WEIGHTS + OUTPUT + 2 * largest
    assert result.memory.training_peak_bytes == peak.peak_bytes == 4512
    assert result.settings["optimizer"] == "adamw"


@pytest.mark.parametrize("optimizer, per_param", [("none", 0), ("sgd", 0), ("sgd-momentum", 4),
                                                  ("adam", 8), ("adamw", 8)])
def test_optimizer_state_bytes_per_parameter(optimizer, per_param):
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Flatten(), nn.LazyLinear(5))
    model(torch.randn(1, 3, 10, 10))  # materialise the lazy layer
    numel = sum(p.numel() for p in model.parameters())
    peak = _profile(model, torch.randn(2, 3, 10, 10), optimizer=optimizer).memory.training
    assert peak.line("optimizer state") == per_param * numel
    # torch's optimizer holds exactly these states (Adam's scalar step counters aside)
    make = {"sgd-momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
            "adam": lambda p: torch.optim.Adam(p), "adamw": lambda p: torch.optim.AdamW(p)}
    if optimizer in make:
        opt = make[optimizer](model.parameters())
        model(torch.randn(2, 3, 10, 10)).sum().backward()
        opt.step()
        state = sum(t.numel() * t.element_size() for s in opt.state.values()
                    for t in s.values() if isinstance(t, torch.Tensor) and t.dim() > 0)
        assert state == per_param * numel


def test_mixed_precision_adds_fp32_master_weights():
    peak = _profile(tiny_mlp(), torch.randn(B, D_IN), optimizer="adamw",
                    dtype="bf16").memory.training
    assert peak.mixed_precision
    assert peak.line("weights") == NUMEL * 2
    assert peak.line("optimizer state") == NUMEL * (4 + 8)  # master + exp_avg + exp_avg_sq
    assert peak.line("gradients") == NUMEL * 2


def test_measured_peak_of_real_steps_matches():
    """The CPU allocator's peak over real steps equals the prediction: exactly for SGD, and
    within AdamW's scalars (not modelled: a 4 B step counter per parameter tensor, and the
    0-dim tensors torch wraps Python numbers in during the step, 8 B each) for AdamW."""
    x = torch.randn(B, D_IN)
    for optimizer, slack in (("sgd", 0), ("adamw", 4 * (4 + 8))):
        predicted = _profile(tiny_mlp(), x, optimizer=optimizer).memory.training_peak_bytes
        measured = measured_peak(tiny_mlp, x.clone, optimizer)
        assert 0 <= measured - predicted <= slack, (optimizer, predicted, measured)


class Embed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding, self.norm = nn.Embedding(3000, 64), nn.LayerNorm(64)

    def forward(self, x):
        return self.norm(self.embedding(x))


def test_gradients_autograd_steals_are_not_copies():
    """On fake tensors AccumulateGrad copies the embedding's and the norm's gradients; a real
    run keeps the backward's own tensor (one 3000×64 gradient, not two)."""
    x = torch.randint(0, 3000, (4, 32))
    peak = _profile(Embed(), x, optimizer="sgd").memory.training
    grads = (3000 * 64 + 2 * 64) * F32
    assert peak.line("gradients") == grads
    assert peak.line("backward temporaries") < 3000 * 64 * F32
    assert measured_peak(Embed, x.clone, "sgd") == peak.peak_bytes


class Block(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d)

    def forward(self, x):
        return x + self.fc2(self.act(self.fc1(x)))


def stack() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(32, 64), *[Block(64) for _ in range(4)], nn.Linear(64, 10))


def test_checkpointing_blocks_and_reduction():
    n = 512
    x = torch.randn(n, 32)
    plain = _profile(stack(), x, optimizer="sgd")
    ckpt = _profile(stack(), x, optimizer="sgd", activation_checkpointing=True)
    assert checkpoint_blocks(ckpt.analysis.capture) == ["1", "2", "3", "4"]
    assert ckpt.memory.training.checkpointed_blocks == ["4 × Block"]
    # without checkpointing the peak is in the last block's GELU backward: the 4 block inputs
    # and every block's fc1 output (GELU's input) and GELU output (fc2's input) are saved,
    # but the last block's GELU output, which fc2's backward has just read
    hidden, width = n * 256 * F32, n * 64 * F32
    saved_plain = plain.memory.training.line("activations saved for backward")
    assert saved_plain == 4 * width + 7 * hidden
    # with it, a block's internals exist only while it is recomputed, one block at a time
    saved_ckpt = ckpt.memory.training.line("activations saved for backward")
    assert saved_ckpt <= 2 * hidden + 4 * width
    assert ckpt.memory.training_peak_bytes < 0.6 * plain.memory.training_peak_bytes
    # the CPU allocator over real steps (torch.utils.checkpoint, non-reentrant, on the blocks)
    assert measured_peak(stack, x.clone, "sgd") == plain.memory.training_peak_bytes
    measured = measured_peak(stack, x.clone, "sgd", ["1", "2", "3", "4"])
    assert ckpt.memory.training_peak_bytes == pytest.approx(measured, rel=0.01)


def test_checkpoint_blocks_of_a_resnet():
    import torchvision

    with torch.device("meta"):
        model = torchvision.models.resnet18()
    result = _profile(model, torch.randn(1, 3, 64, 64), activation_checkpointing=True)
    blocks = checkpoint_blocks(result.analysis.capture)
    assert blocks == [f"layer{i}.{j}" for i in range(1, 5) for j in range(2)]


def test_cuda_lines_on_an_nvidia_chip_only():
    x = torch.randn(B, D_IN)
    cpu = _profile(tiny_mlp(), x, optimizer="none").memory.training
    assert not any(line.name.startswith("CUDA") for line in cpu.lines)
    gpu = _profile(tiny_mlp(), x, optimizer="none", hardware="h100").memory.training
    # every tensor here is under 512 B: the 12 alive at the peak take a block each
    assert gpu.line("CUDA allocator block rounding") == 12 * BLOCK_BYTES - cpu.peak_bytes
    assert gpu.line("CUDA allocator segment rounding") == 2 * 2**20 - 12 * BLOCK_BYTES
    assert gpu.line("CUDA context") == CUDA_CONTEXT_BYTES
    assert gpu.peak_bytes == sum(line.bytes for line in gpu.lines)


def test_json_and_errors():
    result = _profile(tiny_mlp(), torch.randn(B, D_IN), optimizer="adam")
    memory = json.loads(json.dumps(result.to_dict()))["memory"]
    assert memory["training_peak_bytes"] == sum(x["bytes"] for x in memory["training"]["lines"])
    forward_only = modellens.profile(tiny_mlp(), torch.randn(B, D_IN))
    assert forward_only.memory.training_peak_bytes is None
    with pytest.raises(ConfigError, match="backward"):
        training_peak(forward_only.analysis)
    with pytest.raises(ConfigError, match="unknown optimizer"):
        modellens.profile(tiny_mlp(), torch.randn(B, D_IN), optimizer="lion")


def test_cli_optimizer_option(tmp_path, capsys):
    from modellens.cli import main

    out = tmp_path / "p.json"
    assert main(["profile", "tv:resnet18", "--image-size", "32", "--optimizer", "adamw",
                 "--activation-checkpointing", "--format", "json", "-o", str(out), "-q"]) == 0
    data = json.loads(out.read_text())
    assert data["settings"]["backward"] and data["memory"]["training"]["optimizer"] == "adamw"
    assert data["memory"]["training"]["checkpointed_blocks"] == ["8 × BasicBlock"]
    assert main(["profile", "tv:resnet18", "--image-size", "32", "--optimizer", "sgd"]) == 0
    assert "Training peak (sgd; at backward)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(["profile", "tv:resnet18", "--optimizer", "lion"])
    assert exit_.value.code == 2 and "invalid choice: 'lion'" in capsys.readouterr().err
