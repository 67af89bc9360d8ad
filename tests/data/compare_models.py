"""Two small convnets of different widths on one input, for `compare` tests."""

import torch
from torch import nn


def narrow():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(8 * 16 * 16, 10))


def wide():
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(32 * 16 * 16, 10))


def get_inputs():
    return torch.randn(1, 3, 16, 16)
