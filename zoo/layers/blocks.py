"""U-Net building blocks (channels-last): residual block, self-attention, resampling.

The layout follows DDPM++ (Song et al. 2021, arXiv:2011.13456): GroupNorm-SiLU-conv
residual blocks with the embedding added after the first conv, zero-initialized last
convolutions so every block starts as the identity, and skip sums scaled by 1/sqrt(2).
"""

import math

import keras
from keras import ops

from zoo import backend

_ZERO = "zeros"


@keras.saving.register_keras_serializable(package="zoo")
class Conv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` (same arguments, weights and numbers) whose channels-last 2-D
    convolution and bias run through `zoo.backend.conv2d`: on PyTorch one fused kernel,
    without Keras's per-call copies of the activations. Subclasses that change the
    kernel override `convolution_op(inputs, kernel, bias=None)`."""

    def call(self, inputs):
        if self.data_format != "channels_last" or self.groups != 1:
            return super().call(inputs)
        return self.activation(self.convolution_op(inputs, self.kernel, self.bias if self.use_bias else None))

    def convolution_op(self, inputs, kernel, bias=None):
        if self.data_format != "channels_last" or self.groups != 1:
            out = super().convolution_op(inputs, kernel)
            return out if bias is None else out + bias
        return backend.conv2d(inputs, kernel, tuple(self.strides), self.padding, tuple(self.dilation_rate), bias)


@keras.saving.register_keras_serializable(package="zoo")
class GroupNormalization(keras.layers.GroupNormalization):
    """`keras.layers.GroupNormalization` (same arguments, weights and numbers); on PyTorch
    4-D channels-last inputs take `zoo.backend.group_norm`'s one fused kernel."""

    def call(self, inputs):
        if len(inputs.shape) == 4 and self.axis in (-1, 3) and self.compute_dtype == "float32":
            out = backend.group_norm(inputs, self.groups, self.gamma if self.scale else None,
                                     self.beta if self.center else None, self.epsilon)
            if out is not None:
                return out
        return super().call(inputs)


def _group_norm(channels, groups):
    # GroupNorm needs groups | channels; narrow CPU configs have few channels.
    return GroupNormalization(groups=math.gcd(groups, channels), epsilon=1e-6)


@keras.saving.register_keras_serializable(package="zoo")
class ResBlock(keras.layers.Layer):
    """Residual block conditioned on an embedding vector.

    Args:
        channels: int. Output channels.
        dropout: float. Dropout rate before the second convolution.
        groups: int. GroupNorm groups (reduced to a divisor of the width).

    Call args:
        x: `(batch, h, w, c_in)` tensor.
        emb: `(batch, e)` tensor (time and class embedding).
    """

    def __init__(self, channels, dropout=0.0, groups=32, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.dropout = dropout
        self.groups = groups

    def build(self, x_shape, emb_shape):
        c_in = x_shape[-1]
        self.norm1 = _group_norm(c_in, self.groups)
        self.norm1.build(x_shape)
        self.conv1 = Conv2D(self.channels, 3, padding="same")
        self.conv1.build(x_shape)
        self.emb_proj = keras.layers.Dense(self.channels)
        self.emb_proj.build(emb_shape)
        hidden_shape = (*x_shape[:-1], self.channels)
        self.norm2 = _group_norm(self.channels, self.groups)
        self.norm2.build(hidden_shape)
        self.drop = keras.layers.Dropout(self.dropout)
        self.conv2 = Conv2D(self.channels, 3, padding="same", kernel_initializer=_ZERO)
        self.conv2.build(hidden_shape)
        self.skip = None
        if c_in != self.channels:
            self.skip = Conv2D(self.channels, 1)
            self.skip.build(x_shape)

    def call(self, x, emb, training=False):
        h = self.conv1(ops.silu(self.norm1(x)))
        h = h + self.emb_proj(ops.silu(emb))[:, None, None, :]
        h = self.conv2(self.drop(ops.silu(self.norm2(h)), training=training))
        skip = x if self.skip is None else self.skip(x)
        return (skip + h) * (1.0 / math.sqrt(2.0))

    def compute_output_shape(self, x_shape, emb_shape):
        return (*x_shape[:-1], self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "dropout": self.dropout,
                "groups": self.groups}


@keras.saving.register_keras_serializable(package="zoo")
class AttentionBlock(keras.layers.Layer):
    """Multi-head self-attention over all pixels, with a residual connection.

    Args:
        num_heads: int. Heads; the width must divide by it.
        groups: int. GroupNorm groups.
    """

    def __init__(self, num_heads=1, groups=32, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.groups = groups

    def build(self, x_shape):
        channels = x_shape[-1]
        if channels % self.num_heads:
            raise ValueError(f"Width {channels} is not divisible by `num_heads`={self.num_heads}.")
        self.norm = _group_norm(channels, self.groups)
        self.norm.build(x_shape)
        self.qkv = keras.layers.Dense(3 * channels)
        self.qkv.build(x_shape)
        self.proj = keras.layers.Dense(channels, kernel_initializer=_ZERO)
        self.proj.build(x_shape)

    def call(self, x):
        batch, height, width, channels = ops.shape(x)
        head_dim = channels // self.num_heads
        qkv = ops.reshape(self.qkv(self.norm(x)), (batch, height * width, 3, self.num_heads, head_dim))
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        logits = ops.einsum("bqhd,bkhd->bhqk", q, k) * ops.cast(head_dim**-0.5, q.dtype)
        # Softmax in float32: bfloat16 logits over 256+ keys lose the small weights.
        weights = ops.cast(ops.softmax(ops.cast(logits, "float32"), axis=-1), v.dtype)
        h = ops.reshape(ops.einsum("bhqk,bkhd->bqhd", weights, v), (batch, height, width, channels))
        return (x + self.proj(h)) * (1.0 / math.sqrt(2.0))

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "groups": self.groups}


@keras.saving.register_keras_serializable(package="zoo")
class Downsample(keras.layers.Layer):
    """Halve height and width with a stride-2 3x3 convolution.

    Args:
        channels: int. Output channels.
    """

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.conv = Conv2D(channels, 3, strides=2, padding="same")

    def build(self, x_shape):
        self.conv.build(x_shape)

    def call(self, x):
        return self.conv(x)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


@keras.saving.register_keras_serializable(package="zoo")
class Upsample(keras.layers.Layer):
    """Double height and width: nearest-neighbour upsampling then a 3x3 convolution.

    Args:
        channels: int. Output channels.
    """

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.conv = Conv2D(channels, 3, padding="same")

    def build(self, x_shape):
        self.conv.build((x_shape[0], None, None, x_shape[-1]))

    def call(self, x):
        x = ops.repeat(ops.repeat(x, 2, axis=1), 2, axis=2)
        return self.conv(x)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}
