"""The real-tensor fallback is seeded: value-dependent counts repeat, the caller's RNG is kept;
detectors say the size they ran at and the boxes their FLOPs depend on."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from modellens.analysis import Analysis
from modellens.capture import SampleInputs, capture
from modellens.capture.run import REAL_SEED


class _KeepsPositive(nn.Module):
    """A matmul over as many rows as the linear layer's outputs are positive: its FLOPs depend
    on the weights (nonzero forces the real-tensor fallback)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 256)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kept = torch.nonzero(self.fc(x)[0] > 0).flatten()
        return torch.ones(kept.numel(), 32) @ torch.ones(32, 16)


def _flops() -> tuple[int, int]:
    """(forward FLOPs, rows kept) of one capture of the model built on meta."""
    with torch.device("meta"):
        model = _KeepsPositive()
    cap = capture(model, lambda: SampleInputs((torch.ones(1, 8),)), rebuild_real=_KeepsPositive)
    assert cap.method == "real"
    assert any(f"seed {REAL_SEED}" in note for note in cap.notes)
    mm = next(op for op in cap.ops if op.packet == "aten.mm")
    return Analysis(cap).totals().forward, mm.inputs[0].shape[0]


def _positive(seed: int) -> int:
    torch.manual_seed(seed)
    return int((nn.Linear(8, 256)(torch.ones(1, 8))[0] > 0).sum())


def test_real_fallback_repeats_and_keeps_the_callers_rng():
    assert len({_positive(1), _positive(2), _positive(REAL_SEED)}) == 3  # the draws differ
    torch.manual_seed(1)
    first, rows = _flops()
    torch.manual_seed(2)  # another caller state: the same count
    second, _ = _flops()
    assert first == second
    # hand count: the linear (2·1·8·256) and kept rows × 32 × 16 MACs of the mm
    assert first == 2 * 8 * 256 + 2 * rows * 32 * 16
    assert 0 < rows < 256  # a real draw, not all or nothing
    assert rows == _positive(REAL_SEED)  # the seeded weights are what decided
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    assert torch.equal(torch.get_rng_state(), before)
    _flops()
    assert torch.equal(torch.get_rng_state(), before)  # the capture put the caller's state back


@pytest.mark.slow
def test_mask_rcnn_repeats_and_says_what_it_ran_at():
    from modellens.tasks.profile import profile

    first = profile("tv:maskrcnn_resnet50_fpn")
    second = profile("tv:maskrcnn_resnet50_fpn")
    assert first.flops == second.flops
    assert first.capture_method == "real"
    assert "the model ran at 3x800x800" in first.input_description  # min_size 800 of 224²
    kept = next(n for n in first.notes if n.startswith("FLOPs depend on the boxes kept"))
    assert "1000 proposals kept by the RPN" in kept  # rpn post_nms_top_n_test
    assert "detections kept (mask head input)" in kept
