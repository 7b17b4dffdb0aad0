"""Metrics shared by families: bits/dim, Frechet distance, flow straightness."""

import math

import numpy as np
from keras import ops

from zoo.dependence import hsic, hsic_test  # noqa: F401 (re-exported: zoo.metrics.hsic)
from zoo.schedules import uniform_times


def bits_per_dim(log_prob, num_dims, log_det_preprocess=0.0):
    """Convert log-likelihoods in nats to bits per dimension.

    Args:
        log_prob: `(batch,)` log-density of the (dequantized, rescaled) data in nats.
        num_dims: int. Dimensions per example.
        log_det_preprocess: float or `(batch,)`. log |d model_space / d data| of the
            preprocessing (e.g. D * log(2/256) for uint8 -> [-1, 1]).
    """
    log_prob = np.asarray(log_prob, "float64") + log_det_preprocess
    return -log_prob / (num_dims * math.log(2.0))


def uint8_to_model_space_log_det(num_dims):
    """log |det| of u -> 2 (u + noise) / 256 - 1 for uniform-dequantized 8-bit data."""
    return num_dims * math.log(2.0 / 256.0)


def frechet_distance(features_a, features_b):
    """Frechet distance between Gaussians fitted to two feature sets (Heusel et al.
    2017, arXiv:1706.08500). With Inception-v3 pool features this is FID; with other
    features it is a different number and should be named as such.

    Uses Tr sqrt(S_a S_b) = sum sqrt(eig(S_a^1/2 S_b S_a^1/2)), stable for PSD inputs.
    """
    a, b = (np.asarray(f, "float64") for f in (features_a, features_b))
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"`features_a` and `features_b` must be (n, d) with the same d. "
                         f"Received shapes {a.shape} and {b.shape}.")
    if min(len(a), len(b)) < 2:
        raise ValueError("Need at least 2 examples in each feature set.")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eigvals, eigvecs = np.linalg.eigh(cov_a)
    sqrt_a = (eigvecs * np.sqrt(np.clip(eigvals, 0, None))) @ eigvecs.T
    middle = np.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a)
    trace_sqrt = np.sqrt(np.clip(middle, 0, None)).sum()
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt)


def classifier_score(probabilities, splits=10):
    """The Inception Score formula exp(E_x KL(p(y|x) || p(y))) (Salimans et al. 2016,
    arXiv:1606.03498) on any classifier's `(N, classes)` probabilities: mean and
    standard deviation over `splits` equal parts, as the IS is reported."""
    probabilities = np.asarray(probabilities, "float64")
    if probabilities.ndim != 2 or len(probabilities) < splits:
        raise ValueError(f"`probabilities` must be (N, classes) with N >= splits={splits}; "
                         f"received shape {probabilities.shape}.")
    scores = []
    for part in np.array_split(probabilities, splits):
        marginal = part.mean(0, keepdims=True)
        kl = np.sum(part * (np.log(part + 1e-12) - np.log(marginal + 1e-12)), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def class_coverage(probabilities):
    """exp(entropy of the predicted-class histogram) / classes: 1 when every class is
    predicted equally often, 1/classes when all samples fall in one class."""
    probabilities = np.asarray(probabilities)
    counts = np.bincount(probabilities.argmax(-1), minlength=probabilities.shape[-1])
    shares = counts[counts > 0] / counts.sum()
    return float(np.exp(-np.sum(shares * np.log(shares))) / probabilities.shape[-1])


def straightness(velocity, noise, steps):
    """Straightness of a flow (Liu et al. 2023, arXiv:2209.03003, eq. 8):
    S = int_0^1 E ||(x_1 - x_0) - v(x_t, t)||^2 dt, along Euler trajectories from
    `noise`, per dimension. Zero exactly when every trajectory is a straight line.

    With a uniform grid x_1 - x_0 = mean_i v_i, so S = mean_i ||v_i||^2 - ||mean_i v_i||^2
    and only running sums are kept.

    Returns:
        `(batch,)` straightness per example.
    """
    times = uniform_times(steps)
    noise = ops.convert_to_tensor(noise, "float32")
    batch = ops.shape(noise)[0]
    dims = int(np.prod(noise.shape[1:]))

    def step(i, state):
        x, sum_v, sum_sq = state
        t = ops.ones((batch,), dtype="float32") * ops.take(ops.convert_to_tensor(times), i)
        v = ops.reshape(velocity(x, t), (batch, dims))
        x = x + (1.0 / steps) * ops.reshape(v, ops.shape(x))
        return x, sum_v + v, sum_sq + ops.sum(ops.square(v), axis=-1)

    zeros = ops.zeros((batch, dims))
    _, sum_v, sum_sq = ops.fori_loop(0, steps, step, (noise, zeros, ops.zeros((batch,))))
    mean_v = sum_v / steps
    return (sum_sq / steps - ops.sum(ops.square(mean_v), axis=-1)) / dims


def psnr(images, reconstructions, max_value=255.0):
    """Peak signal-to-noise ratio in dB per example, 10 log10(max^2 / MSE) (inf when equal)."""
    a, b = np.asarray(images, "float64"), np.asarray(reconstructions, "float64")
    if a.shape != b.shape:
        raise ValueError(f"`images` and `reconstructions` must have one shape; received {a.shape} and {b.shape}.")
    mse = np.mean(np.square(a - b).reshape(len(a), -1), axis=1)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(max_value**2 / mse)


def codebook_usage(indices, num_codes):
    """Share of the `num_codes` codes that occur at least once in `indices` (any shape)."""
    return float(np.unique(np.asarray(indices)).size / num_codes)


def codebook_perplexity(indices, num_codes):
    """exp(entropy) of the code histogram of `indices`: `num_codes` when every code is
    used equally often, 1 when one code is used everywhere (van den Oord et al. 2017)."""
    counts = np.bincount(np.asarray(indices).reshape(-1), minlength=num_codes)
    shares = counts[counts > 0] / counts.sum()
    return float(np.exp(-np.sum(shares * np.log(shares))))


def mode_coverage(samples, centers, radius, min_share=0.01):
    """Mode collapse on a mixture with known `centers` (VEEGAN, PacGAN): the number of
    modes that hold at least `min_share` of the samples within `radius` of their
    centre, and the share of samples within `radius` of some centre ("high quality").
    Returns `(modes, share)`."""
    samples, centers = np.asarray(samples, "float64"), np.asarray(centers, "float64")
    distances = np.linalg.norm(samples[:, None, :] - centers[None], axis=-1)
    near = distances.min(1) <= radius
    counts = np.bincount(distances.argmin(1)[near], minlength=len(centers))
    return int((counts >= min_share * len(samples)).sum()), float(near.mean())


def softmax(logits):
    """Class probabilities of `(N, classes)` logits, in their dtype (stable: max subtracted)."""
    exp = np.exp(logits - logits.max(-1, keepdims=True))
    return exp / exp.sum(-1, keepdims=True)


def expected_calibration_error(probabilities, labels, bins=15):
    """Expected calibration error (Guo et al. 2017, arXiv:1706.04599, eq. 3): the
    top-1 confidences binned into `bins` equal-width bins of (0, 1], and the
    example-weighted mean of |accuracy - mean confidence| over the bins. 0 is
    calibrated; an over-confident classifier scores its confidence-accuracy gap."""
    probabilities, labels = np.asarray(probabilities, dtype=np.float64), np.asarray(labels)
    confidence, predicted = probabilities.max(-1), probabilities.argmax(-1)
    correct = (predicted == labels).astype(np.float64)
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def energy_distance(a, b, chunk=1024):
    """Energy distance between two samples of points `(N, d)`, `(M, d)` (Szekely & Rizzo
    2013): 2 E|X - Y| - E|X - X'| - E|Y - Y'| with Euclidean norms, the within-sample means
    over distinct pairs (U-statistics), so the estimate is unbiased: ~0 for samples of one
    distribution (it can dip below 0), > 0 in expectation for different ones."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)

    def total_distance(x, y):
        return sum(np.sqrt(((x[i:i + chunk, None, :] - y[None]) ** 2).sum(-1)).sum()
                   for i in range(0, len(x), chunk))

    within = [total_distance(x, x) / (len(x) * (len(x) - 1)) for x in (a, b)]  # the zero diagonal left out
    return float(2 * total_distance(a, b) / (len(a) * len(b)) - within[0] - within[1])
