"""Encoder and decoder backbones of the variational autoencoders (`zoo.models.vae`):
plain MLPs over flattened inputs, as in Kingma & Welling (2014), Burda et al. (2016) and
Jang et al. (2017) on MNIST. No loss, no sampling."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class DenseNetwork(keras.layers.Layer):
    """`flatten(x) -> Dense(hidden[0]) -> ... -> Dense(prod(output_shape)) -> reshape`.

    The VAE's encoder maps data to the posterior's parameters (output `(2 * latents,)`
    or `(latents, categories)`), its decoder latents to the likelihood's parameters
    (output `(*data_shape[:-1], channels * parameters)`).

    Args:
        hidden: tuple of int. Widths of the hidden layers.
        output_shape: tuple of int. One example's output shape.
        activation: str. Activation of the hidden layers.

    Call args:
        x: `(batch, ...)` tensor.
    """

    def __init__(self, hidden=(512, 256), output_shape=(2,), activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.hidden = tuple(int(h) for h in hidden)
        self.output_shape_ = tuple(int(d) for d in output_shape)
        self.activation = activation

    def build(self, x_shape):
        width = math.prod(x_shape[1:])
        self.hidden_layers = []
        for units in self.hidden:
            layer = keras.layers.Dense(units, activation=self.activation)
            layer.build((None, width))
            self.hidden_layers.append(layer)
            width = units
        self.out = keras.layers.Dense(math.prod(self.output_shape_))
        self.out.build((None, width))

    def call(self, x, training=False):
        h = ops.reshape(x, (ops.shape(x)[0], -1))
        for layer in self.hidden_layers:
            h = layer(h)
        return ops.reshape(self.out(h), (ops.shape(x)[0], *self.output_shape_))

    def compute_output_shape(self, x_shape, *args, **kwargs):
        return (x_shape[0], *self.output_shape_)

    def get_config(self):
        return {**super().get_config(), "hidden": list(self.hidden), "output_shape": list(self.output_shape_),
                "activation": self.activation}
