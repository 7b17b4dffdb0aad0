"""DDPM++-like U-Net (Ho et al. 2020, arXiv:2006.11239; Song et al. 2021, arXiv:2011.13456)."""

import keras
from keras import ops

from zoo.layers.blocks import AttentionBlock, Conv2D, Downsample, ResBlock, Upsample, _group_norm
from zoo.layers.embeddings import FourierEmbedding, SinusoidalEmbedding


def _image(channels):
    return (None, None, None, channels)


class UNetDownPath(keras.layers.Layer):
    """Base class of `UNet` and `zoo.networks.UNetEncoder`: the time embedding and the
    down path they share, built and run once here.

    The time embedding is sinusoidal (or Fourier) features of width `base_channels`, then
    Dense-SiLU-Dense to `4 * base_channels`. The down path is `conv_in`, then per level
    `num_res_blocks` residual blocks (self-attention at `attention_resolutions`) and a
    stride-2 `Downsample` between levels. Subclasses call `_build_time_embedding` and
    `_build_down_path` in `build`, `_embed_time` and `_down_path` in `call`. The attribute
    names set here (`time_embed`, `time_mlp`, `conv_in`, `down`, `downsample`) are part of
    every saved weight path.

    Args: those of `UNet` with the same names.
    """

    def __init__(self, base_channels, channel_mults, num_res_blocks, attention_resolutions, dropout, groups,
                 embedding_scale, **kwargs):
        super().__init__(**kwargs)
        self.base_channels = base_channels
        self.channel_mults = tuple(channel_mults)
        self.num_res_blocks = num_res_blocks
        self.attention_resolutions = tuple(attention_resolutions)
        self.dropout = dropout
        self.groups = groups
        self.embedding_scale = embedding_scale

    def _build_time_embedding(self, embedding="sinusoidal"):
        emb_dim = 4 * self.base_channels
        embed_cls = SinusoidalEmbedding if embedding == "sinusoidal" else FourierEmbedding
        self.time_embed = embed_cls(self.base_channels, scale=self.embedding_scale)
        self.time_mlp = [keras.layers.Dense(emb_dim, activation="silu"), keras.layers.Dense(emb_dim)]
        self.time_mlp[0].build((None, self.base_channels))
        self.time_mlp[1].build((None, emb_dim))
        # Built after the MLP, as always: the order of weight creation fixes seeded initial weights.
        self.time_embed.build((None,))

    def _res_block(self, c_in, c_out, attend, num_heads=1):
        """A built `[ResBlock, AttentionBlock or None]` pair."""
        block = ResBlock(c_out, dropout=self.dropout, groups=self.groups)
        block.build(_image(c_in), (None, 4 * self.base_channels))
        attn = None
        if attend:
            attn = AttentionBlock(num_heads, groups=self.groups)
            attn.build(_image(c_out))
        return [block, attn]

    def _build_down_path(self, x_shape, num_heads=1):
        """Build `conv_in`, `down` and `downsample`; returns the widths of the skip
        connections (the last is the bottom width) and the bottom resolution."""
        self.conv_in = Conv2D(self.base_channels, 3, padding="same")
        self.conv_in.build(x_shape)
        widths, channels, resolution = [self.base_channels], self.base_channels, x_shape[1]
        self.down, self.downsample = [], []
        for level, mult in enumerate(self.channel_mults):
            for _ in range(self.num_res_blocks):
                self.down.append(self._res_block(channels, self.base_channels * mult,
                                                 resolution in self.attention_resolutions, num_heads))
                channels = self.base_channels * mult
                widths.append(channels)
            if level < len(self.channel_mults) - 1:
                self.downsample.append(Downsample(channels))
                self.downsample[-1].build(_image(channels))
                widths.append(channels)
                # A stride-2 "same" convolution rounds up; sizes may be unknown (None).
                resolution = None if resolution is None else (resolution + 1) // 2
        return widths, resolution

    def _embed_time(self, t):
        return self.time_mlp[1](self.time_mlp[0](self.time_embed(t)))

    @staticmethod
    def _apply(block_attn, h, emb, training):
        block, attn = block_attn
        h = block(h, emb, training=training)
        return h if attn is None else attn(h)

    def _down_path(self, x, emb, training=False):
        """Returns the bottom features and the skip connections (one per width of
        `_build_down_path`)."""
        h = self.conv_in(x)
        skips, down = [h], iter(self.down)
        for level in range(len(self.channel_mults)):
            for _ in range(self.num_res_blocks):
                h = self._apply(next(down), h, emb, training)
                skips.append(h)
            if level < len(self.channel_mults) - 1:
                h = self.downsample[level](h)
                skips.append(h)
        return h, skips

    def get_config(self):
        return {**super().get_config(), "base_channels": self.base_channels,
                "channel_mults": list(self.channel_mults), "num_res_blocks": self.num_res_blocks,
                "attention_resolutions": list(self.attention_resolutions), "dropout": self.dropout,
                "groups": self.groups, "embedding_scale": self.embedding_scale}


@keras.saving.register_keras_serializable(package="zoo")
class UNet(UNetDownPath):
    """U-Net over images, conditioned on a scalar per example and optionally a class.

    Args:
        base_channels: int. Width of the first level.
        channel_mults: tuple of int. Width multiplier per resolution level.
        num_res_blocks: int. Residual blocks per level on the way down.
        attention_resolutions: tuple of int. Feature-map sizes (pixels) that get
            self-attention.
        dropout: float. Dropout inside residual blocks.
        num_classes: int or None. Adds a class embedding; label `num_classes` is the
            "no label" token used for classifier-free guidance.
        num_heads: int. Attention heads.
        groups: int. GroupNorm groups.
        embedding: str. `"sinusoidal"` or `"fourier"` features of the scalar.
        embedding_scale: float. `scale` of that embedding (1000 maps t in [0, 1]
            like DDPM's integer steps; 16 is the Fourier std).
        out_channels: int or None. Output channels (default: as the input).

    Call args:
        x: `(batch, h, w, c)` images in model space.
        t: `(batch,)` float times or noise levels.
        labels: optional `(batch,)` int class labels.
    """

    def __init__(self, base_channels=64, channel_mults=(1, 2, 2), num_res_blocks=2,
                 attention_resolutions=(16,), dropout=0.0, num_classes=None, num_heads=1,
                 groups=32, embedding="sinusoidal", embedding_scale=1000.0, out_channels=None,
                 **kwargs):
        super().__init__(base_channels, channel_mults, num_res_blocks, attention_resolutions, dropout, groups,
                         embedding_scale, **kwargs)
        if embedding not in ("sinusoidal", "fourier"):
            raise ValueError(f"`embedding` must be 'sinusoidal' or 'fourier'. Received: {embedding!r}")
        self.num_classes = num_classes
        self.num_heads = num_heads
        self.embedding = embedding
        self.out_channels = out_channels

    def build(self, x_shape):
        height, channels_in = x_shape[1], x_shape[-1]
        if height is None or height % 2 ** (len(self.channel_mults) - 1):
            raise ValueError(f"Image size {height} must be known and divisible by "
                             f"2**{len(self.channel_mults) - 1} for `channel_mults`={self.channel_mults}.")
        self._build_time_embedding(self.embedding)
        self.label_embed = None
        if self.num_classes is not None:
            self.label_embed = keras.layers.Embedding(self.num_classes + 1, 4 * self.base_channels)
            self.label_embed.build((None,))
        widths, resolution = self._build_down_path(x_shape, self.num_heads)
        channels = widths[-1]
        # As in DDPM, the bottleneck always attends when any level does.
        self.mid = [self._res_block(channels, channels, bool(self.attention_resolutions), self.num_heads),
                    self._res_block(channels, channels, False)]
        self.up, self.upsample = [], []
        for level, mult in reversed(list(enumerate(self.channel_mults))):
            for _ in range(self.num_res_blocks + 1):
                skip = widths.pop()
                self.up.append(self._res_block(channels + skip, self.base_channels * mult,
                                               resolution in self.attention_resolutions, self.num_heads))
                channels = self.base_channels * mult
            if level > 0:
                self.upsample.append(Upsample(channels))
                self.upsample[-1].build(_image(channels))
                resolution *= 2
        self.norm_out = _group_norm(channels, self.groups)
        self.norm_out.build(_image(channels))
        self.conv_out = Conv2D(self.out_channels or channels_in, 3, padding="same",
                                            kernel_initializer="zeros")
        self.conv_out.build(_image(channels))

    def _embed(self, t, labels):
        emb = self._embed_time(t)
        if self.label_embed is not None:
            if labels is None:
                labels = ops.full((ops.shape(t)[0],), self.num_classes, dtype="int32")
            emb = emb + self.label_embed(labels)
        return emb

    def call(self, x, t, labels=None, training=False):
        emb = self._embed(t, labels)
        h, skips = self._down_path(x, emb, training)
        for block_attn in self.mid:
            h = self._apply(block_attn, h, emb, training)
        up, upsample = iter(self.up), iter(self.upsample)
        for level in reversed(range(len(self.channel_mults))):
            for _ in range(self.num_res_blocks + 1):
                h = self._apply(next(up), ops.concatenate([h, skips.pop()], axis=-1), emb, training)
            if level > 0:
                h = next(upsample)(h)
        return self.conv_out(ops.silu(self.norm_out(h)))

    def compute_output_shape(self, x_shape, *args, **kwargs):
        return (*x_shape[:-1], self.out_channels or x_shape[-1])

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "num_heads": self.num_heads,
                "embedding": self.embedding, "out_channels": self.out_channels}
