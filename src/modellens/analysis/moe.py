"""Mixture-of-experts: total vs active parameters, and FLOPs with top-k vs every expert.

Routing assumption: every token goes to exactly `experts_per_token` experts (what the capture
measures: grouped expert GEMMs see tokens × k rows). Which experts receive them does not change
the total. Expert parameters are those under an `experts` module (`...experts.gate_up_proj`,
`...experts.3.w1.weight`); shared experts and routers are always active.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..capture import FORWARD
from ..io import JsonRecord

if TYPE_CHECKING:
    from .core import Analysis


@dataclass(frozen=True)
class MoEReport(JsonRecord):
    num_experts: int
    experts_per_token: int
    total_params: int
    expert_params: int
    active_params: int  # per token
    forward_flops_active: int  # matmul-class, top-k experts per token (as captured)
    forward_flops_all_experts: int  # if every token went through every expert
    routing: str = "each token to exactly experts_per_token experts"


def _is_expert_path(path: str) -> bool:
    parts = path.split(".")
    return "experts" in parts


def moe_report(analysis: Analysis, num_experts: int, experts_per_token: int) -> MoEReport:
    params = [p for p in analysis.capture.params if not p.is_buffer]
    total = sum(p.numel for p in params)
    expert = sum(p.numel for p in params if _is_expert_path(p.name))
    active = total - expert + expert * experts_per_token // num_experts
    expert_flops = dense_flops = 0
    for op, cost in analysis.items(FORWARD):
        if _is_expert_path(op.module):
            expert_flops += cost.flops
        else:
            dense_flops += cost.flops
    return MoEReport(
        num_experts=num_experts,
        experts_per_token=experts_per_token,
        total_params=total,
        expert_params=expert,
        active_params=active,
        forward_flops_active=dense_flops + expert_flops,
        forward_flops_all_experts=dense_flops + expert_flops * num_experts // experts_per_token,
    )
