"""Models for tests/test_unique.py."""

import torch
from torch import nn


class Block(nn.Module):
    """Residual block; `layer_idx` only numbers it, `scale` changes what it computes."""

    def __init__(self, dim, layer_idx, scale=0.5):
        super().__init__()
        self.layer_idx = layer_idx
        self.scale = scale
        self.fc = nn.Linear(dim, dim)
        self.act = nn.ReLU()

    def forward(self, x):
        return x + self.act(self.fc(x)) * self.scale


class Stack(nn.Module):
    """Three equal blocks, a fourth with another scale, a head; `act` is called on two shapes."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Block(16, i) for i in range(3)] + [Block(16, 3, scale=2.0)])
        self.head = nn.Sequential(nn.Linear(16, 8))
        self.act = nn.ReLU()

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.act(self.head(self.act(x)))


def load_stack():
    return Stack()


def stack_inputs():
    return torch.randn(2, 5, 16)


def load_mlp():
    """The seed's Python API example."""
    return nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 10))


def mlp_inputs():
    return torch.randn(1, 10)


def no_tensors():
    return ["a", "b"]
