"""Small user models for file.py::fn tests."""

import torch
from torch import nn


def load_model():
    return nn.Sequential(
        nn.Conv2d(3, 64, 3, padding=1),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding=1),
        nn.BatchNorm2d(64),
        nn.ReLU(),
    )


def get_inputs():
    return torch.randn(1, 3, 224, 224)


def raises():
    raise RuntimeError("boom from user code")


def not_a_model():
    return 42


def wrong_inputs():
    return "not a tensor"


class DataDependent(nn.Module):
    """Branches on a value, which fake tensors cannot know; needs the real-tensor fallback."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(8, 8)

    def forward(self, x):
        if x.sum() > 0:
            return self.linear(x)
        return self.linear(x) * 2


def load_data_dependent():
    return DataDependent()


def get_small_inputs():
    return torch.ones(2, 8)


class Uncapturable(nn.Module):
    def forward(self, x):
        raise ValueError("this model always fails in forward")


def load_uncapturable():
    return Uncapturable()
