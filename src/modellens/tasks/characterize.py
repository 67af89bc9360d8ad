"""`hardware --measure`: characterize the device this runs on and write a chip YAML.

Small probe modules (a grid of GEMMs from skinny to square, convolutions of common CNN
shapes, attention, elementwise ops, norms, softmax, reductions, pooling and data movement at
sizes from in-cache to beyond the last-level cache) are captured like any model, every unique
op configuration is timed alone on the device (`measure.ops`) in `PASSES` sweeps and its fastest
block kept (a machine shared with other work only ever adds time, so the fastest is what the
chip does), and its FLOPs and bytes come from the same cost registry the predictions use. From those samples: the peak matmul FLOP/s, the
memory bandwidth (largest streaming op), the fixed cost of an op and of a view, and the
efficiency curves of the time model (`hardware.fit`) with a shape table for GEMMs and
convolutions. Norms are probed as inference runs them (batch norm with running statistics).
The probes are never the models a
prediction is validated on.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import statistics
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from ..analysis.timeclass import gemm_dims, time_class
from ..capture import FORWARD
from ..costing.cost import op_cost
from ..dtypes import dtype_name
from ..hardware import Chip
from ..hardware.fit import Sample, fit_time_model
from ..hardware.timemodel import DEFAULT, TimeModel
from ..io import Progress
from ..measure.cache import device_name
from ..measure.ops import OpConfig, time_config, unique_configs
from ..sources import resolve
from .pipeline import capture_source

GEMMS = [(m, k, n) for m in (1, 8, 32, 128, 512, 2048)
         for k, n in ((256, 256), (768, 768), (768, 3072), (3072, 768), (1024, 4096),
                      (4096, 1024), (2048, 2048))]
CONVS = [  # (batch, in, out, kernel, stride, side, groups)
    (1, 3, 64, 7, 2, 224, 1), (1, 64, 64, 3, 1, 56, 1), (1, 64, 256, 1, 1, 56, 1),
    (1, 256, 64, 1, 1, 56, 1), (1, 128, 128, 3, 1, 28, 1), (1, 256, 256, 3, 1, 14, 1),
    (1, 512, 512, 3, 1, 7, 1), (1, 16, 16, 3, 2, 160, 1), (1, 3, 16, 3, 2, 640, 1),
    (1, 64, 128, 3, 2, 80, 1), (1, 3, 768, 16, 16, 224, 1), (1, 32, 64, 3, 1, 112, 1),
    (1, 128, 256, 1, 1, 28, 1), (1, 512, 2048, 1, 1, 7, 1), (1, 1024, 256, 1, 1, 14, 1),
    (1, 48, 96, 3, 2, 160, 1), (1, 256, 256, 3, 2, 28, 1), (1, 32, 32, 1, 1, 160, 1),
] + [(1, channels, channels, kernel, 1, side, channels)  # depthwise, as separable CNNs use
     for kernel in (3, 5, 7)
     for channels, side in ((48, 112), (96, 56), (192, 28), (480, 14), (960, 7))
] + [(1, 64, 64, 3, 2, 112, 64), (1, 240, 240, 5, 2, 28, 240)
] + [(1, cin, cout, 1, 1, side, 1)  # pointwise, few channels on large maps (oneDNN reorders)
     for side in (112, 56, 28, 14, 7) for cin in (16, 48, 144) for cout in (32, 96, 288)
] + [(1, 16, 32, 3, 2, 320, 1), (1, 32, 32, 3, 1, 80, 1), (1, 8, 16, 3, 1, 224, 1)]
SIZES = [2**p for p in range(10, 25, 2)]  # elements: 1 Ki .. 16 Mi
ATTENTION = [(1, 12, s, 64) for s in (16, 64, 128, 256, 512, 1024)]  # batch, heads, seq, dim
MULTI_HEAD = [(256, 8, 256), (512, 8, 100), (768, 12, 64), (768, 12, 256), (1024, 16, 128)]
MAX_FLOPS = 4e10  # larger GEMMs take too long on a laptop CPU and teach nothing new


class _Probe(nn.Module):
    def __init__(self, fn: Callable[..., torch.Tensor], weight: tuple[int, ...] | None = None):
        super().__init__()
        self.fn = fn
        self.weight = nn.Parameter(torch.empty(weight)) if weight else None

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.fn(*inputs, self.weight) if self.weight is not None else self.fn(*inputs)


def probes(dtype: torch.dtype) -> list[tuple[nn.Module, Callable[[], tuple]]]:
    """(module, make_inputs) pairs covering every op class at many sizes."""
    made: list[tuple[nn.Module, Callable[[], tuple]]] = []

    def add(fn, shapes, weight=None):
        made.append((_Probe(fn, weight),
                     lambda shapes=shapes: tuple(torch.randn(s, dtype=dtype) for s in shapes)))

    for m, k, n in GEMMS:
        if 2 * m * k * n <= MAX_FLOPS:
            add(lambda x, w: F.linear(x, w), [(m, k)], (n, k))
    for batch, cin, cout, kernel, stride, side, groups in CONVS:
        add(lambda x, w, s=stride, g=groups: F.conv2d(x, w, stride=s, padding=w.shape[-1] // 2
                                                      if s == 1 else 0, groups=g),
            [(batch, cin, side, side)], (cout, cin // groups, kernel, kernel))
    for b, h, s, d in ATTENTION:
        add(lambda q, k, v: F.scaled_dot_product_attention(q, k, v), [(b, h, s, d)] * 3)
        add(lambda a, b: torch.matmul(a, b.transpose(-1, -2)), [(b, h, s, d)] * 2)
    for n in SIZES:
        rows = max(1, n // 768)
        add(lambda x, y: x + y, [(n,), (n,)])
        add(lambda x: F.gelu(x) * torch.sigmoid(x), [(n,)])
        add(lambda x: F.layer_norm(x, x.shape[-1:]), [(rows, 768)])
        add(lambda x: torch.softmax(x, -1), [(rows, 768)])
        add(lambda x: x.sum(-1), [(rows, 768)])
        add(lambda x: torch.cat([x, x], 0).transpose(0, 1).contiguous(), [(rows, 768)])
        side = max(4, int((n // 64) ** 0.5))
        add(lambda x, mean, var: F.max_pool2d(x, 3, 2, 1) + F.batch_norm(x, mean, var.abs())
            .mean((2, 3), keepdim=True)[..., :1, :1], [(1, 64, side, side), (64,), (64,)])
    add(lambda x: x.view(-1), [(4, 4)])
    for embed, heads, seq in MULTI_HEAD:  # torch's fused multi-head attention (its fast path)
        mha = nn.MultiheadAttention(embed, heads, batch_first=True).to(dtype).eval()
        made.append((_SelfAttention(mha), lambda e=embed, s=seq: (torch.randn(1, s, e, dtype=dtype),)))
    return made


class _SelfAttention(nn.Module):
    def __init__(self, mha: nn.MultiheadAttention):
        super().__init__()
        self.mha = mha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mha(x, x, x, need_weights=False)[0]


@dataclass
class Characterization:
    chip: Chip
    samples: list[Sample]
    failures: list[str]
    in_model_overhead_s: float = 0.0  # added to every op's fixed cost (`_with_in_model_cost`)


PASSES = 2  # every probe is timed in this many sweeps; its fastest block counts


def characterize(device: torch.device, dtype: torch.dtype = torch.float32,
                 max_s_per_op: float = 0.15,
                 progress: Progress | None = None) -> Characterization:
    """Measure the probes on `device` and fit its chip (see the module docstring)."""
    configs: list[OpConfig] = []
    for module, make in probes(dtype):
        captured = capture_source(resolve(module, make), replay_blocks=False).capture
        configs.extend(unique_configs([op for op in captured.ops if op.phase == FORWARD]))
    fastest: dict[int, float] = {}
    errors: dict[int, str] = {}
    for sweep in range(PASSES):
        for i, config in enumerate(configs):
            result = time_config(config, device, max_s=max_s_per_op)
            if progress:
                progress(sweep * len(configs) + i + 1, PASSES * len(configs), config.name)
            if result.seconds is None:
                errors[i] = f"{config.name}: {result.error}"
            else:
                fastest[i] = min(fastest.get(i, math.inf), result.seconds.min_s)
    timed = [(configs[i], seconds) for i, seconds in sorted(fastest.items())]
    failures = [error for i, error in sorted(errors.items()) if i not in fastest]
    fitted = _fit(device, dtype, timed, failures)
    if device.type == "cpu":
        fitted = _with_weight_stream(fitted, device, dtype)
    return _with_in_model_cost(fitted, device, dtype)


STREAM_LAYERS, STREAM_SHAPE, STREAM_ROWS = 24, (4096, 1024), (16, 64, 128)  # 24 x 16 MiB fp32
STREAM_ROUNDS = 3


def weight_stream_bandwidth(device: torch.device, dtype: torch.dtype) -> float:
    """B/s at which a forward pass streams cold weights beyond what the same GEMMs cost with
    their weights in cache: a chain of distinct Linear layers (weights far beyond the caches,
    as a model's are) against one of them called as often, at a few batch sizes, in
    `STREAM_ROUNDS` alternating rounds. The extra seconds per weight byte are taken in time
    (their median; a chain no slower counts as 0), so noise around "no extra cost" gives a
    small term, not a wild rate; 0 when the median is not positive."""
    from ..measure.clock import measure

    torch.manual_seed(0)
    with torch.device(device):
        layers = [nn.Linear(STREAM_SHAPE[1], STREAM_SHAPE[0], bias=False).to(dtype)
                  for _ in range(STREAM_LAYERS)]
    weight = layers[0].weight.nbytes
    per_byte = []
    with torch.inference_mode():
        for _ in range(STREAM_ROUNDS):
            for rows in STREAM_ROWS:
                x = torch.randn(rows, STREAM_SHAPE[1], dtype=dtype, device=device)
                chain = lambda: [layer(x) for layer in layers]
                same = lambda: [layers[0](x) for _ in layers]
                cold = measure(chain, device, max_s=0.4).min_s
                hot = measure(same, device, max_s=0.4).min_s
                per_byte.append(max(0.0, (cold - hot) / len(layers)) / weight)
    seconds_per_byte = statistics.median(per_byte)
    return 1.0 / seconds_per_byte if seconds_per_byte > 0 else 0.0


def _with_weight_stream(fitted: Characterization, device: torch.device,
                        dtype: torch.dtype) -> Characterization:
    model = fitted.chip.time_model
    stream = weight_stream_bandwidth(device, dtype)
    chip = fitted.chip.with_time_model(dataclasses.replace(model, weight_stream_bandwidth=stream))
    return dataclasses.replace(fitted, chip=chip)


def probe_networks(dtype: torch.dtype) -> list[tuple[nn.Module, Callable[[], tuple]]]:
    """Small networks run end to end, as models run (nn.Module calls, ops back to back): what a
    forward costs beyond the sum of its ops timed alone."""
    mlp = nn.Sequential(*[nn.Sequential(nn.Linear(256, 256), nn.GELU(), nn.LayerNorm(256))
                          for _ in range(6)]).to(dtype)
    cnn = nn.Sequential(*[nn.Sequential(nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32),
                                        nn.ReLU()) for _ in range(6)]).to(dtype)
    return [(mlp, lambda: (torch.randn(64, 256, dtype=dtype),)),
            (cnn, lambda: (torch.randn(1, 32, 32, 32, dtype=dtype),))]


def _with_in_model_cost(fitted: Characterization, device: torch.device,
                        dtype: torch.dtype) -> Characterization:
    """Add to every op's fixed cost what ops cost inside a running model beyond their isolated
    times (module calls, dispatch between ops): per probe network, (end to end − the sum of its
    own ops timed alone, measured back to back) / ops; the median over the networks, never
    negative."""
    from ..measure.clock import measure

    extra = []
    for module, make in probe_networks(dtype):
        captured = capture_source(resolve(module, make), replay_blocks=False)
        forward = [op for op in captured.capture.ops if op.phase == FORWARD]
        alone = 0.0
        for config in unique_configs(forward):
            result = time_config(config, device, max_s=0.05)
            alone += config.calls * (result.seconds.min_s if result.seconds else 0.0)
        with torch.device(device):
            real, inputs = module.to(device).eval(), make()
        with torch.inference_mode():
            seconds = measure(lambda: real(*inputs), device, max_s=0.5).min_s
        extra.append(max(0.0, (seconds - alone) / len(forward)))
    added = statistics.median(extra)
    model = fitted.chip.time_model
    overheads = {cls: value + added for cls, value in model.overhead_s.items()}
    chip = fitted.chip.with_time_model(dataclasses.replace(model, overhead_s=overheads))
    return Characterization(chip, fitted.samples, fitted.failures, added)


def _fit(device: torch.device, dtype: torch.dtype, timed: list[tuple[OpConfig, float]],
         failures: list[str]) -> Characterization:
    rows = []
    for config, seconds in timed:
        op = config.records[0]
        cost = op_cost(op)
        op_class = time_class(op, cost)
        rows.append((op_class, cost, gemm_dims(op, op_class), seconds))
    peak = max(c.flops_all / s for cls, c, _, s in rows if cls == "matmul")
    streaming = [c.bytes / s for cls, c, _, s in rows if cls == "elementwise" and c.bytes > 2**26]
    bandwidth = max(streaming) if streaming else max(c.bytes / s for _, c, _, s in rows)
    views = [s for cls, _, _, s in rows if cls == "view"]
    smallest = sorted(s for cls, c, _, s in rows if cls == "elementwise")[:3]
    overhead = {DEFAULT: statistics.median(smallest) / 2, "view": statistics.median(views)}
    samples = [Sample(cls, c.flops_all, c.bytes, peak, bandwidth, s, gemm)
               for cls, c, gemm, s in rows if cls != "view"]
    name = _device_name(device)
    source = (f"measured by `modellens hardware --measure` on {datetime.date.today()}, "
              f"torch {torch.__version__}, {torch.get_num_threads()} threads, {dtype_name(dtype)}")
    model: TimeModel = fit_time_model(samples, overhead_s=overhead, shape_tables=True,
                                      source=source)
    chip = Chip(id=_device_id(device), name=name, peak_flops={_peak_key(dtype): peak},
                memory_bandwidth=bandwidth, memory_bytes=_memory_bytes(device), source=source,
                vendor="measured", time_model=model)
    return Characterization(chip, samples, failures)


def _peak_key(dtype: torch.dtype) -> str:
    return {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32")


def _device_name(device: torch.device) -> str:
    name = device_name(device)
    return name if device.type == "cuda" else f"{name} ({torch.get_num_threads()} threads)"


def _device_id(device: torch.device) -> str:
    return "measured-" + ("cuda" if device.type == "cuda" else "cpu")


def _memory_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    try:
        import os

        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0
