"""Image classifier: the zoo's own feature network for evaluating generative models.

`classifier-cifar` supplies the features of the "FD-classifier" (a Frechet distance like
FID, but in this classifier's penultimate features, so it is not comparable with paper
FIDs), the IS-style score and per-class coverage of `zoo eval`.
"""

import keras
import numpy as np
from keras import ops

from zoo.models.base import Interface, ZooModel
from zoo.networks import ResNet
from zoo.objectives.classification import class_labels, cross_entropy
from zoo.registry import register_config


@keras.saving.register_keras_serializable(package="zoo")
class ImageClassifier(ZooModel):
    """A classifier on uint8 images, trained with `fit` on every backend.

    `fit` takes `{"data": model-space images, "labels": int}` batches (as
    `zoo.training.ArrayBatches(..., labels=y)` yields them) or `(x, y)`; calling the
    model on uint8 images returns logits.

    Args:
        network: keras.layers.Layer. `network(x) -> logits`, with `network.features(x)`
            the penultimate features (e.g. `zoo.networks.ResNet`).
        data_shape: tuple of int. `(H, W, C)` of the images.
        label_smoothing: float. Label smoothing of the cross-entropy.
        tailr_gamma: float in [0, 1]. TaiLr's gamma (Ji et al. 2023): each example's
            cross-entropy weighted by `p / (gamma + (1 - gamma) p)`, damping over-confidence
            on unlikely (noisy) labels; 0 is plain cross-entropy.
        seed: int or None. The classifier draws no random numbers of its own; kept for
            the contract (`zoo.create(..., seed=s)` fixes the initial weights).
    """

    interface = Interface(kind="classifier", capabilities={"classify", "features"},
                          image_metrics=("classifier_accuracy",))

    def __init__(self, network, data_shape=(32, 32, 3), label_smoothing=0.0, tailr_gamma=0.0, seed=None, **kwargs):
        if not 0.0 <= tailr_gamma <= 1.0:
            raise ValueError(f"`tailr_gamma` must be in [0, 1]; received {tailr_gamma}.")
        self.label_smoothing, self.tailr_gamma = label_smoothing, tailr_gamma
        kwargs.setdefault("dtype", None)  # as before the contract: the global policy's
        super().__init__(data_shape, networks={"network": network}, seed=seed, **kwargs)

    @staticmethod
    def _images(inputs):
        data = inputs["data"] if isinstance(inputs, dict) else inputs
        return pixels_to_model_space(data) if "int" in str(data.dtype) else data

    def call(self, inputs, training=False):
        return self.network(self._images(inputs), training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return cross_entropy(y_pred, class_labels(x, y), self.num_classes, self.label_smoothing, self.tailr_gamma)

    # Inference on uint8 images ------------------------------------------------------

    def _run(self, kind, images, batch_size):
        images = self.check_images(images)
        head = self.network.features if kind == "features" else self.network
        run = self.inference_fn(kind, lambda: lambda x: ops.cast(head(pixels_to_model_space(x), training=False),
                                                                  "float32"))
        return self.run_batched(run, (images,), batch_size)[0]

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
        return {**super().get_config(), "label_smoothing": self.label_smoothing, "tailr_gamma": self.tailr_gamma}


def pixels_to_model_space(x):
    """uint8 tensor -> float32 in [-1, 1]: `zoo.datasets.to_model_space` in ops."""
    return ops.cast(x, "float32") / 127.5 - 1.0


def _classifier(network, **kwargs):
    return ImageClassifier(ResNet(**network), **kwargs)


register_config("classifier_tiny", _classifier, "Tiny ResNet classifier (tests).",
                network=dict(num_classes=10, widths=(8, 16), blocks_per_stage=1, norm_momentum=0.9),
                data_shape=(16, 16, 3))
register_config("classifier_cifar", _classifier,
                "Pre-activation ResNet for CIFAR-10 sized for CPU training (widths 32-64-128).",
                network=dict(num_classes=10, widths=(32, 64, 128), blocks_per_stage=1))
register_config("classifier_mnist", _classifier,
                "Pre-activation ResNet for 28x28x1 digits (widths 16-32-64, 0.08M): MNIST's FD-classifier features.",
                network=dict(num_classes=10, widths=(16, 32, 64), blocks_per_stage=1, norm_momentum=0.9),
                data_shape=(28, 28, 1))
