"""Time / noise-level embeddings: scalars per example -> feature vectors."""

import math

import keras
from keras import ops


def sinusoidal_embedding(t, dim, max_period=10_000.0):
    """Map a (batch,) tensor of times to (batch, dim) sin/cos features
    (Vaswani et al. 2017, as used for diffusion by Ho et al. 2020)."""
    half = dim // 2
    freqs = ops.exp(-math.log(max_period) * ops.arange(half, dtype="float32") / half)
    angles = ops.cast(t, "float32")[:, None] * freqs[None, :]
    return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)


@keras.saving.register_keras_serializable(package="zoo")
class SinusoidalEmbedding(keras.layers.Layer):
    """Fixed sinusoidal features of a scalar condition.

    Args:
        dim: int. Output width (even).
        scale: float. Multiplies the input first, so that t in [0, 1] spans as many
            periods as integer timesteps in [0, 1000) would (DDPM uses 1000).
        max_period: float. Longest wavelength.

    Returns:
        `(batch, dim)` float32 features.
    """

    def __init__(self, dim, scale=1000.0, max_period=10_000.0, **kwargs):
        super().__init__(**kwargs)
        if dim % 2:
            raise ValueError(f"`dim` must be even. Received: dim={dim}")
        self.dim = dim
        self.scale = scale
        self.max_period = max_period

    def call(self, t):
        return sinusoidal_embedding(ops.cast(t, "float32") * self.scale, self.dim, self.max_period)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "scale": self.scale,
                "max_period": self.max_period}


@keras.saving.register_keras_serializable(package="zoo")
class FourierEmbedding(keras.layers.Layer):
    """Random Fourier features of a scalar (Tancik et al. 2020; Song et al. 2021,
    arXiv:2011.13456, used for continuous sigma in NCSN++). The frequencies are a
    fixed, non-trainable weight, so they are saved with the checkpoint.

    Args:
        dim: int. Output width (even).
        scale: float. Std of the Gaussian frequencies.
        log_input: bool. Embed log(t) instead of t (for sigma spanning decades).
    """

    def __init__(self, dim, scale=16.0, log_input=False, **kwargs):
        super().__init__(**kwargs)
        if dim % 2:
            raise ValueError(f"`dim` must be even. Received: dim={dim}")
        self.dim = dim
        self.scale = scale
        self.log_input = log_input

    def build(self, input_shape):
        self.frequencies = self.add_weight(
            shape=(self.dim // 2,), name="frequencies", trainable=False,
            initializer=keras.initializers.RandomNormal(stddev=self.scale))

    def call(self, t):
        t = ops.cast(t, "float32")
        if self.log_input:
            t = ops.log(t)
        angles = 2.0 * math.pi * t[:, None] * ops.cast(self.frequencies, "float32")[None, :]
        return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "scale": self.scale,
                "log_input": self.log_input}
