"""A user model for `modellens profile unet_block.py::load_model` (CPU validation): a small
encoder-decoder CNN with skip connections, written the way users write models."""

import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm1 = nn.GroupNorm(8, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(8, cout)

    def forward(self, x):
        x = torch.nn.functional.silu(self.norm1(self.conv1(x)))
        return torch.nn.functional.silu(self.norm2(self.conv2(x)))


class SmallUNet(nn.Module):
    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.down1, self.down2 = Block(3, width), Block(width, 2 * width)
        self.mid = Block(2 * width, 4 * width)
        self.up2, self.up1 = Block(6 * width, 2 * width), Block(3 * width, width)
        self.head = nn.Conv2d(width, 1, 1)

    def forward(self, x):
        d1 = self.down1(x)
        d2 = self.down2(nn.functional.max_pool2d(d1, 2))
        m = self.mid(nn.functional.max_pool2d(d2, 2))
        u2 = self.up2(torch.cat([nn.functional.interpolate(m, scale_factor=2), d2], 1))
        u1 = self.up1(torch.cat([nn.functional.interpolate(u2, scale_factor=2), d1], 1))
        return self.head(u1)


def load_model():
    return SmallUNet()


def get_inputs():
    return torch.randn(1, 3, 128, 128)
