"""GAN backbones (Radford et al. 2016, "DCGAN", arXiv:1511.06434): a transposed-conv
generator `z -> image`, a strided-conv critic `image -> score`, the joint critic
`(image, z) -> score` of bidirectional GANs, and an MLP for 2-D points.

Image sizes: the generator starts from a `start x start` map and doubles it `levels`
times, where `start` is the size halved while it stays even and >= 4 (32 -> 4, three
doublings; 28 -> 7, two); the critic mirrors it."""

import keras
from keras import ops

from zoo.layers.blocks import Conv2D


def upsampling_levels(size):
    """Doublings from the smallest start map (even halvings while the result is >= 4)."""
    levels = 0
    while size % 2 == 0 and size // 2 >= 4:
        size, levels = size // 2, levels + 1
    if levels == 0:
        raise ValueError(f"Image size {size} cannot be reached by doubling a map of size >= 4: use even sizes "
                         "such as 28 or 32.")
    return levels


@keras.saving.register_keras_serializable(package="zoo")
class DCGANGenerator(keras.layers.Layer):
    """`z (batch, latent_dim) -> image (batch, H, W, C)` in [-1, 1]: Dense to a
    `start x start x width * 2^(levels-1)` map, then stride-2 transposed convs halving
    the channels (BatchNorm + ReLU), the last to `C` channels with tanh.

    Args:
        image_shape: tuple of int. `(H, W, C)` of the output.
        width: int. Channels of the last hidden map (the first has width * 2^(levels-1)).
        kernel_size: int. Transposed-conv kernel.
        batch_norm: bool. BatchNorm after the Dense and each hidden transposed conv.
    """

    def __init__(self, image_shape=(32, 32, 3), width=32, kernel_size=4, batch_norm=True, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.width = width
        self.kernel_size = kernel_size
        self.batch_norm = batch_norm

    def build(self, z_shape):
        height, _, channels = self.image_shape
        levels = upsampling_levels(height)
        start, filters = height // 2**levels, self.width * 2 ** (levels - 1)
        self.start, self.start_filters = start, filters
        self.project = keras.layers.Dense(start * start * filters)
        self.project.build(z_shape)
        self.norms = [keras.layers.BatchNormalization() if self.batch_norm else None for _ in range(levels)]
        if self.norms[0] is not None:
            self.norms[0].build((None, start, start, filters))
        self.deconvs = []
        size = start
        for level in range(levels):
            out = channels if level == levels - 1 else filters // 2
            deconv = keras.layers.Conv2DTranspose(out, self.kernel_size, strides=2, padding="same")
            deconv.build((None, size, size, filters))
            self.deconvs.append(deconv)
            size, filters = size * 2, out
            if level < levels - 1 and self.norms[level + 1] is not None:
                self.norms[level + 1].build((None, size, size, filters))

    def call(self, z, training=False):
        h = ops.reshape(self.project(z), (-1, self.start, self.start, self.start_filters))
        for level, deconv in enumerate(self.deconvs):
            if self.norms[level] is not None:
                h = self.norms[level](h, training=training)
            h = deconv(ops.relu(h))
        return ops.tanh(h)

    def compute_output_shape(self, z_shape):
        return (z_shape[0], *self.image_shape)

    def get_config(self):
        return {**super().get_config(), "image_shape": list(self.image_shape), "width": self.width,
                "kernel_size": self.kernel_size, "batch_norm": self.batch_norm}


@keras.saving.register_keras_serializable(package="zoo")
class DCGANDiscriminator(keras.layers.Layer):
    """`image (batch, H, W, C) -> (batch, output_dim)`: stride-2 convs doubling the
    channels from `width` (LeakyReLU 0.2, no normalization, so that a per-example
    gradient penalty stays per example), flattened, then a Dense head.

    Args:
        width: int. Channels of the first conv.
        kernel_size: int.
        output_dim: int. 1 for a critic score; more for the image features of a joint critic.
    """

    def __init__(self, width=32, kernel_size=4, output_dim=1, **kwargs):
        super().__init__(**kwargs)
        self.width = width
        self.kernel_size = kernel_size
        self.output_dim = output_dim

    def build(self, x_shape):
        size, channels = x_shape[1], x_shape[-1]
        self.convs, filters = [], self.width
        for _ in range(upsampling_levels(size)):
            conv = Conv2D(filters, self.kernel_size, strides=2, padding="same")
            conv.build((None, size, size, channels))
            self.convs.append(conv)
            size, channels, filters = size // 2, filters, filters * 2
        self.head = keras.layers.Dense(self.output_dim)
        self.head.build((None, size * size * channels))

    def call(self, x, training=False):
        h = x
        for conv in self.convs:
            h = ops.leaky_relu(conv(h), 0.2)
        return self.head(ops.reshape(h, (ops.shape(h)[0], -1)))

    def compute_output_shape(self, x_shape):
        return (x_shape[0], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "width": self.width, "kernel_size": self.kernel_size,
                "output_dim": self.output_dim}


@keras.saving.register_keras_serializable(package="zoo")
class JointCritic(keras.layers.Layer):
    """BiGAN's critic of pairs: `(x, z) -> score`, a `DCGANDiscriminator` embedding of the
    image concatenated with z, then an MLP (LeakyReLU 0.2), as in BiGAN-QP's reference code.

    Args:
        width: int. First conv channels of the image branch.
        kernel_size: int.
        feature_dim: int. Width of the image embedding.
        hidden: int. Width of the two hidden layers on the concatenation.
    """

    def __init__(self, width=32, kernel_size=4, feature_dim=128, hidden=512, **kwargs):
        super().__init__(**kwargs)
        self.width = width
        self.kernel_size = kernel_size
        self.feature_dim = feature_dim
        self.hidden = hidden

    def build(self, x_shape, z_shape):
        self.image_features = DCGANDiscriminator(self.width, self.kernel_size, self.feature_dim)
        self.image_features.build(x_shape)
        self.joint = MLPNetwork(1, hidden=self.hidden, depth=2, activation="leaky_relu")
        self.joint.build((None, self.feature_dim + z_shape[-1]))

    def call(self, x, z, training=False):
        features = self.image_features(x)
        return self.joint(ops.concatenate([features, ops.cast(z, features.dtype)], axis=-1))

    def compute_output_shape(self, x_shape, z_shape):
        return (x_shape[0], 1)

    def get_config(self):
        return {**super().get_config(), "width": self.width, "kernel_size": self.kernel_size,
                "feature_dim": self.feature_dim, "hidden": self.hidden}


@keras.saving.register_keras_serializable(package="zoo")
class MLPNetwork(keras.layers.Layer):
    """A plain MLP `(batch, d) -> (batch, output_dim)`: the generator and the critic of
    2-D toy GANs.

    Args:
        output_dim: int.
        hidden: int. Width of the hidden layers.
        depth: int. Number of hidden layers.
        activation: str. `"relu"` or `"leaky_relu"` (slope 0.2).
    """

    ACTIVATIONS = ("relu", "leaky_relu")

    def __init__(self, output_dim, hidden=128, depth=3, activation="relu", **kwargs):
        super().__init__(**kwargs)
        if activation not in self.ACTIVATIONS:
            raise ValueError(f"`activation` must be one of {self.ACTIVATIONS}. Received: {activation!r}")
        self.output_dim = output_dim
        self.hidden = hidden
        self.depth = depth
        self.activation = activation

    def build(self, x_shape):
        self.hidden_layers, width = [], x_shape[-1]
        for _ in range(self.depth):
            layer = keras.layers.Dense(self.hidden)
            layer.build((None, width))
            self.hidden_layers.append(layer)
            width = self.hidden
        self.out = keras.layers.Dense(self.output_dim)
        self.out.build((None, width))

    def call(self, x, training=False):
        h = x
        for layer in self.hidden_layers:
            h = layer(h)
            h = ops.relu(h) if self.activation == "relu" else ops.leaky_relu(h, 0.2)
        return self.out(h)

    def compute_output_shape(self, x_shape):
        return (*x_shape[:-1], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "output_dim": self.output_dim, "hidden": self.hidden, "depth": self.depth,
                "activation": self.activation}
