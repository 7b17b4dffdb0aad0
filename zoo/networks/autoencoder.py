"""The convolutional encoder and decoder of the quantized autoencoders: VQ-VAE's CIFAR-10
network (van den Oord et al. 2017, sec. 4.1), with a width of choice. No quantizer and
no loss: `ConvEncoder(x) -> latent grid`, `ConvDecoder(latent grid) -> x`."""

import keras

from zoo.layers.blocks import Conv2D


@keras.saving.register_keras_serializable(package="zoo")
class ResidualStack(keras.layers.Layer):
    """VQ-VAE's residual blocks, `x + conv1x1(relu(conv3x3(relu(x))))`, then a ReLU.

    Args:
        channels: int. Width of the input and output.
        hidden: int. Width inside each block.
        num_blocks: int.
    """

    def __init__(self, channels, hidden, num_blocks, **kwargs):
        super().__init__(**kwargs)
        self.channels, self.hidden, self.num_blocks = channels, hidden, num_blocks
        self.convs3x3 = [Conv2D(hidden, 3, padding="same", name=f"block{i}_conv3x3") for i in range(num_blocks)]
        self.convs1x1 = [Conv2D(channels, 1, name=f"block{i}_conv1x1") for i in range(num_blocks)]

    def build(self, input_shape):
        for conv3, conv1 in zip(self.convs3x3, self.convs1x1):
            conv3.build(input_shape)
            conv1.build((*input_shape[:-1], self.hidden))

    def call(self, x):
        for conv3, conv1 in zip(self.convs3x3, self.convs1x1):
            x = x + conv1(keras.activations.relu(conv3(keras.activations.relu(x))))
        return keras.activations.relu(x)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "hidden": self.hidden,
                "num_blocks": self.num_blocks}


@keras.saving.register_keras_serializable(package="zoo")
class ConvEncoder(keras.layers.Layer):
    """Images `(N, H, W, C)` in [-1, 1] -> latent grid `(N, H / 2^d, W / 2^d, latent_dim)`:
    `d` strided 4x4 convolutions (the first to half the width), a 3x3 convolution, the
    residual stack and a 1x1 projection to the quantizer's width.

    Args:
        latent_dim: int. Channels of the latent grid (the quantizer's `code_dim`).
        channels: int. Width after the last downsampling.
        num_downsamples: int. Each halves the height and width.
        num_res_blocks: int.
        res_channels: int. Width inside the residual blocks.
    """

    def __init__(self, latent_dim, channels=128, num_downsamples=2, num_res_blocks=2, res_channels=32, **kwargs):
        super().__init__(**kwargs)
        if num_downsamples < 1:
            raise ValueError(f"`num_downsamples` must be >= 1. Received: {num_downsamples}")
        self.latent_dim, self.channels, self.num_downsamples = latent_dim, channels, num_downsamples
        self.num_res_blocks, self.res_channels = num_res_blocks, res_channels
        self.down = [Conv2D(channels // 2 if i < num_downsamples - 1 else channels, 4, strides=2,
                            padding="same", name=f"down{i}") for i in range(num_downsamples)]
        self.conv = Conv2D(channels, 3, padding="same", name="conv")
        self.res = ResidualStack(channels, res_channels, num_res_blocks, name="res")
        self.project = Conv2D(latent_dim, 1, name="project")

    @property
    def downsampling(self):
        return 2 ** self.num_downsamples

    def build(self, input_shape):
        shape = tuple(input_shape)
        for conv in self.down:
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
        for layer in (self.conv, self.res):
            layer.build(shape)
            shape = (*shape[:-1], self.channels)
        self.project.build(shape)

    def call(self, x):
        for conv in self.down:
            x = keras.activations.relu(conv(x))
        return self.project(self.res(self.conv(x)))

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim, "channels": self.channels,
                "num_downsamples": self.num_downsamples, "num_res_blocks": self.num_res_blocks,
                "res_channels": self.res_channels}


@keras.saving.register_keras_serializable(package="zoo")
class ConvDecoder(keras.layers.Layer):
    """Latent grid `(N, h, w, latent_dim)` -> images `(N, h 2^d, w 2^d, out_channels)` in
    model space: a 3x3 convolution, the residual stack, then `d` times nearest 2x
    upsampling and a 3x3 convolution (VQ-VAE uses 4x4 transposed convolutions; these
    give no checkerboard and the same numbers on every backend).

    Args:
        out_channels: int. Image channels.
        channels, num_downsamples, num_res_blocks, res_channels: as `ConvEncoder`'s.
    """

    def __init__(self, out_channels, channels=128, num_downsamples=2, num_res_blocks=2, res_channels=32, **kwargs):
        super().__init__(**kwargs)
        self.out_channels, self.channels, self.num_downsamples = out_channels, channels, num_downsamples
        self.num_res_blocks, self.res_channels = num_res_blocks, res_channels
        self.conv = Conv2D(channels, 3, padding="same", name="conv")
        self.res = ResidualStack(channels, res_channels, num_res_blocks, name="res")
        self.up = [Conv2D(out_channels if i == num_downsamples - 1 else channels // 2, 3, padding="same",
                          name=f"up{i}") for i in range(num_downsamples)]

    def build(self, input_shape):
        self.conv.build(input_shape)
        shape = (*input_shape[:-1], self.channels)
        self.res.build(shape)
        for conv in self.up:
            shape = (shape[0], None if shape[1] is None else 2 * shape[1], None if shape[2] is None else 2 * shape[2],
                     shape[3])
            conv.build(shape)
            shape = conv.compute_output_shape(shape)

    def call(self, z):
        x = self.res(self.conv(z))
        for i, conv in enumerate(self.up):
            x = conv(keras.ops.repeat(keras.ops.repeat(x, 2, axis=1), 2, axis=2))
            if i < self.num_downsamples - 1:
                x = keras.activations.relu(x)
        return x

    def get_config(self):
        return {**super().get_config(), "out_channels": self.out_channels, "channels": self.channels,
                "num_downsamples": self.num_downsamples, "num_res_blocks": self.num_res_blocks,
                "res_channels": self.res_channels}
