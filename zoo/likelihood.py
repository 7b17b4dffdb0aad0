"""Exact log-likelihoods through a probability-flow ODE (instantaneous change of
variables, Chen et al. 2018, arXiv:1806.07366; Grathwohl et al. 2019, arXiv:1810.01367).

Along dx/dt = v(x, t), d log p_t(x_t) / dt = -div v(x_t, t). Integrating the data
point back to the noise end and the divergence with it gives
log p_data(x) = log p_noise(z) - integral_{noise}^{data} div v dt.
"""

import math

import numpy as np
from keras import ops

from zoo import datasets, metrics, random
from zoo.backend import vjp
from zoo.checks import check_batch_size, check_positive
from zoo.samplers.ode import sample_rk45


def standard_normal_log_prob(z):
    """log N(z; 0, I) summed over all but the batch axis."""
    dims = int(np.prod(z.shape[1:]))  # static, also when the batch size is not
    flat = ops.reshape(z, (-1, dims))
    return -0.5 * ops.sum(ops.square(flat), axis=-1) - 0.5 * dims * math.log(2 * math.pi)


def divergence(fn, x, probes=None):
    """`(fn(x), div fn(x))` per example: exact (one VJP per dimension) when `probes`
    is None, else Hutchinson's estimate `E[eps^T J eps]` with the given probe `eps`."""
    y, pullback = vjp(fn, x)
    batch, dims = ops.shape(x)[0], int(np.prod(x.shape[1:]))
    if probes is not None:
        return y, ops.sum(ops.reshape(pullback(probes) * probes, (batch, dims)), axis=-1)
    eye = np.eye(dims, dtype="float32")
    total = 0.0
    for d in range(dims):
        basis = ops.broadcast_to(ops.reshape(eye[d], (1, *x.shape[1:])), ops.shape(x))
        total = total + ops.reshape(pullback(basis), (batch, dims))[:, d]
    return y, total


def ode_log_likelihood(velocity, x, *, t_data=1.0, t_noise=0.0, probes=None,
                       prior_log_prob=standard_normal_log_prob, rtol=1e-5, atol=1e-5):
    """Log-density of `x` under the flow of `velocity`, in nats per example.

    Args:
        velocity: callable `(x, t) -> dx/dt`.
        x: `(batch, ...)` data points (model space).
        t_data, t_noise: the data and the noise ends of time.
        probes: None for the exact divergence, or a tensor like `x` of Rademacher or
            Gaussian probes for Hutchinson's estimator (fixed along the path).
        prior_log_prob: log-density of the noise end.

    Returns:
        `(log_prob, nfe)`: `(batch,)` log-densities and the solver's NFE.
    """
    x = ops.convert_to_tensor(x, "float32")
    shape = tuple(x.shape[1:])
    dims = int(np.prod(shape))
    batch = ops.shape(x)[0]

    def augmented(state, t):
        z = ops.reshape(state[:, :dims], (batch, *shape))
        v, div = divergence(lambda z: velocity(z, t), z, probes)
        return ops.concatenate([ops.reshape(v, (batch, dims)), div[:, None]], axis=-1)

    state = ops.concatenate([ops.reshape(x, (batch, dims)), ops.zeros((batch, 1))], axis=-1)
    state, nfe = sample_rk45(augmented, state, t_data, t_noise, rtol=rtol, atol=atol)
    z = ops.reshape(state[:, :dims], (batch, *shape))
    # The last column holds integral_{data}^{noise} div dt = -integral_{noise}^{data} div dt.
    return prior_log_prob(z) + state[:, dims], nfe


def rademacher_like(x, seed):
    """Random +-1 probes shaped like `x`, from an int `seed` (the same on every backend)."""
    return ops.sign(random.uniform(ops.shape(x), random.key(seed)) - 0.5)


def image_bits_per_dim(log_prob, images, seed):
    """Bits/dim of uint8 `images` under a density `log_prob` of model-space data:
    uniform dequantization (u + U[0,1)) / 256 with `seed`, mapped to [-1, 1], and the
    log-det D log(2 / 256) of that rescaling counted. An upper bound on the discrete
    model's bits/dim (Theis et al. 2016, arXiv:1511.01844) and the number papers report.

    Returns:
        `(N,)` bits/dim per image.
    """
    num_dims = int(np.prod(images.shape[1:]))
    x = 2.0 * datasets.dequantize(images, seed=seed) - 1.0
    return metrics.bits_per_dim(log_prob(x), num_dims, metrics.uint8_to_model_space_log_det(num_dims))


class ProbabilityFlowLikelihood:
    """`log_prob` and `bits_per_dim` through a probability-flow ODE, for every family
    that has one (a `ZooModel` mixin): the family says what its flow is in
    `probability_flow(labels)`, the rest is here once."""

    likelihood_method = ("probability-flow ODE likelihood (RK45, Hutchinson trace estimator) of uniformly "
                         "dequantized images")

    def probability_flow(self, labels):
        """`(velocity, t_data, t_noise, prior_log_prob)`: `velocity(x, t)` of the ODE (in
        tensors, from the sampling weights), the data and noise ends of its time, and the
        log-density of the noise end."""
        raise NotImplementedError

    def log_prob(self, x, *, exact=None, seed=0, labels=None, batch_size=64, rtol=1e-5, atol=1e-5):
        """log-density of model-space `x` in nats per example, through the
        probability-flow ODE (RK45). `exact=None` uses the exact divergence up to 32
        dimensions and Hutchinson's estimator (Rademacher probes from `seed`) above."""
        x = self.check_array(x)  # NaN or inf is refused here, before the solver runs
        rtol, atol = check_positive(rtol, "rtol"), check_positive(atol, "atol")
        batch_size = check_batch_size(batch_size)
        exact = self.num_dims <= 32 if exact is None else exact
        labels = self.check_labels(labels, len(x))
        probes = None if exact else ops.convert_to_numpy(rademacher_like(x, seed))

        def build():
            def run(x, probes, labels):
                velocity, t_data, t_noise, prior_log_prob = self.probability_flow(labels)
                return ode_log_likelihood(velocity, x, t_data=t_data, t_noise=t_noise, probes=probes,
                                          prior_log_prob=prior_log_prob, rtol=rtol, atol=atol)
            return run

        run = self.inference_fn(("log_prob", exact, rtol, atol), build)
        return self.run_batched(run, (x, probes, labels), batch_size)[0]

    def ode_bits_per_dim(self, images, *, seed=0, exact=False, labels=None, batch_size=64, rtol=1e-5, atol=1e-5):
        """`(N,)` bits/dim of uint8 images through the probability-flow ODE
        (`image_bits_per_dim` over `log_prob`); papers report the mean."""
        images = self.check_images(images)
        return image_bits_per_dim(lambda x: self.log_prob(x, exact=exact, seed=seed, labels=labels,
                                                          batch_size=batch_size, rtol=rtol, atol=atol), images, seed)
