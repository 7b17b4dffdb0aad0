"""A small pre-activation ResNet (He et al. 2016, arXiv:1603.05027) for image
classification: the feature network of the zoo's Frechet distance."""

import keras
from keras import ops

from zoo.layers.blocks import Conv2D


@keras.saving.register_keras_serializable(package="zoo")
class PreActBlock(keras.layers.Layer):
    """BN-ReLU-conv3x3 twice with an identity (or strided 1x1) shortcut.

    Args:
        filters: int. Output channels.
        strides: int. 2 halves the resolution (the shortcut is then a 1x1 conv).
        norm_momentum: float. BatchNormalization's moving-average momentum.
    """

    def __init__(self, filters, strides=1, norm_momentum=0.99, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.strides = strides
        self.norm_momentum = norm_momentum

    def build(self, input_shape):
        channels = input_shape[-1]
        self.norm1 = keras.layers.BatchNormalization(momentum=self.norm_momentum)
        self.norm1.build(input_shape)
        self.conv1 = Conv2D(self.filters, 3, strides=self.strides, padding="same", use_bias=False)
        self.conv1.build(input_shape)
        inner = self.conv1.compute_output_shape(input_shape)
        self.norm2 = keras.layers.BatchNormalization(momentum=self.norm_momentum)
        self.norm2.build(inner)
        self.conv2 = Conv2D(self.filters, 3, padding="same", use_bias=False)
        self.conv2.build(inner)
        self.shortcut = None
        if self.strides != 1 or channels != self.filters:
            self.shortcut = Conv2D(self.filters, 1, strides=self.strides, use_bias=False)
            self.shortcut.build(input_shape)

    def call(self, x, training=False):
        h = ops.relu(self.norm1(x, training=training))
        skip = x if self.shortcut is None else self.shortcut(h)
        h = self.conv1(h)
        h = self.conv2(ops.relu(self.norm2(h, training=training)))
        return skip + h

    def compute_output_shape(self, input_shape):
        return self.conv1.compute_output_shape(input_shape)[:-1] + (self.filters,)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides,
                "norm_momentum": self.norm_momentum}


@keras.saving.register_keras_serializable(package="zoo")
class ResNet(keras.layers.Layer):
    """Stem conv, stages of `PreActBlock`s (each stage after the first halves the
    resolution), global average pooling, a linear head.

    Args:
        num_classes: int. Logits per image.
        widths: tuple of int. Channels of each stage.
        blocks_per_stage: int. Blocks in each stage.
        norm_momentum: float. BatchNormalization's moving-average momentum (Keras's 0.99
            suits long runs; 0.9, PyTorch's default, lets short runs' statistics catch up).

    Call args:
        x: `(batch, H, W, C)` float images in [-1, 1].

    Returns:
        `(batch, num_classes)` logits; `features(x)` gives the pooled
        `(batch, widths[-1])` penultimate features.
    """

    def __init__(self, num_classes=10, widths=(32, 64, 128), blocks_per_stage=1, norm_momentum=0.99, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.widths = tuple(widths)
        self.blocks_per_stage = blocks_per_stage
        self.norm_momentum = norm_momentum

    def build(self, input_shape):
        self.stem = Conv2D(self.widths[0], 3, padding="same", use_bias=False)
        self.stem.build(input_shape)
        shape = self.stem.compute_output_shape(input_shape)
        self.blocks = []
        for stage, width in enumerate(self.widths):
            for index in range(self.blocks_per_stage):
                block = PreActBlock(width, strides=2 if stage > 0 and index == 0 else 1,
                                    norm_momentum=self.norm_momentum)
                block.build(shape)
                shape = block.compute_output_shape(shape)
                self.blocks.append(block)
        self.final_norm = keras.layers.BatchNormalization(momentum=self.norm_momentum)
        self.final_norm.build(shape)
        self.head = keras.layers.Dense(self.num_classes)
        self.head.build((None, self.widths[-1]))

    def features(self, x, training=False):
        h = self.stem(x)
        for block in self.blocks:
            h = block(h, training=training)
        h = ops.relu(self.final_norm(h, training=training))
        return ops.mean(h, axis=(1, 2))

    def call(self, x, training=False):
        return self.head(self.features(x, training=training))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "widths": list(self.widths),
                "blocks_per_stage": self.blocks_per_stage, "norm_momentum": self.norm_momentum}
