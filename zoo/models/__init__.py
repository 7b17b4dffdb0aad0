"""Family models: thin `ZooModel` subclasses wiring networks to an objective and samplers
(`zoo.models.base` says how to write one)."""

from zoo.models.base import ExponentialMovingAverage, Interface, ZooModel
from zoo.models.classifier import ImageClassifier
from zoo.models.cpc import CPC
from zoo.models.noisy_classifier import NoisyClassifier
from zoo.models.rectified_flow import RectifiedFlow
from zoo.models.diffusion import EDM, ScoreSDE  # noqa: I001 (after NoisyClassifier, which it uses)
from zoo.models.ddpm import DDPM
from zoo.models.flows import NICE, Flow, Glow, RealNVP

__all__ = ["CPC", "DDPM", "EDM", "ExponentialMovingAverage", "Flow", "Glow", "ImageClassifier", "Interface", "NICE",
           "NoisyClassifier", "RealNVP", "RectifiedFlow", "ScoreSDE", "ZooModel"]
from zoo.models.autoencoder import QuantizedAutoencoder  # noqa: E402,F401
from zoo.models.vae import VAE, GumbelVAE  # noqa: E402,F401
from zoo.models.pfgm import PFGM, PFGMPlusPlus  # noqa: E402,F401
from zoo.models.gan import GAN, GANQP, BiGANQP  # noqa: E402,F401
from zoo.models.autoregressive import MADE, NADE, CodePrior, PixelCNN  # noqa: E402,F401
from zoo.models.bridge import DDBM  # noqa: E402,F401
