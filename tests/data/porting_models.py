"""Small models for tests/test_porting.py and tests/test_torch_level.py."""

import torch
import torch.nn.functional as F
from torch import nn


def small_cnn():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))


def other_cnn():
    """Shares small_cnn's first convolution (same shapes), then pools."""
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 4, 3, stride=2))


def image():
    return torch.randn(1, 3, 16, 16)


def mlp():
    return nn.Sequential(nn.Linear(10, 20), nn.GELU(), nn.Linear(20, 10), nn.Softmax(-1))


def vector():
    return torch.randn(2, 10)


class Square(torch.autograd.Function):
    """A custom autograd.Function: invisible to the aten-level view."""

    @staticmethod
    def forward(ctx, x):
        return x * x + 1

    @staticmethod
    def backward(ctx, grad):
        return grad


class Functional(nn.Module):
    """What users call in model code, beside leaf modules."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(8, 8))
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x):
        y = F.interpolate(self.conv(x), scale_factor=2.0, mode="bilinear")
        z = F.adaptive_avg_pool2d(y, 1).flatten(1)
        z = torch.matmul(z, self.w) + torch.einsum("bi,ij->bj", z, self.w) + F.linear(z, self.w)
        return Square.apply(z)


def functional():
    return Functional()
