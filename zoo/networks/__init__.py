"""Backbones: `network(x, t, labels=None) -> tensor shaped like x` (and `ResNet(x) -> logits`,
`MLPClassifier` / `UNetEncoder(x, t) -> logits`).
No loss, no sampling."""

from zoo.networks.classifiers import MLPClassifier, UNetEncoder
from zoo.networks.mlp import MLP
from zoo.networks.resnet import PreActBlock, ResNet
from zoo.networks.unet import UNet

__all__ = ["MLP", "MLPClassifier", "PreActBlock", "ResNet", "UNet", "UNetEncoder"]
