"""Reusable, serializable Keras layers."""

from zoo.layers.blocks import AttentionBlock, Downsample, ResBlock, Upsample
from zoo.layers.embeddings import FourierEmbedding, SinusoidalEmbedding, sinusoidal_embedding

__all__ = ["AttentionBlock", "Downsample", "FourierEmbedding", "ResBlock", "SinusoidalEmbedding",
           "Upsample", "sinusoidal_embedding"]
