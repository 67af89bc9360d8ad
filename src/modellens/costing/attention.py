"""The attention FLOP convention: "full" (torch's, every query against every key) or "causal"
(only the (query, key) pairs a causal mask keeps), for the QKᵀ and AV products of attention
kernels.

Which pairs a causal mask keeps, for `q` queries against `k` keys:
  aligned "end"    query i sits at key position k - q + i and attends keys at positions <= its
                   own: the mask a causal LM builds, right with a KV cache (decode: q = 1
                   attends all k keys). q = k = S: S(S+1)/2 pairs.
  aligned "start"  query i attends keys 0..i: torch's `is_causal=True` (a top-left mask).
Both are exact counts, not a 1/2 factor: S(S+1)/2 of S² pairs is (S+1)/(2S) of the full count.
"""

from __future__ import annotations

from dataclasses import replace

from .cost import OpCost

FULL, CAUSAL = "full", "causal"
CONVENTIONS = (FULL, CAUSAL)
END, START = "end", "start"


def attended_pairs(q_len: int, k_len: int, aligned: str = END) -> int:
    """(query, key) pairs a causal mask keeps (see the module docstring)."""
    if q_len <= 0 or k_len <= 0:
        return 0
    if aligned == END:
        if q_len <= k_len:  # sum over i of (k - q + i + 1)
            return q_len * (k_len - q_len) + q_len * (q_len + 1) // 2
        return k_len * (k_len + 1) // 2  # the first q - k queries see no key
    if aligned == START:
        if q_len <= k_len:  # sum over i of (i + 1)
            return q_len * (q_len + 1) // 2
        return k_len * (k_len + 1) // 2 + (q_len - k_len) * k_len
    raise ValueError(f"aligned must be {END!r} or {START!r}, got {aligned!r}")


def causal_cost(cost: OpCost, q_len: int, k_len: int, aligned: str = END) -> OpCost:
    """`cost` of an attention kernel (every FLOP of it in QKᵀ and AV-shaped products, each
    proportional to q_len·k_len: forward and backward alike) with only the pairs a causal mask
    keeps counted. The per-element part of flops_all is unchanged."""
    full_pairs = q_len * k_len
    if not full_pairs:
        return cost
    flops = cost.flops * attended_pairs(q_len, k_len, aligned) // full_pairs
    return replace(cost, flops=flops, flops_all=cost.flops_all - cost.flops + flops)
