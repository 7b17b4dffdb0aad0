"""Variational autoencoders: `VAE` with Gaussian latents (Kingma & Welling 2014,
arXiv:1312.6114) and `GumbelVAE` with categorical latents relaxed by Gumbel-Softmax
in training (Jang et al. 2017, arXiv:1611.01144), both scored by the importance-weighted
bound (Burda et al. 2016, arXiv:1509.00519).

Direction: `encode` maps data x to latents z (the posterior's mean, or its most likely
categories), `decode` and `sample` map z to x through the decoder p(x | z); there is
no time. The decoder's likelihood is a setting:

- `"bernoulli"`: binary images. Model space as everywhere in the zoo, [-1, 1], read as
  pixel probabilities p = (x + 1) / 2; with `dynamic_binarization` each training step
  draws x ~ Bernoulli(p) from the model's seed generator (train on grayscale MNIST,
  fed by `ArrayBatches`). Likelihoods are of binary images: {0, 1} (as
  `zoo.datasets.load("binarized_mnist")` gives them) or {0, 255} uint8.
- `"logistic"`: 8-bit images under a discretized logistic (PixelCNN++'s), a probability
  of the pixels themselves, reported in bits/dim.
- `"gaussian"`: continuous data (2-D toy sets), a density in nats.

`log_prob` is a lower bound on log p(x), the IWAE bound with `k` importance samples
(k = 1: the ELBO); so `bits_per_dim` and the NLL are upper bounds.
"""

import math

import keras
import numpy as np
from keras import ops

from zoo import random as zoo_random
from zoo.checks import check_batch_size
from zoo.layers.latent import GaussianReparameterization, GumbelSoftmax
from zoo.models.base import Interface, ZooModel
from zoo.networks.vae import DenseNetwork
from zoo.objectives.variational import (LIKELIHOODS, MIN_LOG_SCALE, categorical_kl, categorical_log_prob,
                                        decoder_log_likelihood, gaussian_kl, negative_elbo,
                                        uniform_categorical_log_prior)
from zoo.registry import register_config
from zoo.schedules import check_steps


def _positive_int(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be an integer >= 1. Received: {value!r}")
    return int(value)


class LatentVariableModel(ZooModel):
    """What `VAE` and `GumbelVAE` share: an encoder to the posterior's parameters, a
    decoder to the likelihood's, the ELBO as the training loss (in nats per example) and
    the importance-weighted bound for inference. Subclasses say how latents are drawn.

    Args:
        encoder: keras.layers.Layer. `encoder(x) -> posterior parameters`.
        decoder: keras.layers.Layer. `decoder(z) -> (*data_shape[:-1], channels * P)`
            likelihood parameters (P = 1 for Bernoulli logits, 2 for mean and log-scale).
        data_shape: tuple of int.
        likelihood: str. `"bernoulli"`, `"logistic"` or `"gaussian"` (module docstring).
        dynamic_binarization: bool. Bernoulli only: binarize each training batch afresh.
        eval_samples: int. The default k of `log_prob`, `bits_per_dim` and `zoo eval`.
        seed: int or None. Seed of the training noise (binarization, latents).
    """

    interface = Interface(
        kind="generative", capabilities={"sample", "log_prob", "bits_per_dim", "encode", "decode", "reconstruct"},
        likelihood="bound", image_metrics=("variational_bound", "sample_quality"),
        point_metrics=("log_likelihood", "nearest_neighbour_distance"))

    def __init__(self, encoder, decoder, data_shape, likelihood="bernoulli", dynamic_binarization=False,
                 eval_samples=1000, seed=None, **kwargs):
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"`likelihood` must be one of {tuple(LIKELIHOODS)}. Received: {likelihood!r}")
        if dynamic_binarization and likelihood != "bernoulli":
            raise ValueError("`dynamic_binarization` binarizes data for a Bernoulli decoder; "
                             f"use likelihood='bernoulli' or dynamic_binarization=False (likelihood={likelihood!r}).")
        self.likelihood = likelihood
        self.dynamic_binarization = bool(dynamic_binarization)
        self.eval_samples = _positive_int(eval_samples, "eval_samples")
        super().__init__(data_shape, networks={"encoder": encoder, "decoder": decoder}, ema_decay=None, seed=seed,
                         **kwargs)

    @property
    def likelihood_method(self):
        data = {"bernoulli": "binary images under a Bernoulli decoder",
                "logistic": "8-bit images under a discretized logistic decoder",
                "gaussian": "a Gaussian decoder density"}[self.likelihood]
        return f"importance-weighted bound (Burda et al. 2016) with k = {self.eval_samples}, {data}"

    def example_inputs(self, name):
        if name == "decoder":
            return (ops.zeros((1, *self.latent_shape)),)
        return super().example_inputs(name)

    # What a latent kind defines ----------------------------------------------------------

    latent_shape = ()

    def training_latents(self, params, training):
        """`(z, kl)`: a reparameterized (or relaxed) posterior draw and KL(q || p) per example."""
        raise NotImplementedError

    def keyed_latents(self, params, key, num):
        """`(z, log_q - log_p)`: `num` exact posterior draws per example from `key`,
        z `(num * batch, *latent_shape)` and the log-ratio `(num, batch)`."""
        raise NotImplementedError

    # Data --------------------------------------------------------------------------------

    def _targets(self, x, training):
        """(what the decoder's likelihood scores, what the encoder sees) for model-space x."""
        if self.likelihood != "bernoulli":
            return x, x
        p = ops.clip((ops.cast(x, "float32") + 1.0) * 0.5, 0.0, 1.0)
        if training and self.dynamic_binarization:
            p = ops.cast(keras.random.uniform(ops.shape(p), seed=self.seed_generator) < p, "float32")
        return p, 2.0 * p - 1.0

    def _posterior_params(self, x, training=False):
        return ops.cast(self.encoder(x, training=training), "float32")

    # Training ----------------------------------------------------------------------------

    def call(self, inputs, training=False):
        x = inputs["data"] if isinstance(inputs, dict) else inputs
        self.check_data(x)
        targets, seen = self._targets(x, training)
        z, kl = self.training_latents(self._posterior_params(seen, training), training)
        log_likelihood = decoder_log_likelihood(self.likelihood, targets,
                                                ops.cast(self.decoder(z, training=training), "float32"))
        return {"log_likelihood": log_likelihood, "kl": kl}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return ops.mean(negative_elbo(y_pred["log_likelihood"], y_pred["kl"]))

    # Bounds ------------------------------------------------------------------------------

    def _bound_fn(self, samples_per_step):
        """`(targets, seen, key, k) -> (mean log w, log mean w)` over `k` posterior draws
        (a tensor: one compilation serves every k), `samples_per_step` at a time with a
        running log-sum-exp; draws past k in the last step are masked out."""

        def build():
            def log_weights(params, targets, key):
                z, log_ratio = self.keyed_latents(params, key, samples_per_step)
                decoded = ops.cast(self.decoder(z), "float32")
                tiled = ops.reshape(ops.broadcast_to(targets[None], (samples_per_step, *ops.shape(targets))),
                                    (-1, *targets.shape[1:]))
                log_likelihood = decoder_log_likelihood(self.likelihood, tiled, decoded)
                return ops.reshape(log_likelihood, (samples_per_step, -1)) - log_ratio

            def run(targets, seen, key, k):
                params = self._posterior_params(seen)
                batch = ops.shape(targets)[0]
                state = (ops.full((batch,), -1e30), ops.zeros((batch,)), ops.zeros((batch,)))

                def step(i, state):
                    peak, total, weights_sum = state
                    log_w = log_weights(params, targets, zoo_random.fold_in(key, i))
                    drawn = (i * samples_per_step + ops.arange(samples_per_step, dtype="int32"))[:, None] < k
                    new_peak = ops.maximum(peak, ops.max(ops.where(drawn, log_w, -1e30), axis=0))
                    weights = ops.where(drawn, ops.exp(log_w - new_peak[None]), 0.0)
                    return (new_peak, total * ops.exp(peak - new_peak) + ops.sum(weights, axis=0),
                            weights_sum + ops.sum(ops.where(drawn, log_w, 0.0), axis=0))

                steps = (k + samples_per_step - 1) // samples_per_step
                peak, total, weights_sum = ops.fori_loop(0, steps, step, state)
                count = ops.cast(k, "float32")
                return ops.stack([weights_sum / count, peak + ops.log(total) - ops.log(count)])
            return run

        return build

    def bounds(self, x, *, k=None, seed=0, batch_size=100, samples_per_step=None):
        """The ELBO and the IWAE bound of model-space `x` in nats per example, from the
        same `k` posterior draws (keyed by `seed`: equal across backends up to float
        rounding).

        Returns:
            `{"elbo": (N,), "iwae": (N,)}`: the mean of the k log-weights (an unbiased
            ELBO estimate) and log of their mean (Burda et al. 2016, eq. 8; k = 1: the ELBO).
        """
        k = self.eval_samples if k is None else _positive_int(k, "k")
        x = self.check_array(x)
        if self.likelihood == "bernoulli" and not np.all((x == -1.0) | (x == 1.0)):
            raise ValueError("A Bernoulli decoder scores binary data: `x` must hold only -1 and 1 in model space "
                             "(binarize first, e.g. `np.where(u < (x + 1) / 2, 1, -1)`).")
        targets = (x + 1.0) * 0.5 if self.likelihood == "bernoulli" else x
        batch_size = min(check_batch_size(batch_size), len(x))
        if samples_per_step is None:  # ~4096 decoder rows per step; a power of two >= k below that
            samples_per_step = max(1, 4096 // batch_size)
            samples_per_step = min(samples_per_step, 2 ** math.ceil(math.log2(k)))
        base = zoo_random.key(seed)
        out = self._run_padded(("bound", samples_per_step), self._bound_fn(samples_per_step), (targets, x),
                               batch_size, base, axis=1, extra=(np.int32(k),))
        return {"elbo": out[0], "iwae": out[1]}

    def _run_padded(self, key, build, inputs, batch_size, base_key, axis=0, extra=()):
        """`run_batched` over batches padded to `batch_size` (the last one repeats its
        final row), each with its key `fold_in(base_key, i)`: keyed draws need static
        shapes, which TensorFlow keeps only while every call has the same batch."""
        run = self.inference_fn((*key, batch_size), build)
        total = len(inputs[0])
        padded = -total % batch_size
        if padded:
            inputs = [np.concatenate([a, np.repeat(a[-1:], padded, axis=0)]) for a in inputs]
        out, _ = self.run_batched(run, inputs, batch_size, axis=axis,
                                  chunk_args=lambda i: (zoo_random.fold_in(base_key, i), *extra))
        return out[:total] if axis == 0 else out[:, :total]

    def log_prob(self, x, *, k=None, seed=0, batch_size=100, rtol=None, atol=None):
        """`(N,)` IWAE lower bound on log p(x) in nats, model-space `x` (`bounds`). `rtol`,
        `atol`: accepted, unused, so code written for the ODE families runs unchanged."""
        return self.bounds(x, k=k, seed=seed, batch_size=batch_size)["iwae"]

    def images_to_model_space(self, images):
        """uint8 images -> model space: binary images ({0, 1} or {0, 255}) to {-1, 1} for a
        Bernoulli decoder, else `x / 127.5 - 1`."""
        images = self.check_images(images)
        if self.likelihood != "bernoulli":
            return images.astype("float32") / np.float32(127.5) - np.float32(1)
        if not np.all(np.isin(images, (0, 1, 255))):
            raise ValueError("A Bernoulli decoder scores binary images: values 0/1 (zoo.datasets.load("
                             "'binarized_mnist')) or 0/255. Binarize 8-bit images first, e.g. `(images > 127)`.")
        return np.where(images > 0, np.float32(1), np.float32(-1))

    def image_bounds(self, images, *, k=None, seed=0, batch_size=100):
        """`bounds` of uint8 images (`images_to_model_space`), in nats per image."""
        return self.bounds(self.images_to_model_space(images), k=k, seed=seed, batch_size=batch_size)

    def bits_per_dim(self, images, *, k=None, seed=0, batch_size=100, rtol=None, atol=None):
        """`(N,)` bits/dim of uint8 images from the IWAE bound: an upper bound on the
        model's (discrete: Bernoulli or discretized logistic) bits/dim."""
        if self.likelihood == "gaussian":
            raise ValueError("A Gaussian decoder is a density of continuous data, not of pixels; use `log_prob`.")
        iwae = self.image_bounds(images, k=k, seed=seed, batch_size=batch_size)["iwae"]
        return -iwae / (self.num_dims * math.log(2.0))

    # Encoding, decoding, sampling ------------------------------------------------------

    def _model_space(self, x, name="x"):
        """uint8 images or model-space floats -> model-space float32 (grayscale allowed)."""
        x = np.asarray(ops.convert_to_numpy(x))
        if x.dtype == np.uint8:
            images = self.check_images(x, name)
            if self.likelihood == "bernoulli" and images.max(initial=0) <= 1:
                images = images * np.uint8(255)  # {0, 1} binarized images
            return images.astype("float32") / np.float32(127.5) - np.float32(1)
        return self.check_array(x, name)

    def _draw(self, params, key, mean):
        """Data from the decoder's `params`: its mean, or a keyed draw of p(x | z)."""
        if self.likelihood == "bernoulli":
            p = ops.sigmoid(params)
            return 2.0 * (p if mean else zoo_random.bernoulli(p, key)) - 1.0
        loc, log_scale = ops.split(params, 2, axis=-1)
        if mean:
            return ops.clip(loc, -1.0, 1.0) if self.likelihood == "logistic" else loc
        scale = ops.exp(ops.maximum(log_scale, MIN_LOG_SCALE))
        if self.likelihood == "gaussian":
            return loc + scale * zoo_random.normal(ops.shape(loc), key)
        u = ops.clip(zoo_random.uniform(ops.shape(loc), key), 1e-6, 1.0 - 1e-6)
        x = loc + scale * (ops.log(u) - ops.log1p(-u))
        return ops.clip(ops.round((x + 1.0) * 127.5), 0.0, 255.0) / 127.5 - 1.0  # onto the 8-bit grid

    def _decode(self, z, seed, mean, batch_size):
        batch_size = min(check_batch_size(batch_size), len(z))
        base = zoo_random.fold_in(self.sampling_key(seed), 0)  # the prior's own stream is PRIOR_STREAM
        return self._run_padded(("decode", mean), lambda: lambda z, key: self._draw(
            ops.cast(self.decoder(z), "float32"), key, mean), (z,), batch_size, base)

    def decode(self, z, *, mean=True, seed=0, raw=True, batch_size=256):
        """Latents -> data: the decoder's mean (`mean=True`), or a draw of p(x | z) keyed
        by `seed`. Model-space float32 (uint8 images with `raw=False`)."""
        x = self._decode(self.check_latents(z), seed, mean, batch_size)
        return self.to_output(x, raw)

    def encode(self, x, *, batch_size=256):
        """Data (model-space floats or uint8 images) -> latents (the posterior's mode)."""
        x = self._model_space(x)
        if self.likelihood == "bernoulli":  # the encoder was trained on binary inputs
            x = np.where(x > 0, np.float32(1), np.float32(-1))
        run = self.inference_fn("encode", lambda: lambda x: self.posterior_mode(self._posterior_params(x)))
        return self.run_batched(run, (x,), check_batch_size(batch_size))[0]

    def reconstruct(self, x, *, raw=False, batch_size=256):
        """`decode(encode(x))` with the decoder's mean: uint8 images (model space if `raw`)."""
        return self.decode(self.encode(x, batch_size=batch_size), mean=True, raw=raw, batch_size=batch_size)

    def sample(self, num=None, *, seed=None, noise=None, mean=False, raw=False, batch_size=256, steps=1,
               solver=None, return_nfe=False, rtol=None, atol=None, verbose=False):
        """Draw samples: latents from the prior (`seed`, or the given `noise`), decoded
        by one decoder pass, then x ~ p(x | z) (or the decoder's mean with `mean=True`;
        binary samples of a Bernoulli decoder are noisy, papers show its mean).

        Args:
            num: int. Number of samples (or give `noise`).
            seed: int or None. Same seed -> same latents and draws on every backend.
            noise: latents `(N, *noise_shape)` instead of `seed`.
            mean: bool. Return the decoder's mean instead of a draw.
            raw: bool. Model-space float32 instead of uint8 images.
            steps, solver, rtol, atol, verbose: accepted, unused (one pass), so code
                written for the ODE families (`zoo sample`, `zoo eval`) runs unchanged.
            return_nfe: bool. Also return the number of decoder passes (1).
        """
        check_steps(steps)
        z = self.initial_noise(num, None if noise is None else self.check_latents(noise), seed)
        x = self._decode(z, seed, mean, batch_size)
        out = self.to_output(x, raw)
        return (out, 1) if return_nfe else out

    def check_latents(self, z):
        return self.check_array(z, "z", self.noise_shape)

    @property
    def noise_shape(self):
        return tuple(self.latent_shape)

    def get_config(self):
        return {**super().get_config(), "likelihood": self.likelihood,
                "dynamic_binarization": self.dynamic_binarization, "eval_samples": self.eval_samples}


@keras.saving.register_keras_serializable(package="zoo")
class VAE(LatentVariableModel):
    """Variational autoencoder with diagonal Gaussian latents and a standard normal
    prior, trained on the ELBO with the reparameterization trick.

    `fit` takes model-space data `x` (`ArrayBatches` of uint8 images, or points).

    Args:
        encoder: keras.layers.Layer. `encoder(x) -> (batch, 2 * latent_dim)`: mean, log-variance.
        decoder: keras.layers.Layer. `decoder(z) -> likelihood parameters`.
        data_shape: tuple of int.
        latent_dim: int. Latent dimensions.
        likelihood, dynamic_binarization, eval_samples, seed: as `LatentVariableModel`.

    References:
        Kingma & Welling 2014, arXiv:1312.6114; Burda, Grosse & Salakhutdinov 2016, arXiv:1509.00519.
    """

    def __init__(self, encoder, decoder, data_shape, latent_dim=32, likelihood="bernoulli",
                 dynamic_binarization=False, eval_samples=1000, seed=None, **kwargs):
        self.latent_dim = _positive_int(latent_dim, "latent_dim")
        self.latent_shape = (self.latent_dim,)
        super().__init__(encoder, decoder, data_shape, likelihood, dynamic_binarization, eval_samples, seed,
                         **kwargs)

    def build(self, input_shape=None):
        self.reparameterization = GaussianReparameterization()  # (state is added before the model is built)
        super().build(input_shape)

    def training_latents(self, params, training):
        mean, log_var = ops.split(params, 2, axis=-1)
        noise = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return self.reparameterization(mean, log_var, noise=noise), gaussian_kl(mean, log_var)

    def keyed_latents(self, params, key, num):
        mean, log_var = ops.split(params, 2, axis=-1)
        eps = zoo_random.normal((num, ops.shape(mean)[0], self.latent_dim), key)
        z = mean[None] + ops.exp(0.5 * log_var)[None] * eps
        # log q(z | x) - log p(z) with z = mean + sigma * eps, in eps to avoid dividing by sigma.
        log_ratio = 0.5 * ops.sum(ops.square(z) - ops.square(eps) - log_var[None], axis=-1)
        return ops.reshape(z, (-1, self.latent_dim)), log_ratio

    def posterior_mode(self, params):
        return ops.split(params, 2, axis=-1)[0]

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim}


@keras.saving.register_keras_serializable(package="zoo")
class GumbelVAE(LatentVariableModel):
    """VAE with `num_latents` categorical latents of `num_categories` classes under a
    uniform prior (Jang et al. 2017's MNIST model: 30 x 10). Training feeds the decoder
    Gumbel-Softmax relaxations (straight-through one-hot with `hard`) at an annealed
    temperature, with the exact categorical KL; sampling and the bounds use exact
    categorical draws (one-hot vectors), so `log_prob` bounds the discrete model.

    Latents are one-hot `(N, num_latents, num_categories)`; `encode` returns the most
    likely category per latent as int `(N, num_latents)`, and `decode` / `sample(noise=)`
    take either form.

    Args:
        encoder: keras.layers.Layer. `encoder(x) -> (batch, num_latents, num_categories)` logits.
        decoder: keras.layers.Layer. `decoder(one_hot) -> likelihood parameters`.
        data_shape: tuple of int.
        num_latents, num_categories: int.
        temperature, anneal_rate, min_temperature, hard: the `GumbelSoftmax` schedule
            (Jang et al.: tau from 1, r = 1e-5..1e-4, floor 0.5).
        likelihood, dynamic_binarization, eval_samples, seed: as `LatentVariableModel`.

    References:
        Jang, Gu & Poole 2017, arXiv:1611.01144; Maddison, Mnih & Teh 2017, arXiv:1611.00712.
    """

    def __init__(self, encoder, decoder, data_shape, num_latents=30, num_categories=10, temperature=1.0,
                 anneal_rate=3e-5, min_temperature=0.5, hard=False, likelihood="bernoulli",
                 dynamic_binarization=False, eval_samples=1000, seed=None, **kwargs):
        self.num_latents = _positive_int(num_latents, "num_latents")
        self.num_categories = _positive_int(num_categories, "num_categories")
        if self.num_categories < 2:
            raise ValueError(f"`num_categories` must be >= 2. Received: {num_categories}")
        self.latent_shape = (self.num_latents, self.num_categories)
        self.temperature, self.anneal_rate = temperature, anneal_rate
        self.min_temperature, self.hard = min_temperature, hard
        GumbelSoftmax(temperature, hard, anneal_rate, min_temperature)  # checks the schedule before any work
        super().__init__(encoder, decoder, data_shape, likelihood, dynamic_binarization, eval_samples, seed,
                         **kwargs)

    def build(self, input_shape=None):
        # The annealing step is a weight of the model (saved, resumed); state is added
        # before the model is built.
        self.gumbel_softmax = GumbelSoftmax(self.temperature, self.hard, self.anneal_rate, self.min_temperature)
        super().build(input_shape)

    def training_latents(self, params, training):
        u = keras.random.uniform(ops.shape(params), minval=1e-7, maxval=1.0 - 1e-7, seed=self.seed_generator)
        relaxed = self.gumbel_softmax(params, training=training, noise=-ops.log(-ops.log(u)))
        return relaxed, categorical_kl(params)

    def keyed_latents(self, params, key, num):
        logits = ops.broadcast_to(params[None], (num, *ops.shape(params)))
        one_hot = ops.one_hot(zoo_random.categorical(logits, key), self.num_categories, dtype="float32")
        log_q = ops.reshape(categorical_log_prob(ops.reshape(one_hot, (-1, *self.latent_shape)),
                                                 ops.reshape(logits, (-1, *self.latent_shape))), (num, -1))
        log_ratio = log_q - uniform_categorical_log_prior(self.num_latents, self.num_categories)
        return ops.reshape(one_hot, (-1, *self.latent_shape)), log_ratio

    def posterior_mode(self, params):
        return ops.cast(ops.argmax(params, axis=-1), "int32")

    @property
    def temperature_now(self):
        """The Gumbel-Softmax temperature at the current annealing step."""
        return float(ops.convert_to_numpy(self.gumbel_softmax.current_temperature()))

    def check_latents(self, z):
        z = np.asarray(ops.convert_to_numpy(z))
        if np.issubdtype(z.dtype, np.integer):
            if z.ndim != 2 or z.shape[1] != self.num_latents:
                raise ValueError(f"Integer latents must have shape (N, {self.num_latents}); received {z.shape}.")
            if z.size and (z.min() < 0 or z.max() >= self.num_categories):
                raise ValueError(f"Latent categories must be in 0..{self.num_categories - 1}; "
                                 f"received range {z.min()}..{z.max()}.")
            return np.eye(self.num_categories, dtype="float32")[z]
        return super().check_latents(z)

    def prior_sample(self, shape, key):
        """One-hot draws of the uniform categorical prior."""
        indices = zoo_random.categorical(ops.zeros(tuple(shape)), key)
        return ops.one_hot(indices, self.num_categories, dtype="float32")

    def get_config(self):
        return {**super().get_config(), "num_latents": self.num_latents, "num_categories": self.num_categories,
                "temperature": self.temperature, "anneal_rate": self.anneal_rate,
                "min_temperature": self.min_temperature, "hard": self.hard}


# Named configs ---------------------------------------------------------------------------

def _decoder_shape(data_shape, likelihood):
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"`likelihood` must be one of {tuple(LIKELIHOODS)}. Received: {likelihood!r}")
    return (*data_shape[:-1], data_shape[-1] * LIKELIHOODS[likelihood])


def _vae(data_shape=(28, 28, 1), latent_dim=32, hidden=(512, 256), likelihood="bernoulli", activation="relu",
         **kwargs):
    data_shape = tuple(data_shape)
    encoder = DenseNetwork(hidden, (2 * latent_dim,), activation)
    decoder = DenseNetwork(tuple(reversed(hidden)), _decoder_shape(data_shape, likelihood), activation)
    return VAE(encoder, decoder, data_shape, latent_dim, likelihood=likelihood, **kwargs)


def _gumbel_vae(data_shape=(28, 28, 1), num_latents=30, num_categories=10, hidden=(512, 256),
                likelihood="bernoulli", activation="relu", **kwargs):
    data_shape = tuple(data_shape)
    encoder = DenseNetwork(hidden, (num_latents, num_categories), activation)
    decoder = DenseNetwork(tuple(reversed(hidden)), _decoder_shape(data_shape, likelihood), activation)
    return GumbelVAE(encoder, decoder, data_shape, num_latents, num_categories, likelihood=likelihood, **kwargs)


register_config("vae_tiny", _vae, "Tiny MLP VAE (tests): 8x8x1 Bernoulli, 4 latents, hidden 32.",
                data_shape=(8, 8, 1), latent_dim=4, hidden=(32,), eval_samples=16)
register_config("vae_mnist", _vae,
                "MLP VAE for binarized MNIST: 784-512-256-(2x32) encoder, mirrored Bernoulli decoder, "
                "dynamic binarization (1.1M).",
                dynamic_binarization=True, eval_samples=5000)
register_config("vae_mlp", _vae, "MLP VAE for 2-D toy data: Gaussian decoder, 2 latents, hidden 128-128.",
                data_shape=(2,), latent_dim=2, hidden=(128, 128), likelihood="gaussian", activation="silu",
                eval_samples=256)
register_config("gumbel_vae_tiny", _gumbel_vae, "Tiny categorical VAE (tests): 8x8x1 Bernoulli, 4 x 3 latents.",
                data_shape=(8, 8, 1), num_latents=4, num_categories=3, hidden=(32,), eval_samples=16)
register_config("gumbel_vae_mnist", _gumbel_vae,
                "Categorical VAE for binarized MNIST (Jang et al. 2017): 30 x 10 latents, 784-512-256 MLPs, "
                "Gumbel-Softmax annealed to 0.5, dynamic binarization (1.2M).",
                dynamic_binarization=True, eval_samples=5000)
register_config("gumbel_vae_mlp", _gumbel_vae,
                "Categorical VAE for 2-D toy data: 4 x 8 latents, Gaussian decoder, hidden 128-128.",
                data_shape=(2,), num_latents=4, num_categories=8, hidden=(128, 128), likelihood="gaussian",
                activation="silu", eval_samples=256)
