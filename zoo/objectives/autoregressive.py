"""Output heads of autoregressive models: the per-position log-likelihood the loss
sums (training) and the draw from it (sampling), for three kinds of values.

- values "binary": x in {0, 1}, a Bernoulli head (one logit).
- values "pixels": 8-bit sub-pixels in model space, x = v / 127.5 - 1 with v in 0..255;
  a 256-way softmax ("categorical") or a discretized logistic mixture
  ("logistic_mixture", Salimans et al. 2017, arXiv:1701.05517, eq. 2, per sub-pixel).
- values "codes": integer codes 0..K-1 (held as floats), a K-way softmax.

All log-likelihoods are in nats, of the discrete values, exact (no dequantization).
"""

import math

from keras import ops

from zoo import random

HEADS = ("bernoulli", "categorical", "logistic_mixture")
VALUES = ("binary", "pixels", "codes")
_HALF_BIN = 1.0 / 255.0  # half the spacing of the 256 levels in [-1, 1]
_MIN_LOG_SCALE = -7.0


def params_per_value(head, num_categories=256, num_mixtures=5):
    """P, the head's parameters per sub-pixel / position."""
    return {"bernoulli": 1, "categorical": num_categories, "logistic_mixture": 3 * num_mixtures}[head]


def to_index(x, values):
    """Model-space values -> int32 category indices (0/1, 0..255, or the codes)."""
    if values == "pixels":
        return ops.cast(ops.round((x + 1.0) * 127.5), "int32")
    return ops.cast(ops.round(x), "int32")


def from_index(index, values):
    index = ops.cast(index, "float32")
    return index / 127.5 - 1.0 if values == "pixels" else index


def log_likelihood(head, params, x, values):
    """log p(x_i | x_<i) in nats at every position: `params (..., P)`, `x (...)`."""
    params = ops.cast(params, "float32")
    x = ops.cast(x, "float32")
    if head == "bernoulli":
        logits = params[..., 0]
        return -x * ops.softplus(-logits) - (1.0 - x) * ops.softplus(logits)
    if head == "categorical":
        log_p = ops.log_softmax(params, axis=-1)
        return ops.sum(log_p * ops.one_hot(to_index(x, values), ops.shape(params)[-1]), axis=-1)
    return _logistic_mixture_log_prob(params, x)


def _split_mixture(params):
    logit_weights, means, log_scales = ops.split(params, 3, axis=-1)
    return logit_weights, means, ops.maximum(log_scales, _MIN_LOG_SCALE)


def _logistic_mixture_log_prob(params, x):
    """Discretized logistic mixture over the 256 levels of [-1, 1]: each level gets its
    bin's probability mass, the two end levels the tails (PixelCNN++ eq. 2)."""
    logit_weights, means, log_scales = _split_mixture(params)
    x = x[..., None]
    centred = x - means
    inverse_scale = ops.exp(-log_scales)
    upper = inverse_scale * (centred + _HALF_BIN)
    lower = inverse_scale * (centred - _HALF_BIN)
    log_cdf_upper = upper - ops.softplus(upper)  # log sigmoid(upper): the x = -1 bin
    log_survival_lower = -ops.softplus(lower)  # log (1 - sigmoid(lower)): the x = 1 bin
    mass = ops.sigmoid(upper) - ops.sigmoid(lower)
    middle = inverse_scale * centred
    # Where the bin mass underflows, the density at the centre times the bin width.
    log_density_mid = middle - log_scales - 2.0 * ops.softplus(middle) + math.log(2.0 * _HALF_BIN)
    log_mass = ops.where(mass > 1e-5, ops.log(ops.maximum(mass, 1e-12)), log_density_mid)
    log_probs = ops.where(x < -0.999, log_cdf_upper, ops.where(x > 0.999, log_survival_lower, log_mass))
    return ops.logsumexp(log_probs + ops.log_softmax(logit_weights, axis=-1), axis=-1)


def draw(head, params, key, values, temperature=1.0):
    """One draw per row of `params (N, P)` from `key`, as model-space values `(N,)`.
    `temperature` divides the logits (Bernoulli, softmax, mixture weights) and scales
    the logistic components."""
    params = ops.cast(params, "float32")
    if head == "bernoulli":
        return random.bernoulli(ops.sigmoid(params[:, 0] / temperature), key)
    if head == "categorical":
        return from_index(random.categorical(params / temperature, key), values)
    logit_weights, means, log_scales = _split_mixture(params)
    component = random.categorical(logit_weights / temperature, random.fold_in(key, 0))
    pick = ops.one_hot(component, ops.shape(logit_weights)[-1])
    mean, log_scale = ops.sum(means * pick, axis=-1), ops.sum(log_scales * pick, axis=-1)
    u = ops.clip(random.uniform(ops.shape(mean), random.fold_in(key, 1)), 1e-5, 1.0 - 1e-5)
    x = mean + temperature * ops.exp(log_scale) * (ops.log(u) - ops.log1p(-u))
    return from_index(ops.clip(ops.round((ops.clip(x, -1.0, 1.0) + 1.0) * 127.5), 0.0, 255.0), "pixels")
