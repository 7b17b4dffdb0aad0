"""Variational objectives: the decoders' log-likelihoods, the KL terms, the ELBO and the
importance-weighted bound (Burda et al. 2016). Everything returns one value per example
in nats, summed over the data (or latent) axes; the models reduce.

The importance-weighted bound is written once, on log-weights
log w_i = log p(x | z_i) + log p(z_i) - log q(z_i | x), z_i ~ q(z | x): Gaussian and
categorical latents differ only in how they produce them.
"""

import math

from keras import ops

from zoo.layers.latent import gaussian_kl

LIKELIHOODS = {"bernoulli": 1, "logistic": 2, "gaussian": 2}  # decoder parameters per data dimension
MIN_LOG_SCALE = -7.0  # exp(-7) ~ 1e-3: a floor that keeps the densities finite early in training


def _sum_per_example(values):
    return ops.sum(ops.reshape(values, (ops.shape(values)[0], -1)), axis=-1)


def bernoulli_log_likelihood(targets, logits):
    """sum_d [x_d log p_d + (1 - x_d) log(1 - p_d)], p = sigmoid(logits), for targets
    in [0, 1] (binary data; soft targets give the cross-entropy)."""
    targets, logits = ops.cast(targets, "float32"), ops.cast(logits, "float32")
    return _sum_per_example(targets * logits - ops.softplus(logits))


def gaussian_log_likelihood(x, mean, log_scale):
    """log N(x; mean, exp(log_scale)^2) summed over dimensions (continuous data)."""
    x, mean = ops.cast(x, "float32"), ops.cast(mean, "float32")
    log_scale = ops.maximum(ops.cast(log_scale, "float32"), MIN_LOG_SCALE)
    z = (x - mean) * ops.exp(-log_scale)
    return _sum_per_example(-0.5 * ops.square(z) - log_scale - 0.5 * math.log(2.0 * math.pi))


def discretized_logistic_log_likelihood(x, mean, log_scale, bins=256):
    """log P(pixel) of 8-bit data under a logistic discretized to `bins` bins on [-1, 1]
    (Salimans et al. 2017, PixelCNN++, eq. 2): the logistic CDF's mass over each pixel's
    bin, the edge bins taking the tails. `x` are bin centres in model space
    (`zoo.datasets.to_model_space`), so the result is a probability of discrete data."""
    x, mean = ops.cast(x, "float32"), ops.cast(mean, "float32")
    log_scale = ops.maximum(ops.cast(log_scale, "float32"), MIN_LOG_SCALE)
    inv_scale = ops.exp(-log_scale)
    half_bin = 1.0 / (bins - 1)
    plus, minus = inv_scale * (x - mean + half_bin), inv_scale * (x - mean - half_bin)
    log_cdf_plus = plus - ops.softplus(plus)  # log sigmoid(plus): the lowest bin's mass
    log_one_minus_cdf_minus = -ops.softplus(minus)  # log (1 - sigmoid(minus)): the highest bin's
    mid = inv_scale * (x - mean)
    # Inside: log(sigmoid(plus) - sigmoid(minus)); where the difference underflows, the
    # density at the centre times the bin width (PixelCNN++'s fallback).
    cdf_delta = ops.sigmoid(plus) - ops.sigmoid(minus)
    log_density_mid = mid - log_scale - 2.0 * ops.softplus(mid) + math.log(2.0 * half_bin)
    inner = ops.where(cdf_delta > 1e-5, ops.log(ops.maximum(cdf_delta, 1e-12)), log_density_mid)
    edge = 1.0 - half_bin  # between the centres of the last two bins
    log_prob = ops.where(x < -edge, log_cdf_plus, ops.where(x > edge, log_one_minus_cdf_minus, inner))
    return _sum_per_example(log_prob)


def decoder_log_likelihood(likelihood, x, params):
    """log p(x | z) per example for the decoder `likelihood` with its output `params`
    (`(..., channels * LIKELIHOODS[likelihood])`). Bernoulli: `x` holds targets in [0, 1];
    logistic and Gaussian: model-space data."""
    if likelihood == "bernoulli":
        return bernoulli_log_likelihood(x, params)
    mean, log_scale = ops.split(params, 2, axis=-1)
    if likelihood == "logistic":
        return discretized_logistic_log_likelihood(x, mean, log_scale)
    return gaussian_log_likelihood(x, mean, log_scale)


def gaussian_log_prob(z, mean, log_var):
    """log N(z; mean, exp(log_var)) summed over the latent axes (mean=0, log_var=0: the prior)."""
    z, mean, log_var = ops.cast(z, "float32"), ops.cast(mean, "float32"), ops.cast(log_var, "float32")
    return _sum_per_example(-0.5 * (ops.square(z - mean) * ops.exp(-log_var) + log_var + math.log(2.0 * math.pi)))


def categorical_log_prob(one_hot, logits):
    """log q(z) of one-hot `z` `(batch, latents, categories)` under per-latent softmax(logits)."""
    log_q = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    return _sum_per_example(ops.cast(one_hot, "float32") * log_q)


def uniform_categorical_log_prior(num_latents, num_categories):
    """log p(z) of any z under independent uniform categoricals (Jang et al.'s prior)."""
    return -num_latents * math.log(num_categories)


def categorical_kl(logits):
    """KL(q || uniform) per example for per-latent categoricals q = softmax(logits),
    exactly: sum q log q + log K per latent."""
    logits = ops.cast(logits, "float32")
    log_q = ops.log_softmax(logits, axis=-1)
    return _sum_per_example(ops.sum(ops.exp(log_q) * log_q, axis=-1) + math.log(logits.shape[-1]))


def negative_elbo(log_likelihood, kl):
    """-ELBO = -E_q log p(x | z) + KL(q(z | x) || p(z)) per example (one-sample estimate of
    the expectation, the KL in closed form)."""
    return kl - log_likelihood


def importance_weighted_bound(log_weights):
    """The IWAE bound log (1/k) sum_i w_i per example (Burda et al. 2016, eq. 8), from
    `(k, batch)` log-weights log p(x, z_i) - log q(z_i | x). k = 1 is the ELBO's
    single-sample estimate; the bound rises with k towards log p(x)."""
    log_weights = ops.cast(log_weights, "float32")
    k = log_weights.shape[0]
    return ops.logsumexp(log_weights, axis=0) - math.log(k)


__all__ = ["LIKELIHOODS", "bernoulli_log_likelihood", "categorical_kl", "categorical_log_prob",
           "decoder_log_likelihood", "discretized_logistic_log_likelihood", "gaussian_kl", "gaussian_log_likelihood",
           "gaussian_log_prob", "importance_weighted_bound", "negative_elbo", "uniform_categorical_log_prior"]
