"""Noise-aware classifier p_phi(y | x, sigma) for classifier guidance (Dhariwal & Nichol
2021; Song et al. 2021, sec. 5 and appendix I).

Noise direction: sigma large is noise, 0 is data. The classifier lives in sigma space,
x = data + sigma * noise (Karras et al. 2022, eq. 4), where every diffusion family
samples, so one classifier guides DDPM, score SDEs and EDM alike:
`diffusion.sample(n, labels=y, guidance=s, classifier=clf)`.
"""

import math

import keras
import numpy as np
from keras import ops

from zoo import random
from zoo.checks import check_batch_size, check_positive
from zoo.models.base import Interface, ZooModel
from zoo.networks import MLPClassifier, UNetEncoder
from zoo.objectives.classification import class_labels, cross_entropy
from zoo.registry import register_config


def _bcast(values, x):
    return ops.reshape(values, (-1,) + (1,) * (len(x.shape) - 1))


@keras.saving.register_keras_serializable(package="zoo")
class NoisyClassifier(ZooModel):
    """A classifier of noisy data, trained with the stock `fit` on every backend.

    Training draws ln sigma uniformly on [ln sigma_min, ln sigma_max], forms
    x = data + sigma * noise and minimises the cross-entropy of
    `network(c_in x, c_noise)` with c_in = 1 / sqrt(sigma^2 + sigma_data^2) (unit-variance
    input at every sigma) and c_noise = ln(sigma) / 4 (EDM's conditioning). Log-uniform,
    not EDM's log-normal: guidance queries the classifier along a sampler's whole grid
    and its gradient matters most at mid-to-high noise, where the class is decided,
    which EDM's log-normal (P_mean -1.2, P_std 1.2) almost never draws above sigma ~20.
    Batches are `{"data", "labels"}` dicts (`ArrayBatches(..., labels=y)`) or `(x, y)`.

    Args:
        network: keras.layers.Layer. `network(x, t) -> (batch, num_classes)` logits with
            a `num_classes` attribute (`zoo.networks.MLPClassifier`, `UNetEncoder`).
        data_shape: tuple of int. One example's shape in model space.
        sigma_min, sigma_max: float. Training noise range; it should cover the
            sampler's (DDPM's linear schedule reaches sigma ~157, VP-SDE and EDM 80).
        sigma_data: float. Data std assumed by c_in (0.5 for images in [-1, 1]).
        label_smoothing: float. Label smoothing of the cross-entropy.
        seed: int or None. Seed of the training noise.

    References:
        Dhariwal & Nichol 2021, arXiv:2105.05233; Song et al. 2021, arXiv:2011.13456;
        Karras et al. 2022, arXiv:2206.00364.
    """

    interface = Interface(kind="classifier", capabilities={"classify"},
                          no_metrics="No `zoo eval` metrics for a noise-aware classifier: its accuracy per noise level "
                                     "and the guidance it gives are measured by scripts/guidance_moons.py.")

    card_usage = ("logits = model.logits(x, sigma)  # x = data + sigma * noise, in model space\n"
                  "# classifier guidance: diffusion.sample(n, labels=y, guidance=2.0, classifier=model)")

    def __init__(self, network, data_shape, sigma_min=0.002, sigma_max=160.0, sigma_data=0.5, label_smoothing=0.0,
                 seed=None, **kwargs):
        if not 0.0 < sigma_min < sigma_max:
            raise ValueError(f"Need 0 < sigma_min < sigma_max. Received: sigma_min={sigma_min}, "
                             f"sigma_max={sigma_max}")
        if not getattr(network, "num_classes", None):
            raise ValueError("`network` must return logits and say how many: it needs a `num_classes` "
                             "attribute (e.g. zoo.networks.MLPClassifier(num_classes=...)).")
        self.sigma_min, self.sigma_max, self.sigma_data = float(sigma_min), float(sigma_max), float(sigma_data)
        self.label_smoothing = label_smoothing
        super().__init__(data_shape, networks={"network": network}, seed=seed, **kwargs)

    def example_inputs(self, name):
        return ops.zeros((1, *self.data_shape)), ops.zeros((1,))

    # Training ---------------------------------------------------------------------------

    def training_sigmas(self, batch):
        """`(batch,)` noise levels, log-uniform on [sigma_min, sigma_max]."""
        low, high = math.log(self.sigma_min), math.log(self.sigma_max)
        return ops.exp(low + (high - low) * keras.random.uniform((batch,), seed=self.seed_generator))

    def call(self, inputs, training=False):
        data = inputs["data"] if isinstance(inputs, dict) else inputs
        self.check_data(data, "data")
        sigma = self.training_sigmas(ops.shape(data)[0])
        noise = keras.random.normal(ops.shape(data), seed=self.seed_generator)
        return self.logits(data + _bcast(sigma, data) * noise, sigma, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return cross_entropy(y_pred, class_labels(x, y), self.num_classes, self.label_smoothing)

    # p(y | x, sigma), in keras.ops (usable inside compiled samplers) ---------------------

    def logits(self, x, sigma, training=False):
        """`(batch, num_classes)` float32 logits of sigma-space `x` (data + sigma * noise)
        at noise level `sigma` (a float or a `(batch,)` tensor)."""
        x = ops.convert_to_tensor(x, "float32")
        sigma = ops.convert_to_tensor(sigma, "float32") * ops.ones((ops.shape(x)[0],))
        c_in = 1.0 / ops.sqrt(ops.square(sigma) + self.sigma_data**2)
        return ops.cast(self.network(_bcast(c_in, x) * x, 0.25 * ops.log(sigma), training=training), "float32")

    def log_prob(self, x, sigma, labels):
        """`(batch,)` log p(labels | x, sigma) (nats)."""
        log_p = ops.log_softmax(self.logits(x, sigma), axis=-1)
        return ops.sum(log_p * ops.one_hot(ops.cast(labels, "int32"), self.num_classes), axis=-1)

    # NumPy conveniences ------------------------------------------------------------------

    def check_labels(self, labels, num):
        """Validate int class labels `(num,)` in 0..num_classes-1; returns int32 NumPy."""
        labels = np.asarray(labels)
        if labels.shape != (num,) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"`labels` must be {num} integers (one per example); received "
                             f"{labels.dtype} {labels.shape}.")
        if num and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(f"`labels` must be in 0..{self.num_classes - 1} (the classifier's classes); "
                             f"received range {labels.min()}..{labels.max()}.")
        return labels.astype("int32")

    def accuracy(self, data, labels, sigma, *, seed=0, batch_size=1024):
        """Top-1 accuracy on model-space `data` noised once at level `sigma` (float),
        the noise drawn from `seed`."""
        data = self.check_array(data, "data")  # NaN or inf is refused here
        labels = self.check_labels(labels, len(data))
        sigma = check_positive(sigma, "sigma")  # the network is conditioned on ln(sigma)
        batch_size = check_batch_size(batch_size)
        noise = ops.convert_to_numpy(random.normal(data.shape, random.key(seed)))
        run = self.inference_fn("predict", lambda: lambda x, sigma: ops.argmax(self.logits(x, sigma), axis=-1))
        sigma = np.float32(sigma)
        predicted, _ = self.run_batched(lambda x: run(x, sigma), (data + sigma * noise,), batch_size)
        return float(np.mean(predicted == labels))

    def get_config(self):
        return {**super().get_config(), "sigma_min": self.sigma_min, "sigma_max": self.sigma_max,
                "sigma_data": self.sigma_data, "label_smoothing": self.label_smoothing}


# Named configs ---------------------------------------------------------------------------

def _noisy_classifier(network, data_shape=(32, 32, 3), num_classes=None, **kwargs):
    """`num_classes` replaces the network's, e.g. `zoo.create("noisy_classifier_mlp", num_classes=2)`."""
    kind, network_kwargs = network
    if num_classes is not None:
        network_kwargs = {**network_kwargs, "num_classes": num_classes}
    return NoisyClassifier({"mlp": MLPClassifier, "encoder": UNetEncoder}[kind](**network_kwargs), data_shape,
                           **kwargs)


def _register():
    register_config("noisy_classifier_mlp", _noisy_classifier,
                    "Noise-aware classifier (guidance) for 2-D toy data: MLP 3 x 128, sigma_data 1, 8 classes "
                    "(eight_gaussians; `num_classes=2` for moons).",
                    network=("mlp", dict(num_classes=8, hidden=128, depth=3, embedding_dim=32)),
                    data_shape=(2,), sigma_data=1.0)
    register_config("noisy_classifier_tiny", _noisy_classifier,
                    "Tiny noise-aware U-Net-encoder classifier (tests); 16x16x3, 10 classes.",
                    network=("encoder", dict(num_classes=10, base_channels=16, channel_mults=(1, 2),
                                             num_res_blocks=1, groups=8)),
                    data_shape=(16, 16, 3))
    register_config("noisy_classifier_small", _noisy_classifier,
                    "Noise-aware classifier for 32x32x3 (guidance on CIFAR-10): the down path of the "
                    "CPU-sized U-Net, attention at 8x8.",
                    network=("encoder", dict(num_classes=10, base_channels=32, channel_mults=(1, 2, 2),
                                             num_res_blocks=2, attention_resolutions=(8,), dropout=0.1,
                                             groups=8)))


_register()
