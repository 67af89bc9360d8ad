"""The torch level: what users call (matmul, einsum, F.linear, flatten, adaptive pools,
interpolate with its scale_factor and mode, custom autograd.Function), linked to its aten ops."""

from pathlib import Path

import torch

from modellens.capture import capture
from modellens.capture.records import SampleInputs
from modellens.tasks.unique import analyze_unique
from tests.data import porting_models

DATA = Path(__file__).parent / "data"


def test_composite_calls_show_as_called_with_their_arguments():
    report = analyze_unique(porting_models.functional, porting_models.image)
    ops = {o.op_name: o for o in report.ops.ops}
    assert list(ops) == [
        "torch.conv2d", "torch.nn.functional.interpolate",
        "torch.nn.functional.adaptive_avg_pool2d", "torch.flatten", "torch.matmul",
        "torch.einsum", "torch.add", "torch.nn.functional.linear",
        "tests.data.porting_models.Square.apply"]
    interpolate = ops["torch.nn.functional.interpolate"]
    assert interpolate.attributes["scale_factor"] == 2.0
    assert interpolate.attributes["mode"] == "bilinear"
    assert interpolate.tensor_types["output"]["shape"] == "1x8x32x32"
    assert interpolate.aten_ops == ["aten.upsample_bilinear2d.default"]
    assert ops["torch.nn.functional.adaptive_avg_pool2d"].attributes == {"output_size": 1}
    assert ops["torch.nn.functional.adaptive_avg_pool2d"].aten_ops == ["aten.mean.dim"]
    assert ops["torch.flatten"].attributes == {"start_dim": 1}
    assert ops["torch.flatten"].aten_ops == ["aten.view.default"]
    einsum = ops["torch.einsum"]
    assert einsum.attributes == {"equation": "bi,ij->bj"}
    assert [t["shape"] for t in einsum.tensor_types["inputs"]] == ["1x8", "8x8"]
    assert "aten.bmm.default" in einsum.aten_ops
    assert ops["torch.nn.functional.linear"].aten_ops == ["aten.t.default", "aten.mm.default"]
    square = ops["tests.data.porting_models.Square.apply"]
    assert square.aten_ops == ["aten.mul.Tensor", "aten.add.Tensor"]
    assert [t["shape"] for t in square.tensor_types["inputs"]] == ["1x8"]
    assert square.tensor_types["output"]["shape"] == "1x8"


def test_supported_list_with_matmul_einsum_linear_covers_them():
    supported = ["torch.conv2d", "torch.nn.functional.interpolate",
                 "torch.nn.functional.adaptive_avg_pool2d", "torch.flatten", "torch.add",
                 "torch.matmul", "torch.einsum", "torch.nn.functional.linear"]
    report = analyze_unique(porting_models.functional, porting_models.image,
                            supported=supported)
    assert [m.op_name for m in report.missing] == ["tests.data.porting_models.Square.apply"]


def test_aten_level_unchanged_and_every_aten_op_linked():
    model, inputs = porting_models.functional(), porting_models.image
    plain = capture(model, lambda: SampleInputs((inputs(),)))
    linked = capture(model, lambda: SampleInputs((inputs(),)), torch_calls=True)
    assert [o.name for o in plain.ops] == [o.name for o in linked.ops]
    assert all(o.call is None for o in plain.ops)
    called = {o.call.name for o in linked.ops if o.call is not None}
    assert called == {"torch.nn.functional.interpolate", "torch.nn.functional.adaptive_avg_pool2d",
                      "torch.flatten", "torch.matmul", "torch.einsum",
                      "torch.nn.functional.linear", "tests.data.porting_models.Square.apply"}
    aten = analyze_unique(porting_models.functional, porting_models.image, level="aten").ops
    assert aten.metadata.total_ops == len(plain.forward_ops())


def test_tensor_matmul_operator_is_torch_matmul():
    class M(torch.nn.Module):
        def forward(self, x):
            return (x @ x.transpose(-1, -2)).reshape(2, -1)

    ops = analyze_unique(M(), torch.randn(2, 3, 4)).ops.ops
    assert [o.op_name for o in ops] == ["torch.transpose", "torch.matmul",
                                        "torch.reshape"]
    assert ops[2].attributes == {"shape": [2, -1]}
