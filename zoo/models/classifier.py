"""Image classifier: the zoo's own feature network for evaluating generative models.

`classifier-cifar` supplies the features of the "FD-classifier" (a Frechet distance like
FID, but in this classifier's penultimate features, so it is not comparable with paper
FIDs), the IS-style score and per-class coverage of `zoo eval`.
"""

import keras
import numpy as np
from keras import ops

from zoo.backend import compile_function
from zoo.models.base import check_uint8_images


@keras.saving.register_keras_serializable(package="zoo")
class ImageClassifier(keras.Model):
    """A classifier on uint8 images, trained with `fit` on every backend.

    `fit` takes `{"data": model-space images, "labels": int}` batches (as
    `zoo.training.ArrayBatches(..., labels=y)` yields them) or `(x, y)`; calling the
    model on uint8 images returns logits.

    Args:
        network: keras.layers.Layer. `network(x) -> logits`, with `network.features(x)`
            the penultimate features (e.g. `zoo.networks.ResNet`).
        data_shape: tuple of int. `(H, W, C)` of the images.
        label_smoothing: float. Label smoothing of the cross-entropy.
    """

    def __init__(self, network, data_shape=(32, 32, 3), label_smoothing=0.0, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.data_shape = tuple(int(d) for d in data_shape)
        self.label_smoothing = label_smoothing
        self._compiled = {}
        self.build((None, *self.data_shape))

    @property
    def num_classes(self):
        return self.network.num_classes

    def build(self, input_shape):
        if not self.network.built:  # (deserialized networks arrive built)
            self.network.build((None, *self.data_shape))

    @staticmethod
    def _images(inputs):
        data = inputs["data"] if isinstance(inputs, dict) else inputs
        return pixels_to_model_space(data) if "int" in str(data.dtype) else data

    def call(self, inputs, training=False):
        return self.network(self._images(inputs), training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        labels = x["labels"] if isinstance(x, dict) else y
        if labels is None:
            raise ValueError("Training the classifier needs labels: batches `{'data', 'labels'}` or `(x, y)`.")
        one_hot = ops.one_hot(ops.cast(labels, "int32"), self.num_classes)
        losses = keras.losses.categorical_crossentropy(one_hot, y_pred, from_logits=True,
                                                       label_smoothing=self.label_smoothing)
        return ops.mean(losses)

    # Inference on uint8 images ------------------------------------------------------

    def _run(self, kind, images, batch_size):
        images = check_uint8_images(images, self.data_shape)
        if kind not in self._compiled:
            head = self.network.features if kind == "features" else self.network
            self._compiled[kind] = compile_function(
                lambda x: ops.cast(head(pixels_to_model_space(x), training=False), "float32"), self)
        run = self._compiled[kind]
        return np.concatenate([ops.convert_to_numpy(run(images[i:i + batch_size]))
                               for i in range(0, len(images), batch_size)])

    def logits(self, images, batch_size=500):
        """`(N, num_classes)` float32 logits of uint8 images `(N, H, W, C)`."""
        return self._run("logits", images, batch_size)

    def features(self, images, batch_size=500):
        """`(N, d)` float32 penultimate features of uint8 images: the FD-classifier space."""
        return self._run("features", images, batch_size)

    def classify(self, images, batch_size=500):
        """`(N,)` int predicted classes."""
        return np.argmax(self.logits(images, batch_size), axis=-1)

    def accuracy(self, images, labels, batch_size=500):
        """Top-1 accuracy on uint8 images with int labels."""
        labels = np.asarray(labels)
        if labels.shape != (len(images),):
            raise ValueError(f"`labels` must have shape ({len(images)},); received {labels.shape}.")
        return float(np.mean(self.classify(images, batch_size) == labels))

    def get_config(self):
        return {**super().get_config(), "network": keras.saving.serialize_keras_object(self.network),
                "data_shape": list(self.data_shape), "label_smoothing": self.label_smoothing}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        return cls(**config)


def pixels_to_model_space(x):
    """uint8 tensor -> float32 in [-1, 1]: `zoo.datasets.to_model_space` in ops."""
    return ops.cast(x, "float32") / 127.5 - 1.0


def _classifier(network, seed=None, **kwargs):
    """`seed` only fixes the initial weights (`zoo.create` seeds the initializers): the
    classifier draws no random numbers of its own."""
    from zoo.networks import ResNet

    return ImageClassifier(ResNet(**network), **kwargs)


def _register():
    from zoo.registry import register_config

    register_config("classifier_tiny", _classifier, "Tiny ResNet classifier (tests).",
                    network=dict(num_classes=10, widths=(8, 16), blocks_per_stage=1, norm_momentum=0.9),
                    data_shape=(16, 16, 3))
    register_config("classifier_cifar", _classifier,
                    "Pre-activation ResNet for CIFAR-10 sized for CPU training (widths 32-64-128).",
                    network=dict(num_classes=10, widths=(32, 64, 128), blocks_per_stage=1))


_register()
