"""Materializing one op configuration and checking its result: torch only, no modellens imports.

The op-by-op engine (`measure.ops`) builds its tensors with these functions, and every test file
`unique --emit-tests` writes carries this module's source verbatim, so a generated test builds
exactly the inputs the porting run used and judges them by the same tolerances.

An argument tree is the op's (args, kwargs) with each tensor replaced by `T(i)` (the i-th of
`specs`, a list of (shape, dtype name)) and the device argument by `DEVICE`. Floating tensors are
uniform in [0.5, 1.5) from a seeded CPU generator (no NaN from log/sqrt/rsqrt; the same values on
every device), integer tensors are zeros and booleans true, so index arguments are in range.
"""

import math

import torch

SEED = 20240601
# (atol, rtol) per output dtype, against a float64 CPU reference:
# |out - ref| <= atol + rtol * |ref| everywhere.
TOLERANCES = {
    "float64": (1e-7, 1e-7), "float32": (1e-4, 5e-4), "tfloat32": (1e-3, 5e-3),
    "float16": (1e-3, 1e-2), "bfloat16": (1e-2, 5e-2), "float8_e4m3fn": (1e-1, 2.5e-1),
    "float8_e5m2": (2e-1, 5e-1), "complex64": (1e-4, 5e-4), "complex128": (1e-7, 1e-7),
}


class T:
    """Placeholder for the `index`-th tensor argument."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index

    def __repr__(self):
        return f"T({self.index})"


class _Device:
    def __repr__(self):
        return "DEVICE"


DEVICE = _Device()


def resolve_op(name):
    """'aten.addmm.default' -> torch.ops.aten.addmm.default; 'torch.nn.functional.gelu' -> the
    function. None when this torch has no such op."""
    if name.startswith("torch."):
        obj = torch
        for part in name.split(".")[1:]:
            obj = getattr(obj, part, None)
            if obj is None:
                return None
        return obj
    namespace, _, rest = name.partition(".")
    packet_name, _, overload = rest.rpartition(".")
    try:
        return getattr(getattr(getattr(torch.ops, namespace), packet_name), overload)
    except (AttributeError, RuntimeError):
        return None


def make_tensor(shape, dtype_name, device, generator=None):
    """One input tensor (see the module docstring); seeded when `generator` is given."""
    dtype = getattr(torch, dtype_name, None)
    if not isinstance(dtype, torch.dtype):
        raise RuntimeError(f"cannot make a {dtype_name} tensor")
    if dtype == torch.bool:
        return torch.ones(shape, dtype=dtype, device=device)
    if not (dtype.is_floating_point or dtype.is_complex):
        return torch.zeros(shape, dtype=dtype, device=device)
    made = torch.float16 if dtype.itemsize == 1 else dtype  # float8 has no uniform_ kernel
    where = "cpu" if generator is not None else device
    tensor = torch.empty(shape, dtype=made, device=where).uniform_(0.5, 1.5, generator=generator)
    return tensor.to(device=device, dtype=dtype)


def make_inputs(specs, device, seed=SEED):
    """The tensors of `specs`, seeded: the same values on every device and every run."""
    generator = torch.Generator().manual_seed(seed)
    return [make_tensor(tuple(shape), dtype, device, generator) for shape, dtype in specs]


def bind(tree, tensors, device):
    """`tree` with T(i) -> tensors[i] and DEVICE -> device (tuples, lists, dicts rebuilt)."""
    if isinstance(tree, T):
        return tensors[tree.index]
    if tree is DEVICE:
        return torch.device(device)
    if isinstance(tree, (tuple, list)):
        return type(tree)(bind(item, tensors, device) for item in tree)
    if isinstance(tree, dict):
        return {key: bind(item, tensors, device) for key, item in tree.items()}
    return tree


def as_function(op, args, kwargs, device):
    """fn(*tensors) running `op` on the argument tree: what a backend compiles or exports."""

    def fn(*tensors):
        return op(*bind(args, tensors, device), **bind(kwargs, tensors, device))

    return fn


def deterministic(op):
    """Whether the op's result is a function of its inputs (not random, not uninitialized)."""
    tags = getattr(op, "tags", ())
    if torch.Tag.nondeterministic_seeded in tags:
        return False
    name = str(op)
    return not any(word in name for word in ("empty", "rand", "dropout", "bernoulli",
                                             "normal", "uniform", "exponential", "geometric"))


def reference_inputs(tensors):
    """CPU float64 copies of floating inputs (others copied as they are)."""
    out = []
    for t in tensors:
        t = t.detach().to("cpu")
        out.append(t.to(torch.float64) if t.is_floating_point() else t.clone())
    return out


def reference(op, args, kwargs, tensors):
    """(outputs, description) of eager CPU on float64 copies; eager CPU on the inputs' own
    dtypes where the op has no float64 kernel."""
    try:
        return as_function(op, args, kwargs, "cpu")(*reference_inputs(tensors)), "eager cpu float64"
    except Exception:  # no float64 kernel, or a dtype argument that must match: same dtypes
        same = [t.detach().to("cpu").clone() for t in tensors]
        return as_function(op, args, kwargs, "cpu")(*same), "eager cpu, input dtypes"


def flat_tensors(value):
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in flat_tensors(item)]
    return []


def dtype_name(dtype):
    return str(dtype).removeprefix("torch.")


def compare(outputs, expected):
    """(ok, max_abs, max_rel, message): every tensor output against the reference's, within the
    output dtype's tolerance; integer and bool outputs must be equal."""
    got, want = flat_tensors(outputs), flat_tensors(expected)
    if len(got) != len(want):
        return False, math.inf, math.inf, f"{len(got)} tensor outputs, reference has {len(want)}"
    max_abs = max_rel = 0.0
    for i, (out, ref) in enumerate(zip(got, want)):
        out, ref = out.detach().to("cpu"), ref.detach().to("cpu")
        if tuple(out.shape) != tuple(ref.shape):
            return False, math.inf, math.inf, (f"output {i} shape {list(out.shape)}, "
                                               f"reference {list(ref.shape)}")
        if out.numel() == 0:
            continue
        if not (out.is_floating_point() or out.is_complex()):
            if not torch.equal(out, ref.to(out.dtype)):
                return False, math.inf, math.inf, f"output {i} ({dtype_name(out.dtype)}) differs"
            continue
        atol, rtol = TOLERANCES.get(dtype_name(out.dtype), (1e-4, 5e-4))
        wide = torch.complex128 if out.is_complex() else torch.float64
        a, b = out.to(wide).contiguous(), ref.to(wide).contiguous()
        finite = torch.isfinite(a) & torch.isfinite(b)
        if bool(finite.all()):
            error, scale = (a - b).abs(), b.abs()
        else:
            same_special = (~finite) & ((a == b) | (torch.isnan(a) & torch.isnan(b)))
            if not bool((finite | same_special).all()):
                return False, math.inf, math.inf, (f"output {i} has NaN/Inf where the "
                                                   f"reference has not")
            if not bool(finite.any()):
                continue
            error, scale = (a - b).abs()[finite], b.abs()[finite]
        max_abs = max(max_abs, float(error.max()))
        max_rel = max(max_rel, float((error / scale.clamp_min(1e-30)).max()))
        if not bool((error <= atol + rtol * scale).all()):
            worst = float((error - rtol * scale).max())
            return False, max_abs, max_rel, (f"output {i} ({dtype_name(out.dtype)}) off by up to "
                                             f"{max_abs:.3g} (atol {atol:g} + rtol {rtol:g}: "
                                             f"{worst:.3g} over)")
    return True, max_abs, max_rel, ""
