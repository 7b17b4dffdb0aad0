"""What every family model shares: a network, its EMA shadow, the data shape, seeds,
input checks and cached compiled inference functions."""

import math

import keras
import numpy as np
from keras import ops

from zoo import datasets
from zoo.backend import compile_function


def check_uint8_images(images, image_shape, name="images"):
    """Validate user images: uint8 `(N, *image_shape)`; returns them as NumPy uint8."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != tuple(image_shape):
        raise ValueError(f"`{name}` must have shape (N, {', '.join(map(str, image_shape))}); "
                         f"received {images.shape}. Channel count and size must match the model.")
    if images.dtype != np.uint8:
        raise ValueError(f"`{name}` must be uint8 pixels in 0..255; received dtype {images.dtype}. "
                         "Convert with `np.clip(np.round(x), 0, 255).astype('uint8')`.")
    return images


class GenerativeModel(keras.Model):
    """Base for family models: `call(x)` does the one training forward pass and
    `compute_loss` reduces it, so the stock `fit()` works on every backend.

    Args:
        network: keras.layers.Layer. The backbone, `network(x, t, labels) -> tensor`.
        data_shape: tuple of int. One example's shape in model space, e.g.
            `(32, 32, 3)` for images or `(2,)` for points.
        ema_decay: float or None. Keep an exponential moving average of the
            network's weights, used for sampling, updated once per training step
            inside `call` (like BatchNorm statistics, so `fit` needs no custom step).
            None trains and samples the raw weights.
        seed: int or None. Seed of the model's `SeedGenerator` (training noise).
    """

    def __init__(self, network, data_shape, ema_decay=0.999, seed=None, **kwargs):
        # The wrapper stays float32 under mixed precision: the network casts itself,
        # while the loss and the EMA update must not run in bfloat16.
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.network = network
        self.data_shape = tuple(int(d) for d in data_shape)
        self.ema_decay = ema_decay
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.ema_network = None
        if ema_decay is not None:
            if not 0.0 < ema_decay < 1.0:
                raise ValueError(f"`ema_decay` must be in (0, 1) or None. Received: {ema_decay}")
            self.ema_network = network.__class__.from_config(network.get_config())
            # (On TensorFlow, freezing the layer does not reach layers nested in
            # lists, so freeze each variable too.)
            self.ema_network.trainable = False
            for shadow in self.ema_network.weights:
                shadow.trainable = False
        self._compiled = {}
        self.build((None, *self.data_shape))

    @property
    def is_image(self):
        return len(self.data_shape) == 3

    def build(self, input_shape):
        x = ops.zeros((1, *self.data_shape))
        t = ops.zeros((1,))
        self.network(x, t)
        if self.ema_network is not None:
            self.ema_network(x, t)
            # Sublayers are created in `build`, so freeze after building. Copy the
            # values: two variables sharing one JAX buffer break `fit`'s donation.
            # (On TensorFlow, freezing the layer does not reach layers nested in
            # lists, so freeze each variable too.)
            self.ema_network.trainable = False
            for shadow in self.ema_network.weights:
                shadow.trainable = False
            for shadow, weight in zip(self.ema_network.weights, self.network.weights):
                shadow.assign(ops.copy(weight))
            self.ema_updates = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                               name="ema_updates")

    @property
    def sampling_network(self):
        """The EMA network when there is one, else the trained network."""
        return self.ema_network if self.ema_network is not None else self.network

    def update_ema(self):
        """One EMA step, with the usual warm-up min(decay, (1 + n) / (10 + n))."""
        count = self.ema_updates + 1.0
        decay = ops.minimum(self.ema_decay, (1.0 + count) / (10.0 + count))
        for shadow, weight in zip(self.ema_network.weights, self.network.weights):
            shadow.assign(decay * shadow + (1.0 - decay) * ops.stop_gradient(weight))
        self.ema_updates.assign(count)

    def copy(self, **changes):
        """A new model with this one's config updated by `changes` and its weights.

        The copy's network starts from the sampling (EMA) weights, as reflow and
        distillation do; `copy(ema_decay=None)` is what gets published, at half the size.
        """
        clone = self.__class__.from_config({**self.get_config(), **changes})
        source = self.sampling_network.weights
        networks = [clone.network] + ([clone.ema_network] if clone.ema_network is not None else [])
        for network in networks:
            for target, weight in zip(network.weights, source):
                target.assign(ops.copy(weight))
        return clone

    # Input checks and conversions --------------------------------------------------

    def check_data(self, data, name="x"):
        """Static checks of a training batch (shape and dtype) with the fix in the message."""
        if tuple(data.shape[1:]) != self.data_shape:
            raise ValueError(f"`{name}` must have shape (batch, {', '.join(map(str, self.data_shape))}) "
                             f"in model space. Received shape {tuple(data.shape)}.")
        if not keras.backend.is_float_dtype(data.dtype):
            raise ValueError(f"`{name}` must be float data in model space; received dtype {data.dtype}. "
                             "Convert uint8 images with `zoo.datasets.to_model_space(images)`.")

    def check_images(self, images, name="images"):
        """Validate uint8 images `(N, *data_shape)` given by a user; returns NumPy uint8."""
        if not self.is_image:
            raise ValueError(f"This model works on {self.data_shape} points, not images.")
        return check_uint8_images(images, self.data_shape, name)

    def initial_noise(self, num, noise, seed):
        """Standard normal starting points: the given `noise` (checked) or `num` fresh
        draws from `seed` (same seed, same backend -> same noise)."""
        if noise is None:
            if num is None or isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
                raise ValueError(f"`num` must be an integer >= 1 when `noise` is not given. Received: {num!r}")
            draw_seed = self.seed_generator if seed is None else seed
            return ops.convert_to_numpy(keras.random.normal((int(num), *self.data_shape), seed=draw_seed))
        noise = np.asarray(ops.convert_to_numpy(noise), dtype="float32")
        if noise.shape[1:] != self.data_shape or noise.ndim != len(self.data_shape) + 1:
            raise ValueError(f"`noise` must have shape (N, {', '.join(map(str, self.data_shape))}); "
                             f"received {noise.shape}.")
        if not np.all(np.isfinite(noise)):
            raise ValueError("`noise` contains NaN or infinite values.")
        if num is not None and num != len(noise):
            raise ValueError(f"`num`={num} disagrees with `noise` holding {len(noise)} examples; pass one.")
        return noise

    def check_labels(self, labels, num):
        """Validate optional int class labels `(num,)` against the network's classes."""
        if labels is None:
            return None
        num_classes = getattr(self.network, "num_classes", None)
        if num_classes is None:
            raise ValueError("`labels` were given but this model is unconditional (no `num_classes`).")
        labels = np.asarray(labels)
        if labels.shape != (num,) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"`labels` must be {num} integers; received {labels.dtype} {labels.shape}.")
        if labels.min() < 0 or labels.max() > num_classes:
            raise ValueError(f"`labels` must be in 0..{num_classes - 1} (or {num_classes} for "
                             f"'no label'); received range {labels.min()}..{labels.max()}.")
        return labels.astype("int32")

    def to_output(self, x, raw):
        """Model space -> uint8 images (or float32 points / raw arrays)."""
        x = np.asarray(x, dtype="float32")
        return datasets.from_model_space(x) if self.is_image and not raw else x

    def inference_fn(self, key, build_fn, *others):
        """Cache one compiled inference function per key (solver, steps, ...). `others`:
        further models whose variables the function reads (a guiding classifier); the
        key must then name them."""
        if key not in self._compiled:
            self._compiled[key] = compile_function(build_fn(), self, *others)
        return self._compiled[key]

    @property
    def num_dims(self):
        return math.prod(self.data_shape)

    def get_config(self):
        return {**super().get_config(), "network": keras.saving.serialize_keras_object(self.network),
                "data_shape": list(self.data_shape), "ema_decay": self.ema_decay, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        return cls(**config)
