"""Family models: thin `ZooModel` subclasses wiring networks to an objective and samplers
(`zoo.models.base` says how to write one)."""

from zoo.models.base import ExponentialMovingAverage, Interface, ZooModel
from zoo.models.classifier import ImageClassifier
from zoo.models.noisy_classifier import NoisyClassifier
from zoo.models.rectified_flow import RectifiedFlow
from zoo.models.diffusion import EDM, ScoreSDE  # noqa: I001 (after NoisyClassifier, which it uses)
from zoo.models.ddpm import DDPM
from zoo.models.flows import NICE, Flow, Glow, RealNVP

__all__ = ["DDPM", "EDM", "ExponentialMovingAverage", "Flow", "Glow", "ImageClassifier", "Interface", "NICE",
           "NoisyClassifier", "RealNVP", "RectifiedFlow", "ScoreSDE", "ZooModel"]
