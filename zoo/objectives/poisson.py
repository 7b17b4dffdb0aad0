"""Poisson flow objectives (training only), and the perturbation kernels they share with
the priors of sampling.

PFGM (Xu et al. 2022, arXiv:2209.11178) puts N-dimensional data on the plane z = 0 of
an (N+1)-dimensional space, as unit charges; the network learns the normalized electric
field of the data distribution at perturbed points above the plane. PFGM++ (Xu et al.
2023, arXiv:2302.04265) adds D dimensions instead of one: the perturbation kernel at
augmented radius r is p_r(x | y) proportional to (||x - y||^2 + r^2)^(-(N + D) / 2), a
multivariate Student t with D degrees of freedom and scale r / sqrt(D) = sigma, so with
r = sigma sqrt(D) training reuses EDM's denoiser and loss, and D -> infinity is EDM.
"""

import math

import keras
from keras import ops

# Above this many degrees of freedom a chi-square draw is the Wilson-Hilferty cube of one
# normal (error in its quantiles O(D^-3/2)) instead of the sum of D squared normals.
EXACT_CHI_SQUARE_DOF = 4096


def _flat(x):
    return ops.reshape(x, (-1, math.prod(x.shape[1:])))  # static width, also on TensorFlow


def _per_example(values, x):
    return ops.reshape(values, (-1,) + (1,) * (len(x.shape) - 1))


# The empirical Poisson field -----------------------------------------------------------

def log_sphere_area(n):
    """log S_n(1): the area of the unit n-sphere in R^(n+1), 2 pi^((n+1)/2) / Gamma((n+1)/2)."""
    return math.log(2.0) + 0.5 * (n + 1) * math.log(math.pi) - math.lgamma(0.5 * (n + 1))


def _log_distances(points, charges):
    """`(B, M)` log ||points_b - charges_m||, by |a|^2 + |b|^2 - 2 a.b (no (B, M, N) tensor)."""
    squared = (ops.sum(ops.square(points), axis=-1)[:, None] + ops.sum(ops.square(charges), axis=-1)[None, :]
               - 2.0 * ops.matmul(points, ops.transpose(charges)))
    return 0.5 * ops.log(ops.maximum(squared, 1e-30))


def field_direction(points, charges):
    """The empirical field of unit `charges` (M, N+1) at `points` (B, N+1), pointing to
    the charges and scaled by c(x) = 1 / sum_i ||x - y_i||^-(N+1) (PFGM eq. 9):
    sum_i w_i (y_i - x) with w = softmax(-(N+1) log ||x - y_i||), finite in any dimension."""
    points, charges = ops.convert_to_tensor(points, "float32"), ops.convert_to_tensor(charges, "float32")
    weights = ops.softmax(-float(points.shape[-1]) * _log_distances(points, charges), axis=-1)
    return ops.matmul(weights, charges) - points


def coulomb_field(points, charges):
    """The Poisson field of the charges' uniform distribution, E(x) = 1 / (M S_N(1))
    sum_i (x - y_i) / ||x - y_i||^(N+1) (PFGM eq. 5 with p the empirical measure), from
    `field_direction` and its scale; overflows float32 in high dimensions, use the
    direction there."""
    points, charges = ops.convert_to_tensor(points, "float32"), ops.convert_to_tensor(charges, "float32")
    dims, count = int(points.shape[-1]), int(charges.shape[0])
    log_scale = ops.logsumexp(-float(dims) * _log_distances(points, charges), axis=-1)
    scale = ops.exp(log_scale - math.log(count) - log_sphere_area(dims - 1))
    return -field_direction(points, charges) * scale[:, None]


def normalized_field(points, charges, gamma=5.0):
    """PFGM's training target: sqrt(N) F / (||F|| + gamma) for F = `field_direction`
    (Xu et al. 2022, sec. 4.1 and Alg. 1; gamma keeps the target bounded near the data)."""
    direction = field_direction(points, charges)
    norm = ops.sqrt(ops.sum(ops.square(direction), axis=-1, keepdims=True))
    return math.sqrt(int(points.shape[-1]) - 1) * direction / (norm + gamma)


def pfgm_perturbation(data, sigma, tau, max_m, restrict_m, seed):
    """PFGM's perturbed training points `(x, z)` (Xu et al. 2022, Alg. 2 and app. B.1.1):
    eps ~ N(0, sigma^2 I_(N+1)), m ~ U[0, M], x = data + eps_x (1 + tau)^m,
    z = |eps_z| (1 + tau)^m. (||eps_x|| times a uniform direction, as the paper writes
    it, is eps_x itself.) With `restrict_m`, points whose |eps_z| < sigma / 2 take
    m ~ U[0, 0.7 M], as the official code's "restrict_M" does, so fewer land far out."""
    batch = ops.shape(data)[0]
    m = max_m * keras.random.uniform((batch,), seed=seed)
    eps_z = sigma * ops.abs(keras.random.normal((batch,), seed=seed))
    if restrict_m:
        m = ops.where(eps_z < 0.5 * sigma, 0.7 * max_m * keras.random.uniform((batch,), seed=seed), m)
    multiplier = ops.power(1.0 + tau, m)
    eps_x = sigma * keras.random.normal(ops.shape(data), seed=seed)
    return data + _per_example(multiplier, data) * eps_x, eps_z * multiplier


def augment(x, z):
    """`(B, N+1)` points (x flattened, z)."""
    return ops.concatenate([_flat(x), ops.reshape(ops.cast(z, x.dtype), (-1, 1))], axis=-1)


def field_loss(predicted, target):
    """Mean squared error per dimension of the (N+1)-dimensional field, in float32."""
    return ops.mean(ops.square(ops.cast(predicted, "float32") - ops.cast(target, "float32")))


# The PFGM++ kernel (a multivariate Student t) -----------------------------------------

def chi_square(normal, batch, dof):
    """`(batch,)` chi-square draws with `dof` degrees of freedom from `normal(shape)`, a
    standard normal source: the sum of `dof` squares, or above `EXACT_CHI_SQUARE_DOF`
    the Wilson-Hilferty approximation dof (1 - 2/(9 dof) + g sqrt(2/(9 dof)))^3."""
    if dof <= EXACT_CHI_SQUARE_DOF:
        return ops.sum(ops.square(normal((batch, int(dof)))), axis=-1)
    spread = math.sqrt(2.0 / (9.0 * dof))
    return dof * ops.power(ops.maximum(1.0 - spread**2 + spread * normal((batch,)), 0.0), 3.0)


def heavy_tailed(noise, dof, normal):
    """Standard normal `noise` (batch, ...) -> draws of PFGM++'s kernel at sigma = 1:
    noise sqrt(D / chi2_D), whose radius R obeys R^2 / (R^2 + D) ~ Beta(N/2, D/2) (Xu et
    al. 2023, eq. 8 and app. B: the radius of p_r with r = sqrt(D)); -> noise as D -> inf."""
    chi2 = chi_square(normal, ops.shape(noise)[0], dof)
    return noise * _per_example(ops.sqrt(float(dof) / ops.maximum(chi2, 1e-30)), noise)


def student_t_log_prob(x, dof, scale):
    """log p(x) per example of the multivariate t with `dof` degrees of freedom and
    `scale` (the PFGM++ kernel at sigma = scale; PFGM's plane prior is dof 1,
    scale z): Gamma((D+N)/2) / (Gamma(D/2) (pi D)^(N/2) scale^N) (1 + |x|^2/(D scale^2))^-((D+N)/2)."""
    flat = _flat(ops.convert_to_tensor(x, "float32"))
    n = int(flat.shape[-1])
    constant = (math.lgamma(0.5 * (dof + n)) - math.lgamma(0.5 * dof) - 0.5 * n * math.log(math.pi * dof)
                - n * math.log(scale))
    return constant - 0.5 * (dof + n) * ops.log1p(ops.sum(ops.square(flat), axis=-1) / (dof * scale**2))
