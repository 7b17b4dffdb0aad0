"""DDPM++-like U-Net (Ho et al. 2020, arXiv:2006.11239; Song et al. 2021, arXiv:2011.13456)."""

import keras
from keras import ops

from zoo.layers.blocks import AttentionBlock, Downsample, ResBlock, Upsample, _group_norm
from zoo.layers.embeddings import FourierEmbedding, SinusoidalEmbedding


@keras.saving.register_keras_serializable(package="zoo")
class UNet(keras.layers.Layer):
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
        super().__init__(**kwargs)
        if embedding not in ("sinusoidal", "fourier"):
            raise ValueError(f"`embedding` must be 'sinusoidal' or 'fourier'. Received: {embedding!r}")
        self.base_channels = base_channels
        self.channel_mults = tuple(channel_mults)
        self.num_res_blocks = num_res_blocks
        self.attention_resolutions = tuple(attention_resolutions)
        self.dropout = dropout
        self.num_classes = num_classes
        self.num_heads = num_heads
        self.groups = groups
        self.embedding = embedding
        self.embedding_scale = embedding_scale
        self.out_channels = out_channels

    def build(self, x_shape):
        height, channels_in = x_shape[1], x_shape[-1]
        if height is None or height % 2 ** (len(self.channel_mults) - 1):
            raise ValueError(f"Image size {height} must be known and divisible by "
                             f"2**{len(self.channel_mults) - 1} for `channel_mults`={self.channel_mults}.")
        emb_dim = 4 * self.base_channels
        emb_shape = (None, emb_dim)
        embed_cls = SinusoidalEmbedding if self.embedding == "sinusoidal" else FourierEmbedding
        self.time_embed = embed_cls(self.base_channels, scale=self.embedding_scale)
        self.time_mlp = [keras.layers.Dense(emb_dim, activation="silu"), keras.layers.Dense(emb_dim)]
        self.time_mlp[0].build((None, self.base_channels))
        self.time_mlp[1].build(emb_shape)
        self.time_embed.build((None,))
        self.label_embed = None
        if self.num_classes is not None:
            self.label_embed = keras.layers.Embedding(self.num_classes + 1, emb_dim)
            self.label_embed.build((None,))

        def image(c):
            return (None, None, None, c)

        def res_block(c_in, c_out, attend):
            block = ResBlock(c_out, dropout=self.dropout, groups=self.groups)
            block.build(image(c_in), emb_shape)
            attn = None
            if attend:
                attn = AttentionBlock(self.num_heads, groups=self.groups)
                attn.build(image(c_out))
            return [block, attn]

        self.conv_in = keras.layers.Conv2D(self.base_channels, 3, padding="same")
        self.conv_in.build(x_shape)
        widths, channels, resolution = [self.base_channels], self.base_channels, height
        self.down, self.downsample = [], []
        for level, mult in enumerate(self.channel_mults):
            for _ in range(self.num_res_blocks):
                self.down.append(res_block(channels, self.base_channels * mult,
                                            resolution in self.attention_resolutions))
                channels = self.base_channels * mult
                widths.append(channels)
            if level < len(self.channel_mults) - 1:
                self.downsample.append(Downsample(channels))
                self.downsample[-1].build(image(channels))
                widths.append(channels)
                resolution //= 2
        # As in DDPM, the bottleneck always attends when any level does.
        self.mid = [res_block(channels, channels, bool(self.attention_resolutions)),
                    res_block(channels, channels, False)]
        self.up, self.upsample = [], []
        for level, mult in reversed(list(enumerate(self.channel_mults))):
            for _ in range(self.num_res_blocks + 1):
                skip = widths.pop()
                self.up.append(res_block(channels + skip, self.base_channels * mult,
                                          resolution in self.attention_resolutions))
                channels = self.base_channels * mult
            if level > 0:
                self.upsample.append(Upsample(channels))
                self.upsample[-1].build(image(channels))
                resolution *= 2
        self.norm_out = _group_norm(channels, self.groups)
        self.norm_out.build(image(channels))
        self.conv_out = keras.layers.Conv2D(self.out_channels or channels_in, 3, padding="same",
                                            kernel_initializer="zeros")
        self.conv_out.build(image(channels))

    def _embed(self, t, labels):
        emb = self.time_mlp[1](self.time_mlp[0](self.time_embed(t)))
        if self.label_embed is not None:
            if labels is None:
                labels = ops.full((ops.shape(t)[0],), self.num_classes, dtype="int32")
            emb = emb + self.label_embed(labels)
        return emb

    def call(self, x, t, labels=None, training=False):
        emb = self._embed(t, labels)

        def apply(block_attn, h):
            block, attn = block_attn
            h = block(h, emb, training=training)
            return h if attn is None else attn(h)

        h = self.conv_in(x)
        skips, down = [h], iter(self.down)
        for level in range(len(self.channel_mults)):
            for _ in range(self.num_res_blocks):
                h = apply(next(down), h)
                skips.append(h)
            if level < len(self.channel_mults) - 1:
                h = self.downsample[level](h)
                skips.append(h)
        for block_attn in self.mid:
            h = apply(block_attn, h)
        up, upsample = iter(self.up), iter(self.upsample)
        for level in reversed(range(len(self.channel_mults))):
            for _ in range(self.num_res_blocks + 1):
                h = apply(next(up), ops.concatenate([h, skips.pop()], axis=-1))
            if level > 0:
                h = next(upsample)(h)
        return self.conv_out(ops.silu(self.norm_out(h)))

    def compute_output_shape(self, x_shape, *args, **kwargs):
        return (*x_shape[:-1], self.out_channels or x_shape[-1])

    def get_config(self):
        return {**super().get_config(), "base_channels": self.base_channels,
                "channel_mults": list(self.channel_mults), "num_res_blocks": self.num_res_blocks,
                "attention_resolutions": list(self.attention_resolutions), "dropout": self.dropout,
                "num_classes": self.num_classes, "num_heads": self.num_heads, "groups": self.groups,
                "embedding": self.embedding, "embedding_scale": self.embedding_scale,
                "out_channels": self.out_channels}
