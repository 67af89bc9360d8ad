"""One small adapter per FLOP counter, all returning the same `Count`.

Forward FLOPs are in one convention, FLOPs = 2 x MACs: a tool that reports MACs (thop, ptflops,
torchinfo, torchprofile) or counts one fused multiply-add as one "flop" (fvcore) is doubled.
With `detail`, an adapter also returns the FLOPs it attributes to each module path itself (not to
a child), which `agreement` compares with modellens' per-module counts.
"""

from __future__ import annotations

import io
from contextlib import nullcontext, redirect_stdout
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from benchmarks.models import Subject

WRAPPER = "model"  # child name of the Positional wrapper; stripped from module paths


@dataclass
class Count:
    flops: int  # forward FLOPs (2 x MACs)
    params: int | None  # None: the tool does not count parameters
    modules: dict[str, int] | None = None  # own forward FLOPs per module path ("" = root)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Tool:
    name: str
    package: str  # distribution whose version is reported
    convention: str
    count: Callable[[Subject, bool], Count]
    needs_weights: bool = True  # runs the real model (False: modellens, from the spec)


def tensor_kwargs(subject: Subject) -> dict[str, torch.Tensor]:
    """The sample keyword inputs that are tensors. The others (use_cache=False) are set on the
    model's config instead: calflops and the positional tracers accept tensors only."""
    inputs = subject.inputs
    config = getattr(subject.module, "config", None)
    if "use_cache" in inputs.kwargs and config is not None:
        config.use_cache = inputs.kwargs["use_cache"]
    return {k: v for k, v in inputs.kwargs.items() if isinstance(v, torch.Tensor)}


def call(subject: Subject) -> Any:
    return subject.module(*subject.inputs.args, **tensor_kwargs(subject))


def first_tensor(value: Any) -> torch.Tensor | None:
    """The first tensor in a model output (tensor, tuple/list, dict or HF ModelOutput)."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, dict):
        value = list(value.values())
    for item in value if isinstance(value, (list, tuple)) else ():
        found = first_tensor(item)
        if found is not None:
            return found
    return None


class Positional(nn.Module):
    """`model(*args, **tensor_kwargs)` as `forward(*tensors) -> tensor`, for the tools that pass
    positional tensors only and trace with torch.jit (fvcore, torchprofile) or call
    `model(*inputs)` (thop). Module paths gain a `model.` prefix, which `strip` removes."""

    def __init__(self, subject: Subject) -> None:
        super().__init__()
        self.model = subject.module
        self.names = list(tensor_kwargs(subject))
        self.n_args = len(subject.inputs.args)
        self.example = (*subject.inputs.args, *tensor_kwargs(subject).values())

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        kwargs = dict(zip(self.names, tensors[self.n_args:]))
        return first_tensor(self.model(*tensors[: self.n_args], **kwargs))


def strip(path: str) -> str:
    return "" if path == WRAPPER else path.removeprefix(WRAPPER + ".")


def own_from_inclusive(inclusive: dict[str, float]) -> dict[str, int]:
    """Per-module totals that include children -> each module's own part."""
    own = dict(inclusive)
    for path, value in inclusive.items():
        if path:
            parent = path.rpartition(".")[0]
            while parent not in inclusive and parent:
                parent = parent.rpartition(".")[0]
            own[parent] = own.get(parent, 0) - value
    return {p: int(round(v)) for p, v in own.items() if round(v)}


def add_to(counts: dict[str, int], path: str, value: float) -> None:
    if value:
        counts[path] = counts.get(path, 0) + int(round(value))


# --------------------------------------------------------------------------------------------


def modellens_spec(subject: Subject, detail: bool) -> Count:
    """`modellens.profile(spec)`: builds the model on meta itself, captures on fake tensors."""
    from modellens import profile

    return _modellens_count(profile(subject.model_info.spec, **subject.model_info.kwargs), detail)


def modellens_module(subject: Subject, detail: bool) -> Count:
    """`modellens.profile(module, inputs)` on the same real-weight module the peers get."""
    from modellens import profile

    return _modellens_count(profile(subject.module, subject.inputs), detail)


def _modellens_count(result, detail: bool) -> Count:
    from torch.utils.flop_counter import flop_registry

    torch_ops = {str(op) for op in flop_registry}
    forward = [o for o in result.operators if o.phase == "forward"]
    extra = {
        "forward_all": result.flops.forward_all,
        "build_s": result.timings.get("build_s", 0.0),
        "capture_method": result.capture_method,
        # the FLOPs of ops torch's own FlopCounterMode has a formula for
        "flops_torch_formulas": sum(o.flops for o in forward if o.name in torch_ops),
        "without_torch_formula": {o.name: o.flops for o in forward
                                  if o.flops and o.name not in torch_ops},
    }
    modules = None
    if detail:
        modules = {m.path: m.own_flops for m in result.modules if m.own_flops}
        extra["classes"] = {m.path: m.class_name for m in result.modules if m.own_flops}
        ops: dict[str, dict[str, int]] = {}
        for row in result.ops:
            if row.phase == "forward" and row.flops:
                by_name = ops.setdefault(row.module, {})
                by_name[row.name] = by_name.get(row.name, 0) + row.flops
        extra["ops_by_module"] = ops
    return Count(result.flops.forward, result.params.total, modules, extra)


def flop_counter_mode(subject: Subject, detail: bool, math_sdpa: bool = False) -> Count:
    """torch's FlopCounterMode, as its docs run it. `math_sdpa`: attention forced to the math
    backend, whose matmuls torch counts (the fused CPU kernel has no formula and counts 0)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with sdpa_kernel(SDPBackend.MATH) if math_sdpa else nullcontext(), counter:
        call(subject)
    modules = None
    if detail:
        root = type(subject.module).__name__
        inclusive = {("" if k == root else k.removeprefix(root + ".")): sum(v.values())
                     for k, v in counter.get_flop_counts().items() if k != "Global"}
        modules = own_from_inclusive(inclusive)
    return Count(counter.get_total_flops(), None, modules)


def flop_counter_mode_math(subject: Subject, detail: bool) -> Count:
    return flop_counter_mode(subject, detail, math_sdpa=True)


def fvcore(subject: Subject, detail: bool) -> Count:
    from fvcore.nn import FlopCountAnalysis, parameter_count

    wrapped = Positional(subject)
    analysis = FlopCountAnalysis(wrapped, wrapped.example)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    analysis.tracer_warnings("none")
    flops = 2 * analysis.total()
    modules = None
    if detail:
        modules = own_from_inclusive({strip(k): 2 * v for k, v in analysis.by_module().items()})
    unsupported = dict(analysis.unsupported_ops())
    return Count(flops, parameter_count(subject.module)[""], modules, {"unsupported": unsupported})


def thop(subject: Subject, detail: bool) -> Count:
    import thop as thop_lib

    wrapped = Positional(subject)
    result = thop_lib.profile(wrapped, inputs=wrapped.example, verbose=False, ret_layer_info=detail)
    macs, params = result[0], result[1]
    modules = None
    if detail:
        inclusive = {}

        def walk(tree: dict, prefix: str) -> None:
            for name, (ops, _, children) in tree.items():
                path = f"{prefix}{name}"
                inclusive[strip(path)] = ops
                walk(children, path + ".")

        walk(result[2], "")
        inclusive[""] = macs  # with the functional matmuls and SDPA, which no module holds
        modules = own_from_inclusive({k: 2 * v for k, v in inclusive.items()})
    return Count(int(2 * macs), int(params), modules)


def ptflops(subject: Subject, detail: bool, backend: str = "pytorch") -> Count:
    from ptflops import get_model_complexity_info

    kwargs = tensor_kwargs(subject)
    args = subject.inputs.args
    construct = (lambda _: dict(kwargs)) if kwargs else (lambda _: args[0])
    printed = io.StringIO()  # ptflops prints the exception it caught and returns None
    with redirect_stdout(printed):
        macs, params = get_model_complexity_info(
            subject.module, (1,), as_strings=False, print_per_layer_stat=False,
            input_constructor=construct, backend=backend, ost=printed,
        )
    if macs is None:
        lines = [line.partition(">: ")[2] for line in printed.getvalue().splitlines()
                 if line.startswith("<class")]
        raise RuntimeError(lines[0] if lines else f"ptflops ({backend} backend) returned None")
    modules = _ptflops_modules(subject) if detail and backend == "pytorch" else None
    return Count(int(2 * macs), int(params), modules)


def _ptflops_modules(subject: Subject) -> dict[str, int]:
    """ptflops' per-module MACs (module hooks) plus its patched functionals (at the root)."""
    from ptflops import pytorch_engine as engine

    model = engine.add_flops_counting_methods(subject.module)
    model.start_flops_count(ost=io.StringIO(), verbose=False, ignore_list=[])
    functional: list[int] = []
    engine.patch_functional(functional)
    engine.patch_tensor_ops(functional)
    try:
        call(subject)
    finally:
        engine.unpatch_functional()
        engine.unpatch_tensor_ops()
    own: dict[str, int] = {}
    for path, module in model.named_modules():
        add_to(own, path, 2 * getattr(module, "__flops__", 0))
    add_to(own, "", 2 * sum(functional))
    model.stop_flops_count()
    return own


def ptflops_aten(subject: Subject, detail: bool) -> Count:
    return ptflops(subject, detail, backend="aten")


def calflops(subject: Subject, detail: bool) -> Count:
    """calflops reports FLOPs and MACs; its FLOPs are used as they are."""
    from calflops import calculate_flops

    if detail:
        return _calflops_modules(subject)
    flops, _, params = calculate_flops(
        subject.module, args=list(subject.inputs.args), kwargs=tensor_kwargs(subject),
        print_results=False, print_detailed=False, output_as_string=False,
    )
    return Count(int(flops), int(params))


def _calflops_modules(subject: Subject) -> Count:
    from calflops.calculate_pipline import CalFlopsPipline

    pipeline = CalFlopsPipline(subject.module, False, 2.0)
    pipeline.start_flops_calculate()
    try:
        call(subject)
        flops, params = pipeline.get_total_flops(), pipeline.get_total_params()
        own: dict[str, int] = {}
        for path, module in subject.module.named_modules():
            add_to(own, path, getattr(module, "__flops__", 0))
    finally:
        pipeline.end_flops_calculate()
    return Count(int(flops), int(params), own)


def torchinfo(subject: Subject, detail: bool) -> Count:
    from torchinfo import summary

    data = tensor_kwargs(subject) or list(subject.inputs.args)
    stats = summary(subject.module, input_data=data, verbose=0)
    modules = None
    if detail:
        paths = {id(m): p for p, m in subject.module.named_modules()}
        modules = {}
        for layer in stats.summary_list:
            if layer.is_leaf_layer:
                add_to(modules, paths.get(id(layer.module), ""), 2 * layer.macs)
    return Count(2 * stats.total_mult_adds, stats.total_params, modules)


def torchprofile(subject: Subject, detail: bool) -> Count:
    """torchprofile's jit trace records no module scopes here, so its detail is per operator."""
    from torchprofile import profile_macs

    wrapped = Positional(subject)
    per_node = profile_macs(wrapped, wrapped.example, reduction=None)
    by_operator: dict[str, int] = {}
    for node, macs in per_node.items():
        add_to(by_operator, node.operator, 2 * macs)
    extra = {"by_operator": by_operator} if detail else {}
    return Count(2 * sum(per_node.values()), None, None, extra)


TOOLS = {
    t.name: t
    for t in (
        Tool("modellens", "modellens", "FLOPs = 2 x MACs, matmul-class ops (matmul, conv, "
             "attention); elementwise reported separately", modellens_spec, needs_weights=False),
        Tool("modellens (nn.Module)", "modellens", "same, given the real-weight module",
             modellens_module),
        Tool("FlopCounterMode", "torch", "FLOPs = 2 x MACs, matmul-class aten ops with a "
             "formula; others count 0", flop_counter_mode),
        Tool("FlopCounterMode (math SDPA)", "torch", "same, attention on the math backend",
             flop_counter_mode_math),
        Tool("fvcore", "fvcore", "one fused multiply-add = 1 flop (MACs), x2 here; also "
             "counts norms, upsample, pooling", fvcore),
        Tool("thop", "ultralytics-thop", "MACs, x2 here; module rules + functional matmul/SDPA",
             thop),
        Tool("ptflops", "ptflops", "MACs, x2 here; module hooks + patched functionals "
             "(pytorch backend, the default)", ptflops),
        Tool("ptflops (aten)", "ptflops", "MACs, x2 here; aten backend", ptflops_aten),
        Tool("calflops", "calflops", "reports FLOPs (2 x MACs + elementwise) and MACs; "
             "FLOPs used", calflops),
        Tool("torchinfo", "torchinfo", "mult-adds (MACs) from params x output size per "
             "leaf module, x2 here", torchinfo),
        Tool("torchprofile", "torchprofile", "MACs of jit-traced aten ops, x2 here",
             torchprofile),
    )
}
