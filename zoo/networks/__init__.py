"""Backbones: a network maps its inputs to one tensor (or a pair), with no loss and no
sampling loop. `UNet` / `MLP(x, t, labels=None)`: a velocity, noise or data estimate
shaped like x (`MLP(output_dim=...)`: another width); `ResNet(x)` and
`MLPClassifier` / `UNetEncoder(x, t)`: logits; `MultiScaleFlow(x) -> (z, log_det)` and
`(z, inverse=True) -> (x, log_det)`: a normalizing flow's bijection. Named sizes:
`zoo.networks.sizes`."""

from zoo.networks.classifiers import MLPClassifier, UNetEncoder
from zoo.networks.cpc import CPCNetwork
from zoo.networks.flow import MultiScaleFlow
from zoo.networks.mlp import MLP
from zoo.networks.resnet import PreActBlock, ResNet
from zoo.networks.unet import UNet

__all__ = ["CPCNetwork", "MLP", "MLPClassifier", "MultiScaleFlow", "PreActBlock", "ResNet", "UNet", "UNetEncoder"]
from zoo.networks.autoencoder import ConvDecoder, ConvEncoder, ResidualStack  # noqa: E402,F401
from zoo.networks.vae import DenseNetwork  # noqa: E402,F401
from zoo.networks.dcgan import DCGANDiscriminator, DCGANGenerator, JointCritic, MLPNetwork  # noqa: E402,F401
from zoo.networks.autoregressive import MADENetwork, NADENetwork, PixelCNNNetwork  # noqa: E402,F401
