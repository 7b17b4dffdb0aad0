"""Noise-conditioned classifier backbones: `network(x, t) -> (batch, num_classes)`
logits, for classifiers of noisy data (`zoo.models.NoisyClassifier`). No loss.
Each is its generator's backbone with a classification head: `MLPClassifier` an
`MLP`, `UNetEncoder` the down path of a `UNet`."""

import keras
from keras import ops

from zoo.layers.blocks import _group_norm
from zoo.networks.mlp import MLP
from zoo.networks.unet import UNetDownPath


@keras.saving.register_keras_serializable(package="zoo")
class MLPClassifier(MLP):
    """Time-conditioned MLP classifier for low-dimensional data:
    `[x, embed(t)] -> hidden x depth -> num_classes logits` (a `zoo.networks.MLP`
    whose output is the logits and which takes no labels).

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

    output_name = "head"  # as in the checkpoints' weight paths

    def __init__(self, num_classes, hidden=128, depth=3, embedding_dim=32, embedding_scale=1.0, **kwargs):
        super().__init__(hidden, depth, embedding_dim, embedding_scale, num_classes=num_classes,
                         output_dim=num_classes, **kwargs)

    def build(self, x_shape):
        # `num_classes` counts the logits here; there are no labels to embed.
        self._build_layers(x_shape, label_classes=None)

    def call(self, x, t, training=False):
        return super().call(x, t, training=training)

    def get_config(self):
        config = super().get_config()
        del config["output_dim"]  # always num_classes
        return config


@keras.saving.register_keras_serializable(package="zoo")
class UNetEncoder(UNetDownPath):
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
        super().__init__(base_channels, channel_mults, num_res_blocks, attention_resolutions, dropout, groups,
                         embedding_scale, **kwargs)
        self.num_classes = num_classes

    def build(self, x_shape):
        self._build_time_embedding()
        widths, _ = self._build_down_path(x_shape)
        channels = widths[-1]
        self.norm_out = _group_norm(channels, self.groups)
        self.norm_out.build((None, None, None, channels))
        self.head = keras.layers.Dense(self.num_classes)
        self.head.build((None, channels))

    def call(self, x, t, training=False):
        h, _ = self._down_path(x, self._embed_time(t), training)
        h = ops.silu(self.norm_out(h))
        return self.head(ops.mean(h, axis=(1, 2)))

    def compute_output_shape(self, x_shape, *args, **kwargs):
        return (x_shape[0], self.num_classes)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}
