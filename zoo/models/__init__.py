"""Family models: thin `keras.Model` subclasses wiring a network to an objective and samplers."""

from zoo.models.base import GenerativeModel
from zoo.models.classifier import ImageClassifier
from zoo.models.noisy_classifier import NoisyClassifier
from zoo.models.rectified_flow import RectifiedFlow

__all__ = ["GenerativeModel", "ImageClassifier", "NoisyClassifier", "RectifiedFlow"]
from zoo.models.flows import NICE, Flow, Glow, RealNVP  # noqa: E402,F401
from zoo.models.diffusion import DDPM, EDM, ScoreSDE  # noqa: E402,F401
