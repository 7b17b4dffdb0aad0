"""MLP backbone for low-dimensional (e.g. 2-D toy) data."""

import keras
from keras import ops

from zoo.layers.embeddings import SinusoidalEmbedding


@keras.saving.register_keras_serializable(package="zoo")
class MLP(keras.layers.Layer):
    """Time-conditioned MLP: `[x, embed(t)] -> hidden x depth -> output`.

    Args:
        hidden: int. Width of the hidden layers.
        depth: int. Number of hidden layers.
        embedding_dim: int. Width of the sinusoidal time features.
        embedding_scale: float. Scale of the time before the sinusoids.
        num_classes: int or None. Adds a learned class embedding (label
            `num_classes` means "no label").
        output_dim: int or None. Output width (default: like x).

    Call args:
        x: `(batch, d)` tensor.
        t: `(batch,)` float times or noise levels.
        labels: optional `(batch,)` int labels.
    """

    # The output layer's attribute name is part of every saved weight path
    # (`.../out/vars/0`); `MLPClassifier`'s checkpoints call it `head`.
    output_name = "out"

    def __init__(self, hidden=256, depth=3, embedding_dim=64, embedding_scale=1000.0,
                 num_classes=None, output_dim=None, **kwargs):
        super().__init__(**kwargs)
        self.hidden = hidden
        self.depth = depth
        self.embedding_dim = embedding_dim
        self.embedding_scale = embedding_scale
        self.num_classes = num_classes
        self.output_dim = output_dim

    def build(self, x_shape):
        self._build_layers(x_shape, label_classes=self.num_classes)

    def _build_layers(self, x_shape, label_classes):
        self.time_embed = SinusoidalEmbedding(self.embedding_dim, scale=self.embedding_scale)
        self.time_embed.build((None,))
        self.label_embed = None
        if label_classes is not None:
            self.label_embed = keras.layers.Embedding(label_classes + 1, self.embedding_dim)
            self.label_embed.build((None,))
        width = x_shape[-1] + self.embedding_dim
        self.hidden_layers = []
        for _ in range(self.depth):
            self.hidden_layers.append(keras.layers.Dense(self.hidden, activation="silu"))
            self.hidden_layers[-1].build((None, width))
            width = self.hidden
        output = keras.layers.Dense(self.output_dim or x_shape[-1])
        output.build((None, width))
        setattr(self, self.output_name, output)

    def call(self, x, t, labels=None, training=False):
        emb = self.time_embed(t)
        if self.label_embed is not None:
            if labels is None:
                labels = ops.full((ops.shape(x)[0],), self.num_classes, dtype="int32")
            emb = emb + self.label_embed(labels)
        h = ops.concatenate([x, ops.cast(emb, x.dtype)], axis=-1)
        for layer in self.hidden_layers:
            h = layer(h)
        return getattr(self, self.output_name)(h)

    def compute_output_shape(self, x_shape, *args, **kwargs):
        return (*x_shape[:-1], self.output_dim or x_shape[-1])

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden, "depth": self.depth,
                "embedding_dim": self.embedding_dim, "embedding_scale": self.embedding_scale,
                "num_classes": self.num_classes, "output_dim": self.output_dim}
