"""Reusable, serializable Keras layers."""

from zoo.layers.blocks import AttentionBlock, Conv2D, Downsample, GroupNormalization, ResBlock, Upsample
from zoo.layers.embeddings import FourierEmbedding, SinusoidalEmbedding, sinusoidal_embedding

__all__ = ["AttentionBlock", "Conv2D", "Downsample", "FourierEmbedding", "GroupNormalization", "ResBlock",
           "SinusoidalEmbedding", "Upsample", "sinusoidal_embedding"]
from zoo.layers.couplings import AdditiveCoupling, AffineCoupling, coupling_mask  # noqa: E402,F401
from zoo.layers.invertible import (ActNorm, CouplingNetwork, DiagonalScaling, InvertibleConv1x1,  # noqa: E402,F401
                                   LogitTransform, Split, Squeeze, lu_decomposition)
from zoo.layers.quantizers import FSQ, VectorQuantizer, round_ste  # noqa: E402,F401
from zoo.layers.latent import GaussianReparameterization, GumbelSoftmax, gaussian_kl  # noqa: E402,F401
from zoo.layers.masked import GatedPixelCNNBlock, MaskedConv2D, MaskedDense, made_masks  # noqa: E402,F401
