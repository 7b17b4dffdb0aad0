"""Denoising objectives in sigma space (x = data + sigma * noise). Training only.

Every parameterization is one preconditioning D(x, sigma) = c_skip x + c_out F(c_in x)
(Karras et al. 2022, arXiv:2206.00364, Table 1), and every loss here is the mean square
error of the network output F against its own target (data - c_skip x) / c_out:
epsilon-MSE for "eps" (DDPM's L_simple, Ho et al. 2020; continuous denoising score
matching with lambda = std^2, Song et al. 2021), data-MSE for "x0", v-MSE for "v"
(Salimans & Ho 2022) and EDM's lambda(sigma)-weighted loss for "edm".
"""

import keras
import numpy as np
from keras import ops

from zoo import random

PARAMETERIZATIONS = ("eps", "x0", "v", "edm")


def check_parameterization(parameterization):
    if parameterization not in PARAMETERIZATIONS:
        raise ValueError(f"`parameterization` must be one of {PARAMETERIZATIONS}. Received: {parameterization!r}")
    return parameterization


def preconditioning(sigma, parameterization, sigma_data=1.0):
    """`(c_skip, c_out, c_in)` for noise levels `sigma` (any shape).

    c_in = 1 / sqrt(sigma^2 + sigma_data^2) for all: with sigma_data = 1 the network sees
    exactly VP's x_t = sqrt(alpha_bar) (data + sigma noise). "v" is EDM's preconditioning
    with the sign of v = alpha eps - sigma_vp data (Salimans & Ho 2022, arXiv:2202.00512).
    """
    total = sigma**2 + sigma_data**2
    c_in = 1.0 / ops.sqrt(total)
    if parameterization == "eps":
        return ops.ones_like(sigma), -sigma, c_in
    if parameterization == "x0":
        return ops.zeros_like(sigma), ops.ones_like(sigma), c_in
    c_skip, c_out = sigma_data**2 / total, sigma * sigma_data / ops.sqrt(total)
    if parameterization == "v":
        return c_skip, -c_out, c_in
    if parameterization == "edm":
        return c_skip, c_out, c_in
    raise ValueError(f"`parameterization` must be one of {PARAMETERIZATIONS}. Received: {parameterization!r}")


def network_target(data, x, c_skip, c_out):
    """What F must output for D to return `data` exactly."""
    return (data - c_skip * x) / c_out


def denoising_loss(output, target):
    """Mean squared error per dimension, in float32 whatever the compute dtype."""
    return ops.mean(ops.square(ops.cast(output, "float32") - ops.cast(target, "float32")))


def lognormal_sigmas(batch, p_mean, p_std, seed):
    """EDM's training noise levels: ln sigma ~ N(p_mean, p_std^2) (Karras et al. 2022, sec. 5)."""
    return ops.exp(p_mean + p_std * keras.random.normal((batch,), seed=seed))


def drop_labels(labels, null_label, rate, seed):
    """Replace each label by `null_label` with probability `rate`: one network learns the
    conditional and unconditional denoisers (classifier-free guidance, Ho & Salimans 2022,
    arXiv:2207.12598)."""
    keep = keras.random.uniform(ops.shape(labels), seed=seed) >= rate
    return ops.where(keep, ops.cast(labels, "int32"), ops.full(ops.shape(labels), null_label, "int32"))


# The variational bound of a discrete-time (DDPM) chain -----------------------------------

def _standard_normal_cdf(x):
    return 0.5 * (1.0 + ops.erf(x / np.sqrt(2.0)))


def discretized_gaussian_log_likelihood(data, mean, variance, bins=256):
    """log P(data) per element under N(mean, variance) integrated over the pixel bin of
    width 2 / (bins - 1) around `data` in [-1, 1], the edge bins open to +-infinity (Ho
    et al. 2020, sec. 3.3). Tails use the symmetric CDF to keep float32 precision."""
    data = ops.convert_to_tensor(data, "float32")
    mean, variance = ops.convert_to_tensor(mean, "float32"), ops.convert_to_tensor(variance, "float32")
    inv_std = 1.0 / ops.sqrt(variance)
    half = 1.0 / (bins - 1)
    upper, lower = (data - mean + half) * inv_std, (data - mean - half) * inv_std
    mass = ops.where(lower > 0, _standard_normal_cdf(-lower) - _standard_normal_cdf(-upper),
                     _standard_normal_cdf(upper) - _standard_normal_cdf(lower))
    log_mass = ops.where(data < -1 + half, ops.log(ops.maximum(_standard_normal_cdf(upper), 1e-12)),
                         ops.where(data > 1 - half, ops.log(ops.maximum(_standard_normal_cdf(-lower), 1e-12)),
                                   ops.log(ops.maximum(mass, 1e-12))))
    return log_mass


def _sum(x):
    return ops.sum(ops.reshape(x, (ops.shape(x)[0], -1)), axis=-1)


def variational_bound(denoise, data, alpha_bars, variances, key, decoder="discrete"):
    """DDPM's negative ELBO in nats per example (Ho et al. 2020, eq. 5): the prior term
    L_N, all L_{n-1} = KL(q(x_{n-1} | x_n, x_0) || p(x_{n-1} | x_n)) for n = 2..N, each with
    one draw of x_n, and the decoder -log p(x_0 | x_1) (discretized for 8-bit data, or
    a Gaussian density). `denoise` is in sigma space; `variances[n-1]` is the reverse
    variance at step n (VP units). N network evaluations per example.

    `variances` of shape `(V, N)` gives the bound under V reverse-variance choices from
    the same N evaluations (the reverse mean does not depend on the variance), shape
    `(V, batch)`; `(N,)` gives `(batch,)`.
    """
    alpha_bars, variances = np.asarray(alpha_bars, "float64"), np.asarray(variances, "float64")
    single = variances.ndim == 1
    variances = np.atleast_2d(variances)  # (V, N)
    prev = np.append(1.0, alpha_bars[:-1])
    betas = 1 - alpha_bars / prev
    posterior = betas * (1 - prev) / (1 - alpha_bars)
    mean_coef = np.sqrt(prev) * betas / (1 - alpha_bars)  # of x_0 in the posterior mean
    # Per step n and variance v, KL = 0.5 (d (post / var - 1 + log(var / post)) + error / var),
    # with d the dimension and `error` the squared posterior-mean error summed over it.
    constant = np.zeros_like(variances)  # n = 1 has no KL term (its posterior variance is 0)
    constant[:, 1:] = posterior[1:] / variances[:, 1:] - 1.0 + np.log(variances[:, 1:] / posterior[1:])
    tables = {name: ops.convert_to_tensor(value.astype("float32")) for name, value in {
        "sigma": np.sqrt((1 - alpha_bars) / alpha_bars), "constant": constant.T, "inverse": 1.0 / variances.T,
        "coef2": mean_coef**2}.items()}
    data = ops.convert_to_tensor(data, "float32")
    batch, key = ops.shape(data)[0], ops.convert_to_tensor(key, "int32")
    dims = float(np.prod(ops.shape(data)[1:]))

    def reconstruct(n):
        sigma = ops.take(tables["sigma"], n - 1)
        noise = random.normal(ops.shape(data), random.fold_in(key, n))
        return denoise(data + sigma * noise, ops.ones((batch,), "float32") * sigma)

    def kl(n, total):
        error = ops.take(tables["coef2"], n - 1) * _sum(ops.square(data - reconstruct(n)))  # (batch,)
        constant, inverse = ops.take(tables["constant"], n - 1, axis=0), ops.take(tables["inverse"], n - 1, axis=0)
        return total + 0.5 * (dims * constant[:, None] + inverse[:, None] * error[None, :])

    total = ops.fori_loop(2, len(alpha_bars) + 1, kl, ops.zeros((len(variances), batch), "float32"))
    last = float(alpha_bars[-1])
    prior = 0.5 * _sum(last * ops.square(data) - last - np.log1p(-last))
    mean, log_decoder = reconstruct(1), []
    for var in variances[:, 0].astype(float):
        if decoder == "discrete":
            log_decoder.append(_sum(discretized_gaussian_log_likelihood(data, mean, var)))
        else:
            log_decoder.append(_sum(-0.5 * ops.square(data - mean) / var - 0.5 * np.log(2 * np.pi * var)))
    bound = prior[None, :] + total - ops.stack(log_decoder)
    return bound[0] if single else bound
