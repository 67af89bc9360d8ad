"""One meaning per column: each FLOPs header says matmul-class or all ops, top-by-FLOPs lists
only ops with matmul-class FLOPs, and a command whose default differs says so."""

from __future__ import annotations

import io

import torch
from rich.console import Console
from torch import nn

import modellens
from modellens.cli import main
from modellens.report.console.profile import TOP_OPS, module_table, top_ops_table
from modellens.report.html import _asset


def _result():
    model = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Softmax(-1))
    return modellens.profile(model, torch.randn(2, 8))


def _text(renderable) -> str:
    console = Console(file=io.StringIO(), width=200)
    console.print(renderable)
    return console.file.getvalue()


def test_top_ops_by_flops_lists_only_ops_with_matmul_flops():
    result = _result()
    groups = result.top_ops("flops", 10)
    assert [g.first.name for g in groups] == ["aten.addmm.default"]
    assert groups[0].flops == 2 * 2 * 8 * 4  # the linear's MACs x 2
    assert len(result.top_ops("bytes", 10)) > 1  # relu and softmax move bytes


def test_every_flops_header_says_which_flops():
    headers = [c.header for c in TOP_OPS]
    assert "FLOPs\n(matmul)" in headers and "FLOPs/B\n(all)" in headers
    result = _result()
    assert "(matmul)" in _text(module_table(result))
    top = _text(top_ops_table(result, "flops", 5))
    assert "MATMUL-CLASS FLOPS" in top and "relu" not in top
    js = _asset("report.js")
    assert 'label: "FLOPs (all)"' in js and 'label: "All FLOPs/B"' in js
    # the intensity column is all FLOPs / bytes: softmax's has no matmul FLOPs and is not 0
    softmax = next(r for r in result.ops if "softmax" in r.name)
    assert softmax.flops == 0 and softmax.intensity == softmax.flops_all / softmax.bytes > 0


def test_matrices_states_its_seq_len_default(capsys):
    try:
        main(["matrices", "--help"])
    except SystemExit:
        pass
    assert "default each text model's max positions" in " ".join(capsys.readouterr().out.split())
    from modellens.tasks.matrices import extract_matrices

    model = extract_matrices(["gpt2"]).models[0]
    assert any("seq len 1,024: the model's max positions" in n for n in model.notes)
    model = extract_matrices(["gpt2"], seq_len=16).models[0]
    assert not any("max positions" in n for n in model.notes)
