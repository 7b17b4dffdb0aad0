"""Backbones: `network(x, t, labels=None) -> tensor shaped like x` (and `ResNet(x) -> logits`).
No loss, no sampling."""

from zoo.networks.mlp import MLP
from zoo.networks.resnet import PreActBlock, ResNet
from zoo.networks.unet import UNet

__all__ = ["MLP", "PreActBlock", "ResNet", "UNet"]
