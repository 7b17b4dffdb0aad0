"""Normalizing flows: NICE (arXiv:1410.8516), RealNVP (arXiv:1605.08803) and Glow
(arXiv:1807.03039), each a `MultiScaleFlow` network (`zoo.networks.flow`) over a base
distribution.

Direction: `encode` runs the flow forward, data x -> latent z (distributed as the
base); `decode` and `sample` run it backward, z -> x. The likelihood is exact:
log p(x) = log p_base(z) + log |det dz/dx|.

Image models work in model space like every zoo family, but on *dequantized* data,
`x = 2 (pixels + u) / 256 - 1` with `u ~ U[0, 1)`, which `ArrayBatches(images, ...,
dequantize=True)` yields with fresh noise every step (Theis et al. 2016,
arXiv:1511.01844). The network counts its preprocessing's log-det, so `log_prob(x)` is
the density of model-space x; `bits_per_dim` adds D log(2 / 256) for pixels -> model
space, the number papers report.
"""

import math
import tempfile
import warnings
from pathlib import Path

import keras
import numpy as np
from keras import ops

from zoo import datasets, metrics, random
from zoo.likelihood import image_bits_per_dim, standard_normal_log_prob
from zoo.checks import check_batch_size, check_positive
from zoo.models.base import Interface, ZooModel
from zoo.networks.flow import glow_network, is_pre_contract_layout, nice_network, realnvp_network, to_current_layout
from zoo.registry import register_config
from zoo.schedules import check_steps

BASES = ("normal", "logistic", "uniform")


class Flow(ZooModel):
    """What NICE, RealNVP and Glow share: a `MultiScaleFlow` network over a base
    distribution. `call(x)` returns `log_prob` per example and `compute_loss` its
    negative mean, in bits/dim for dequantized 8-bit images, else in nats. No weight EMA.

    Args:
        network: `MultiScaleFlow`. The bijection x -> z.
        data_shape: tuple of int. One example's shape: `(h, w, c)` images or `(d,)`.
        base: str. `"normal"`, `"logistic"` (NICE's, for MNIST) or `"uniform"` on
            [0, 1)^D (useful for checking likelihood accounting).
        dequantize: bool or None. The training data are dequantized 8-bit images
            (`ArrayBatches(..., dequantize=True)`): report the loss in bits/dim. None: images.
        ema_decay: None. Flows train and sample one set of weights.
        seed: int or None. Seed of draws made without a `seed`.
    """

    interface = Interface(
        kind="generative",
        capabilities={"sample", "log_prob", "bits_per_dim", "encode", "decode", "temperature"},
        likelihood="exact", image_metrics=("bits_per_dim", "sample_quality"),
        point_metrics=("log_likelihood", "nearest_neighbour_distance"))
    likelihood_method = "exact log-density by the change of variables, uniformly dequantized images"

    def __init__(self, network, data_shape, base="normal", dequantize=None, ema_decay=None, seed=None, **kwargs):
        if ema_decay is not None:  # an average would also mix ActNorm's initialized flags
            raise ValueError(f"Flows keep no weight EMA; pass ema_decay=None. Received: {ema_decay!r}")
        if base not in BASES:
            raise ValueError(f"`base` must be one of {BASES}. Received: {base!r}")
        if len(data_shape) not in (1, 3):
            raise ValueError(f"`data_shape` must be (h, w, c) for images or (d,) for vectors. "
                             f"Received: {data_shape}")
        self.base = base
        self.dequantize = len(data_shape) == 3 if dequantize is None else bool(dequantize)
        super().__init__(data_shape, networks={"network": network}, ema_decay=None, seed=seed, **kwargs)

    def prior_sample(self, shape, key):
        """Draws of the base distribution (the logistic by its inverse CDF)."""
        if self.base == "normal":
            return random.normal(shape, key)
        u = random.uniform(shape, key)
        if self.base == "uniform":
            return u
        u = ops.clip(u, 1e-7, 1.0 - 1e-7)
        return ops.log(u) - ops.log1p(-u)

    def base_log_prob(self, z):
        """log p_base(z) per example, in nats."""
        if self.base == "normal":
            return standard_normal_log_prob(z)
        z = ops.reshape(z, (ops.shape(z)[0], -1))
        if self.base == "logistic":
            return -ops.sum(ops.softplus(z) + ops.softplus(-z), axis=-1)
        inside = ops.all(ops.logical_and(z >= 0.0, z < 1.0), axis=-1)
        return ops.where(inside, 0.0, -np.inf)

    def log_prob_tensor(self, x):
        """log p(x) in nats per example for model-space x (backend tensors)."""
        z, log_det = self.network(x)
        return self.base_log_prob(z) + log_det

    # Training -------------------------------------------------------------------------

    def call(self, x, training=False):
        self.check_data(x)
        return self.log_prob_tensor(x)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        nll = -ops.mean(y_pred)
        if self.dequantize:  # bits/dim of the 8-bit data, as the papers report
            return (nll - metrics.uint8_to_model_space_log_det(self.num_dims)) / (self.num_dims * math.log(2.0))
        return nll

    def initialize(self, x, *, seed=0, force=False):
        """ActNorm's data-dependent initialization (Glow, section 3.1), once, on the batch
        `x`: model-space floats (as `ArrayBatches` yields them) or uint8 images,
        dequantized with `seed`. Saved with the weights, so a resumed or loaded model is
        not redone unless `force`. `fit` calls it; call it eagerly. Returns the model."""
        x = np.asarray(ops.convert_to_numpy(x))
        if x.dtype == np.uint8:
            x = 2.0 * datasets.dequantize(self.check_images(x, "x"), seed=seed) - 1.0
        self.check_data(x)
        self.network.initialize(x, force=force)
        return self

    @property
    def initialized(self):
        """Whether every ActNorm has had its data-dependent initialization."""
        return self.network.initialized

    def fit(self, x=None, *args, **kwargs):
        """`keras.Model.fit`, after ActNorm's data-dependent initialization on the first
        batch of `x` when it has not been done (a resumed or loaded model keeps its own)."""
        if self.dequantize and getattr(x, "dequantize", None) is False and getattr(x, "data", x).dtype == np.uint8:
            raise ValueError("This flow trains on dequantized 8-bit images (its `dequantize` setting): pass "
                             "`ArrayBatches(images, ..., dequantize=True)`.")
        if not self.initialized:
            self.initialize(_first_batch(x, kwargs.get("batch_size")))
        return super().fit(x, *args, **kwargs)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """`keras.Model.load_weights`, which also reads the pre-contract layout: before
        the bijection became the `network`, the model held its layers and Keras saved
        them at `flow_layers/...` and `layers/split[_k]/...`, as in the bundled
        checkpoints and tests/golden/glow_tiny.weights.h5. Such a file is loaded from a
        temporary copy in the current layout (`to_current_layout`); saves are current."""
        if is_pre_contract_layout(filepath):
            with tempfile.TemporaryDirectory() as directory:
                current = Path(directory) / "model.weights.h5"
                self.save_weights(current)  # the current layout, as Keras writes it for this model
                to_current_layout(filepath, current)
                return super().load_weights(current, skip_mismatch=skip_mismatch, **kwargs)
        return super().load_weights(filepath, skip_mismatch=skip_mismatch, **kwargs)

    # Inference -------------------------------------------------------------------------

    def _run(self, key, fn, x, batch_size):
        batch_size = check_batch_size(batch_size)
        return self.run_batched(self.inference_fn(key, lambda: fn), (x,), batch_size)[0]

    def log_prob(self, x, *, batch_size=256, rtol=None, atol=None):
        """Exact log-density in nats per example of float model-space `x` (dequantized
        images in [-1, 1), or points); uint8 images go to `bits_per_dim`. `rtol`, `atol`:
        accepted, unused, so that code written for the ODE families runs unchanged."""
        if np.asarray(x).dtype == np.uint8:
            raise ValueError("`x` holds uint8 pixels, a discrete variable; `log_prob` takes float model-space data. "
                             "Use `bits_per_dim(images)`, or pass `2 * zoo.datasets.dequantize(images) - 1`.")
        return self._run("log_prob", self.log_prob_tensor, self.check_array(x), batch_size)

    def bits_per_dim(self, images, *, seed=0, batch_size=256, rtol=None, atol=None):
        """`(N,)` bits/dim of uint8 images under uniform dequantization with `seed`
        (`zoo.likelihood.image_bits_per_dim`): an upper bound on the discrete model's
        bits/dim and the number papers report (as the mean)."""
        images = self.check_images(images)
        return image_bits_per_dim(lambda x: self.log_prob(x, batch_size=batch_size), images, seed)

    def encode(self, x, *, seed=None, batch_size=256):
        """Data -> latent z `(N, *data_shape)`, exactly: float model-space `x`, or uint8
        images dequantized with `seed` (None: each pixel bin's centre, so
        `decode(encode(images))` returns the images)."""
        x = np.asarray(ops.convert_to_numpy(x))
        if x.dtype == np.uint8:
            images = self.check_images(x)
            unit = (images + np.float32(0.5)) / np.float32(256) if seed is None else datasets.dequantize(images, seed)
            x = 2.0 * unit - 1.0
        return self._run("encode", lambda x: self.network(x)[0], self.check_array(x), batch_size)

    def decode(self, z, *, raw=False, batch_size=256):
        """Latent z `(N, *data_shape)` -> uint8 images (float32 points), or model-space
        float32 data if `raw`."""
        x = self._run("decode", lambda z: self.network(z, inverse=True)[0], self.check_array(z, "z"), batch_size)
        return self.to_output(x, raw)

    def to_output(self, x, raw=False):
        """Model space -> uint8 images by the inverse of dequantization, floor(256 (x + 1) / 2)."""
        x = np.asarray(x, "float32")
        if not self.is_image or raw:
            return x
        finite = np.all(np.isfinite(x.reshape(len(x), -1)), axis=1)
        if not np.all(finite):
            # The inverse of a contracting coupling can overflow for latents far in the
            # base's tails; say so rather than hand back images cast from NaN.
            warnings.warn(f"{np.sum(~finite)} of {len(x)} decoded images are not finite (the inverse flow "
                          "overflowed) and are returned black; a lower `temperature` avoids it.", stacklevel=3)
            x = np.where(finite.reshape((-1,) + (1,) * (x.ndim - 1)), x, -1.0)
        return np.clip(np.floor((x + 1.0) * 128.0), 0, 255).astype(np.uint8)

    def sample(self, num=None, *, temperature=1.0, seed=None, noise=None, batch_size=256, raw=False, steps=1,
               return_nfe=False, solver=None, rtol=None, atol=None, verbose=False):
        """Draw samples: latent draws from the base distribution, scaled by
        `temperature`, decoded by the inverse flow in one pass.

        Args:
            num: int. Number of samples (or give `noise`).
            temperature: float > 0. Scales the normal or logistic base draws (Glow's
                "temperature": T < 1 trades diversity for quality). Must be 1 for the
                uniform base.
            seed: int or None. Same seed, same backend -> same samples.
            noise: array `(N, *data_shape)` of base draws at temperature 1 instead of `seed`.
            raw: bool. Return model-space float32 arrays instead of uint8 images.
            steps: int >= 1. Accepted, with `solver`, `rtol`, `atol` and `verbose`, so
                that code written for the ODE families (`zoo sample`, `zoo eval`) runs
                unchanged; a flow always samples in one exact inverse pass.
            return_nfe: bool. Also return the number of network passes (1).

        Returns:
            uint8 `(N, H, W, C)` images (float32 `(N, D)` for point data), and the NFE
            if `return_nfe`.
        """
        try:
            temperature = check_positive(temperature, "temperature")
        except ValueError as error:
            raise ValueError(f"{error} (1.0 samples the model itself)") from None
        if self.base == "uniform" and temperature != 1.0:
            raise ValueError(f"`temperature` must be 1.0 with the uniform base; received {temperature}.")
        check_steps(steps)  # unused: a flow samples in one pass
        z = self.initial_noise(num, noise, seed)
        if self.base != "uniform":
            z = z * np.float32(temperature)
        out = self.decode(z, raw=raw, batch_size=batch_size)
        return (out, 1) if return_nfe else out

    def get_config(self):
        # Hyperparameters only: NICE, RealNVP and Glow build their network from them (so
        # every config.json written before the network existed loads unchanged).
        config = {key: value for key, value in super().get_config().items() if key not in self.network_names}
        return {**config, "base": self.base, "preprocessing": self.network.preprocessing,
                "logit_alpha": self.network.logit_alpha, "dequantize": self.dequantize}


def _first_batch(x, batch_size):
    """The first training batch of what `fit` takes: an array or a `PyDataset`."""
    if isinstance(x, keras.utils.PyDataset):
        batch = x[0]
        return batch[0] if isinstance(batch, tuple) else batch
    if isinstance(x, dict) or x is None:
        raise ValueError("Flows train on a plain array of data (or an `ArrayBatches`), not a dict.")
    return np.asarray(ops.convert_to_numpy(x))[:batch_size or 32]


@keras.saving.register_keras_serializable(package="zoo")
class NICE(Flow):
    """NICE: additive couplings and a diagonal scaling (`nice_network`) over a logistic
    base, as the paper's MNIST model.

    Args:
        data_shape: tuple of int. Images `(h, w, c)` (flattened inside) or `(d,)`, with
            an even number of dimensions.
        num_couplings, hidden, network_depth, preprocessing, logit_alpha: the arguments
            of `zoo.networks.flow.nice_network`.
        **kwargs: `Flow` arguments (`base`).

    References:
        Dinh, Krueger & Bengio 2015, arXiv:1410.8516.
    """

    def __init__(self, data_shape, num_couplings=4, hidden=1000, network_depth=5, base="logistic",
                 preprocessing=None, logit_alpha=0.05, **kwargs):
        self.num_couplings = num_couplings
        self.hidden = hidden
        self.network_depth = network_depth
        network = nice_network(data_shape, num_couplings, hidden, network_depth, preprocessing, logit_alpha)
        super().__init__(network, data_shape, base=base, **kwargs)

    def get_config(self):
        return {**super().get_config(), "num_couplings": self.num_couplings, "hidden": self.hidden,
                "network_depth": self.network_depth}


@keras.saving.register_keras_serializable(package="zoo")
class RealNVP(Flow):
    """RealNVP: affine couplings with a tanh-bounded scale in RealNVP's multi-scale
    architecture (`realnvp_network`) over a standard normal base.

    Args:
        data_shape: tuple of int. Images `(h, w, c)` or `(d,)`.
        num_scales, num_couplings, hidden, network_depth, scale, preprocessing,
            logit_alpha: the arguments of `zoo.networks.flow.realnvp_network`.
        **kwargs: `Flow` arguments.

    References:
        Dinh, Sohl-Dickstein & Bengio 2017, arXiv:1605.08803.
    """

    def __init__(self, data_shape, num_scales=2, num_couplings=3, hidden=64, network_depth=2, scale="tanh",
                 preprocessing=None, logit_alpha=0.05, **kwargs):
        self.num_scales = num_scales
        self.num_couplings = num_couplings
        self.hidden = hidden
        self.network_depth = network_depth
        self.scale = scale
        network = realnvp_network(data_shape, num_scales, num_couplings, hidden, network_depth, scale, preprocessing,
                                  logit_alpha)
        super().__init__(network, data_shape, **kwargs)

    def get_config(self):
        return {**super().get_config(), "num_scales": self.num_scales, "num_couplings": self.num_couplings,
                "hidden": self.hidden, "network_depth": self.network_depth, "scale": self.scale}


@keras.saving.register_keras_serializable(package="zoo")
class Glow(Flow):
    """Glow: levels of squeeze, steps of (ActNorm, invertible 1x1 convolution, affine
    coupling) and a split with a learned prior (`glow_network`) over a standard normal
    base. ActNorm is initialized from the first training batch (`Flow.initialize`).

    Args:
        data_shape: tuple of int. Images `(h, w, c)` or `(d,)`.
        num_levels, num_steps, hidden, network_depth, scale, learned_prior,
            actnorm_log_scale_factor, preprocessing, logit_alpha: the arguments of
            `zoo.networks.flow.glow_network` (its `seed` is the model's).
        **kwargs: `Flow` arguments.

    References:
        Kingma & Dhariwal 2018, arXiv:1807.03039.
    """

    def __init__(self, data_shape, num_levels=3, num_steps=8, hidden=128, network_depth=2, scale="sigmoid",
                 learned_prior=True, actnorm_log_scale_factor=1.0, preprocessing="none", logit_alpha=0.05,
                 **kwargs):
        self.num_levels = num_levels
        self.num_steps = num_steps
        self.hidden = hidden
        self.network_depth = network_depth
        self.scale = scale
        self.learned_prior = learned_prior
        self.actnorm_log_scale_factor = float(actnorm_log_scale_factor)
        network = glow_network(data_shape, num_levels, num_steps, hidden, network_depth, scale, learned_prior,
                               self.actnorm_log_scale_factor, preprocessing, logit_alpha, seed=kwargs.get("seed"))
        super().__init__(network, data_shape, **kwargs)

    def get_config(self):
        return {**super().get_config(), "num_levels": self.num_levels, "num_steps": self.num_steps,
                "hidden": self.hidden, "network_depth": self.network_depth, "scale": self.scale,
                "learned_prior": self.learned_prior, "actnorm_log_scale_factor": self.actnorm_log_scale_factor}


# Named configs ---------------------------------------------------------------------------

def _register():
    families = {"nice": NICE, "realnvp": RealNVP, "glow": Glow}

    def register(name, description, **kwargs):
        register_config(name, families[name.split("_")[0]], description, **kwargs)

    register("nice_tiny", "Tiny NICE on 4x4x1 images (tests).", data_shape=(4, 4, 1), num_couplings=4,
             hidden=16, network_depth=2)
    register("nice_2d", "NICE for 2-D toy data: 6 additive couplings, MLPs 2 x 64, normal base.",
             data_shape=(2,), num_couplings=6, hidden=64, network_depth=2, base="normal")
    # The paper's MLPs are 5 x 1000 (19M parameters, 76 MB): 4 x 400 keeps the
    # checkpoint under the 16 MiB bundle cap and trains at a few hundred images/s on 2 cores.
    register("nice_mnist", "NICE for MNIST: 4 additive couplings, MLPs 4 x 400, logistic base (3.2M).",
             data_shape=(28, 28, 1), num_couplings=4, hidden=400, network_depth=4)
    register("realnvp_tiny", "Tiny RealNVP on 4x4x1 images, 2 scales (tests).", data_shape=(4, 4, 1),
             num_scales=2, num_couplings=2, hidden=8, network_depth=1)
    register("realnvp_2d", "RealNVP for 2-D toy data: 8 affine couplings, MLPs 2 x 64 (35k).", data_shape=(2,),
             num_scales=1, num_couplings=8, hidden=64, network_depth=2)
    register("realnvp_mnist", "RealNVP for MNIST on a CPU: 3 scales, 3 couplings per group, convnets of width 64 "
             "(173k).", data_shape=(28, 28, 1), num_scales=3, num_couplings=3, hidden=64, network_depth=2)
    register("glow_tiny", "Tiny Glow on 4x4x1 images, 2 levels x 2 steps (tests).", data_shape=(4, 4, 1),
             num_levels=2, num_steps=2, hidden=8, network_depth=2)
    register("glow_2d", "Glow for 2-D toy data: 8 steps (ActNorm, 2x2 LU linear, affine coupling), MLPs 2 x 64.",
             data_shape=(2,), num_levels=1, num_steps=8, hidden=64, network_depth=2)
    # ActNorm's log-scale factor 3 is Glow's code. On MNIST, the logit preprocessing of
    # RealNVP (not Glow's paper): near-constant background pixels need a hundredfold
    # expansion that sigmoid-scaled couplings cannot give; in a 2-epoch CPU trial it
    # reached 5.0 bits/dim where plain Glow was at 6.5 (recipes/glow_mnist.py).
    register("glow_mnist", "Glow for MNIST on a CPU: 2 levels x 8 steps, convnets of width 64, logit "
             "preprocessing (236k).", data_shape=(28, 28, 1), num_levels=2, num_steps=8, hidden=64,
             network_depth=2, actnorm_log_scale_factor=3.0, preprocessing="logit")
    register("glow_cifar", "Glow for CIFAR-10 on a CPU: 3 levels x 8 steps, convnets of width 96.",
             data_shape=(32, 32, 3), num_levels=3, num_steps=8, hidden=96, network_depth=2,
             actnorm_log_scale_factor=3.0)


_register()
