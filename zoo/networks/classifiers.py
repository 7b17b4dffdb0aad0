"""Noise-conditioned classifier backbones: `network(x, t) -> (batch, num_classes)`
logits, for classifiers of noisy data (`zoo.models.NoisyClassifier`). No loss."""

import keras
from keras import ops

from zoo.layers.blocks import AttentionBlock, Downsample, ResBlock, _group_norm
from zoo.layers.embeddings import SinusoidalEmbedding


@keras.saving.register_keras_serializable(package="zoo")
class MLPClassifier(keras.layers.Layer):
    """Time-conditioned MLP classifier for low-dimensional data:
    `[x, embed(t)] -> hidden x depth -> num_classes logits`.

    Args:
        num_classes: int. Logits per example.
        hidden: int. Width of the hidden layers.
        depth: int. Number of hidden layers.
        embedding_dim: int. Width of the sinusoidal features of `t`.
        embedding_scale: float. Scale of `t` before the sinusoids (1 for EDM's
            c_noise = ln(sigma) / 4, as in Karras et al.'s networks).

    Call args:
        x: `(batch, d)` tensor.
        t: `(batch,)` float noise conditions.
    """

    def __init__(self, num_classes, hidden=128, depth=3, embedding_dim=32, embedding_scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.hidden = hidden
        self.depth = depth
        self.embedding_dim = embedding_dim
        self.embedding_scale = embedding_scale

    def build(self, x_shape):
        self.time_embed = SinusoidalEmbedding(self.embedding_dim, scale=self.embedding_scale)
        self.time_embed.build((None,))
        width = x_shape[-1] + self.embedding_dim
        self.hidden_layers = []
        for _ in range(self.depth):
            self.hidden_layers.append(keras.layers.Dense(self.hidden, activation="silu"))
            self.hidden_layers[-1].build((None, width))
            width = self.hidden
        self.head = keras.layers.Dense(self.num_classes)
        self.head.build((None, width))

    def call(self, x, t, training=False):
        h = ops.concatenate([x, ops.cast(self.time_embed(t), x.dtype)], axis=-1)
        for layer in self.hidden_layers:
            h = layer(h)
        return self.head(h)

    def compute_output_shape(self, x_shape, *args, **kwargs):
        return (x_shape[0], self.num_classes)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "hidden": self.hidden,
                "depth": self.depth, "embedding_dim": self.embedding_dim,
                "embedding_scale": self.embedding_scale}


@keras.saving.register_keras_serializable(package="zoo")
class UNetEncoder(keras.layers.Layer):
    """The down path of `zoo.networks.UNet` as a classifier (Dhariwal & Nichol 2021,
    sec. 4): residual blocks conditioned on the time embedding, a `Downsample` between
    levels, GroupNorm-SiLU, global average pooling and a linear head. (Dhariwal &
    Nichol pool with attention; the average keeps it small.)

    Args:
        num_classes: int. Logits per image.
        base_channels: int. Width of the first level.
        channel_mults: tuple of int. Width multiplier per resolution level.
        num_res_blocks: int. Residual blocks per level.
        attention_resolutions: tuple of int. Feature-map sizes that get self-attention.
        dropout: float. Dropout inside residual blocks.
        groups: int. GroupNorm groups.
        embedding_scale: float. Scale of `t` before the sinusoids.

    Call args:
        x: `(batch, h, w, c)` images in model space (scaled by c_in).
        t: `(batch,)` float noise conditions.

    References:
        Dhariwal & Nichol 2021, arXiv:2105.05233.
    """

    def __init__(self, num_classes, base_channels=32, channel_mults=(1, 2, 2), num_res_blocks=1,
                 attention_resolutions=(), dropout=0.0, groups=8, embedding_scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.base_channels = base_channels
        self.channel_mults = tuple(channel_mults)
        self.num_res_blocks = num_res_blocks
        self.attention_resolutions = tuple(attention_resolutions)
        self.dropout = dropout
        self.groups = groups
        self.embedding_scale = embedding_scale

    def build(self, x_shape):
        emb_dim = 4 * self.base_channels
        self.time_embed = SinusoidalEmbedding(self.base_channels, scale=self.embedding_scale)
        self.time_embed.build((None,))
        self.time_mlp = [keras.layers.Dense(emb_dim, activation="silu"), keras.layers.Dense(emb_dim)]
        self.time_mlp[0].build((None, self.base_channels))
        self.time_mlp[1].build((None, emb_dim))
        self.conv_in = keras.layers.Conv2D(self.base_channels, 3, padding="same")
        self.conv_in.build(x_shape)
        channels, resolution = self.base_channels, x_shape[1]
        self.levels = []
        for level, mult in enumerate(self.channel_mults):
            layers = []
            for _ in range(self.num_res_blocks):
                block = ResBlock(self.base_channels * mult, dropout=self.dropout, groups=self.groups)
                block.build((None, None, None, channels), (None, emb_dim))
                channels = self.base_channels * mult
                attention = None
                if resolution in self.attention_resolutions:
                    attention = AttentionBlock(groups=self.groups)
                    attention.build((None, None, None, channels))
                layers.append([block, attention])
            downsample = None
            if level < len(self.channel_mults) - 1:
                downsample = Downsample(channels)
                downsample.build((None, None, None, channels))
                resolution = None if resolution is None else (resolution + 1) // 2
            self.levels.append([layers, downsample])
        self.norm_out = _group_norm(channels, self.groups)
        self.norm_out.build((None, None, None, channels))
        self.head = keras.layers.Dense(self.num_classes)
        self.head.build((None, channels))

    def call(self, x, t, training=False):
        emb = self.time_mlp[1](self.time_mlp[0](self.time_embed(t)))
        h = self.conv_in(x)
        for layers, downsample in self.levels:
            for block, attention in layers:
                h = block(h, emb, training=training)
                h = h if attention is None else attention(h)
            h = h if downsample is None else downsample(h)
        h = ops.silu(self.norm_out(h))
        return self.head(ops.mean(h, axis=(1, 2)))

    def compute_output_shape(self, x_shape, *args, **kwargs):
        return (x_shape[0], self.num_classes)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "base_channels": self.base_channels,
                "channel_mults": list(self.channel_mults), "num_res_blocks": self.num_res_blocks,
                "attention_resolutions": list(self.attention_resolutions), "dropout": self.dropout,
                "groups": self.groups, "embedding_scale": self.embedding_scale}
