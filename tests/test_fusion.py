"""Fused execution (`analysis.fusion`): which ops form one kernel, what bytes that kernel moves
(counted by hand here), and that a fused time is the kernel's time while a lone op keeps its
eager time."""

import math

import pytest
import torch
from torch import nn

from modellens.analysis import Analysis
from modellens.analysis.fusion import fusion_groups
from modellens.analysis.roofline import is_timed, op_time
from modellens.analysis.timeclass import time_class
from modellens.capture import FORWARD, SampleInputs, capture
from modellens.hardware import get_chip

HIDDEN, TOKENS = 256, 64
FP16 = 2  # bytes


class RMSNormBetweenLinears(nn.Module):
    """Linear -> an eager RMSNorm (fp32 upcast, pow, mean, add, rsqrt, mul, downcast, scale)
    -> Linear: the chain a serving engine runs as one kernel."""

    def __init__(self):
        super().__init__()
        self.up = nn.Linear(HIDDEN, HIDDEN, bias=False)
        self.scale = nn.Parameter(torch.ones(HIDDEN))
        self.down = nn.Linear(HIDDEN, HIDDEN, bias=False)

    def forward(self, x):
        h = self.up(x).float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-6)
        return self.down(h.to(torch.float16) * self.scale)


class ReluBetweenLinears(nn.Module):
    def __init__(self):
        super().__init__()
        self.up, self.down = nn.Linear(HIDDEN, HIDDEN), nn.Linear(HIDDEN, HIDDEN)

    def forward(self, x):
        return self.down(torch.relu(self.up(x)))


def _analysis(module) -> Analysis:
    make = lambda: SampleInputs((torch.randn(TOKENS, HIDDEN, dtype=torch.float16),))
    return Analysis(capture(module.half(), make))


def _classed(analysis):
    return [(op, cost, time_class(op, cost) if is_timed(cost) else "")
            for op, cost in analysis.items(FORWARD)]


def test_the_norm_chain_is_one_kernel_reading_its_input_and_scale_and_writing_its_output():
    classed = _classed(_analysis(RMSNormBetweenLinears()))
    groups = [g for g in fusion_groups(classed) if len(g.members) > 1]
    assert len(groups) == 1
    names = [classed[m][0].packet for m in groups[0].members]
    assert {"aten.pow", "aten.mean", "aten.rsqrt"} <= set(names)
    # the linear's fp16 output in, the fp16 scale vector in, the fp16 normed tensor out:
    # every fp32 intermediate stays in registers
    assert groups[0].bytes == TOKENS * HIDDEN * FP16 + HIDDEN * FP16 + TOKENS * HIDDEN * FP16
    eager = sum(classed[m][1].bytes for m in groups[0].members)
    assert eager > 5 * groups[0].bytes


def test_matrix_ops_are_kernels_of_their_own_and_every_timed_op_is_in_one_group():
    classed = _classed(_analysis(RMSNormBetweenLinears()))
    groups = fusion_groups(classed)
    members = sorted(m for g in groups for m in g.members)
    assert members == [i for i, (_, _, c) in enumerate(classed) if c]
    for group in groups:
        classes = {classed[m][2] for m in group.members}
        assert not ({"matmul", "attention", "conv"} & classes) or len(group.members) == 1


def test_fused_time_is_the_kernels_time_spread_over_its_ops():
    analysis = _analysis(RMSNormBetweenLinears())
    chip = get_chip("a100")
    classed = _classed(analysis)
    group = next(g for g in fusion_groups(classed) if len(g.members) > 1)
    flops = sum(classed[m][1].flops_all for m in group.members)
    heaviest = max(group.members, key=lambda m: group.charged_bytes[m])
    kernel = chip.op_time(classed[heaviest][2], flops, group.bytes, "float32"
                          if classed[heaviest][0].inputs[0].dtype == "float32" else "float16")
    fused = analysis.roofline(chip, execution="fused")
    assert math.isclose(sum(fused.timings[m].time_s for m in group.members), kernel.time_s,
                        rel_tol=1e-9)
    eager = analysis.roofline(chip)
    others = [i for i, t in enumerate(eager.timings) if t is not None and i not in group.members]
    for i in others:  # the linears: unchanged
        assert fused.timings[i] == eager.timings[i]
    assert fused.phase(FORWARD).time_s < eager.phase(FORWARD).time_s


def test_a_lone_op_between_matmuls_keeps_its_eager_time():
    analysis = _analysis(ReluBetweenLinears())
    chip = get_chip("h100")
    fused, eager = analysis.roofline(chip, execution="fused"), analysis.roofline(chip)
    assert fused.timings == eager.timings
    # eager also charges the views' dispatch; fused kernels run without it
    views = sum(1 for t, (_, c) in zip(eager.timings, analysis.items()) if t is None)
    assert math.isclose(eager.phase(FORWARD).time_s - fused.phase(FORWARD).time_s,
                        views * chip.time_model.overhead("view"), rel_tol=1e-9, abs_tol=1e-15)


def test_an_in_place_cache_write_is_charged_its_slice_not_the_buffer():
    class CacheWrite(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(HIDDEN, HIDDEN, bias=False)
            self.register_buffer("cache", torch.zeros(4096, HIDDEN, dtype=torch.float16))

        def forward(self, x):
            h = self.proj(x) * 2
            self.cache.index_copy_(0, torch.arange(TOKENS), h)
            return self.proj(self.cache[:TOKENS] + 1)

    analysis = _analysis(CacheWrite())
    classed = _classed(analysis)
    for group in fusion_groups(classed):
        for m in group.members:
            assert group.charged_bytes[m] <= classed[m][1].bytes
    fused = [g for g in fusion_groups(classed) if len(g.members) > 1]
    assert fused and all(g.bytes < 4096 * HIDDEN * FP16 for g in fused)


def test_unknown_execution_is_a_clear_error():
    with pytest.raises(ValueError, match="execution"):
        _analysis(ReluBetweenLinears()).roofline(get_chip("a100"), execution="compiled")


def test_op_time_loop_is_unchanged_in_eager_execution():
    analysis = _analysis(RMSNormBetweenLinears())
    chip = get_chip("a100")
    eager = analysis.roofline(chip)
    for timing, (op, cost) in zip(eager.timings, analysis.items()):
        assert timing == (op_time(op, cost, chip) if is_timed(cost) else None)


def test_llm_times_fused_kernels_by_default_and_eager_on_request():
    from pathlib import Path

    from modellens.errors import ConfigError
    from modellens.tasks.llm import llm_cost

    small = str(Path(__file__).parents[1] / "examples/validation/llama-small.json")
    kwargs = dict(prompt_len=128, gen_len=2, decode_points=1, training=False, hardware="a100")
    fused, eager = llm_cost(small, **kwargs), llm_cost(small, execution="eager", **kwargs)
    assert (fused.settings["execution"], eager.settings["execution"]) == ("fused", "eager")
    # the same work: FLOPs and (eager) bytes agree, only the kernels' time differs
    assert fused.prefill.flops == eager.prefill.flops and fused.prefill.bytes == eager.prefill.bytes
    assert fused.time_to_first_token_s < eager.time_to_first_token_s
    assert fused.decode[0].step.time_s < eager.decode[0].step.time_s
    with pytest.raises(ConfigError, match="execution"):
        llm_cost(small, execution="compiled", **kwargs)
