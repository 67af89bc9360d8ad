"""Parameter counts: totals, trainable, by dtype; tied tensors counted once."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..capture import ParamRecord


@dataclass(frozen=True)
class ParamCounts:
    total: int
    trainable: int
    non_trainable: int
    by_dtype: dict[str, int] = field(default_factory=dict)
    buffers: int = 0  # buffer elements (running stats, position ids), not parameters
    params_bytes: int = 0
    buffers_bytes: int = 0

    def to_dict(self) -> dict:
        return {
            "total": self.total,
            "trainable": self.trainable,
            "non_trainable": self.non_trainable,
            "by_dtype": dict(self.by_dtype),
            "buffers": self.buffers,
        }


def count_params(records: list[ParamRecord]) -> ParamCounts:
    params = [r for r in records if not r.is_buffer]
    buffers = [r for r in records if r.is_buffer]
    by_dtype: dict[str, int] = {}
    for record in params:
        by_dtype[record.dtype] = by_dtype.get(record.dtype, 0) + record.numel
    trainable = sum(r.numel for r in params if r.requires_grad)
    total = sum(r.numel for r in params)
    return ParamCounts(
        total=total,
        trainable=trainable,
        non_trainable=total - trainable,
        by_dtype=by_dtype,
        buffers=sum(r.numel for r in buffers),
        params_bytes=sum(r.nbytes for r in params),
        buffers_bytes=sum(r.nbytes for r in buffers),
    )
