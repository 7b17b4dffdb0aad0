"""Backbones: `network(x, t, labels=None) -> tensor shaped like x`. No loss, no sampling."""

from zoo.networks.mlp import MLP
from zoo.networks.unet import UNet

__all__ = ["MLP", "UNet"]
