"""HSIC, the Hilbert-Schmidt independence criterion (Gretton et al. 2005, "Measuring
statistical dependence with Hilbert-Schmidt norms", ALT; the permutation test as in
Gretton et al. 2008, NIPS): a kernel measure of dependence between paired samples x and
y, zero in the population exactly when they are independent (for characteristic kernels
such as the Gaussian). NumPy, float64; re-exported by `zoo.metrics`.
"""

import dataclasses

import numpy as np

ESTIMATORS = ("biased", "unbiased")


def _as_rows(x, name):
    x = np.asarray(x, "float64")
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"`{name}` must be (n,) or (n, d) samples; received shape {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"`{name}` holds NaN or inf; drop or fix those rows first.")
    return x


def squared_distances(x):
    """`(n, n)` squared Euclidean distances between the rows of `x`."""
    norms = np.sum(x * x, axis=1)
    return np.maximum(norms[:, None] + norms[None, :] - 2.0 * x @ x.T, 0.0)


def median_bandwidth(x):
    """The median heuristic: sigma = median distance between distinct pairs of rows (the
    mean of the positive distances where more than half of the pairs coincide, e.g.
    one-hot labels of a dominant class; 1 if all rows are equal)."""
    x = _as_rows(x, "x")
    distances = np.sqrt(squared_distances(x)[np.triu_indices(len(x), k=1)])
    sigma = float(np.median(distances)) if len(distances) else 0.0
    if sigma <= 0.0:
        positive = distances[distances > 0]
        sigma = float(positive.mean()) if len(positive) else 1.0
    return sigma


def gaussian_gram(x, sigma=None):
    """`(n, n)` Gaussian kernel exp(-||x_i - x_j||^2 / (2 sigma^2)); `sigma` None: the
    median heuristic."""
    x = _as_rows(x, "x")
    sigma = median_bandwidth(x) if sigma is None else float(sigma)
    if not sigma > 0:
        raise ValueError(f"The kernel bandwidth must be > 0; received {sigma}.")
    return np.exp(-squared_distances(x) / (2.0 * sigma**2))


def _center(gram):
    return gram - gram.mean(0, keepdims=True) - gram.mean(1, keepdims=True) + gram.mean()


def hsic_from_grams(k, l, estimator="biased"):
    """HSIC of two `(n, n)` Gram matrices.

    biased: tr(K H L H) / (n - 1)^2 (Gretton et al. 2005, eq. 4), H = I - 11^T / n;
    unbiased: Song et al. 2012 (JMLR 13, eq. 5), with K~, L~ the Grams with zero diagonal,
    [tr(K~ L~) + 1'K~1 1'L~1 / ((n - 1)(n - 2)) - 2 / (n - 2) 1'K~L~1] / (n (n - 3)).
    """
    n = len(k)
    if estimator == "biased":
        return float(np.sum(_center(k) * l) / (n - 1) ** 2)
    if estimator == "unbiased":
        if n < 4:
            raise ValueError(f"The unbiased estimator needs n >= 4 samples; received {n}.")
        k, l = k.copy(), l.copy()
        np.fill_diagonal(k, 0.0)
        np.fill_diagonal(l, 0.0)
        k_rows, l_rows = k.sum(1), l.sum(1)
        value = (np.sum(k * l) + k_rows.sum() * l_rows.sum() / ((n - 1) * (n - 2))
                 - 2.0 / (n - 2) * k_rows @ l_rows)
        return float(value / (n * (n - 3)))
    raise ValueError(f"`estimator` must be one of {ESTIMATORS}. Received: {estimator!r}")


def _grams(x, y, sigma_x, sigma_y):
    x, y = _as_rows(x, "x"), _as_rows(y, "y")
    if len(x) != len(y):
        raise ValueError(f"`x` and `y` must be paired samples of one length; received {len(x)} and {len(y)}.")
    if len(x) < 2:
        raise ValueError(f"HSIC needs at least 2 paired samples; received {len(x)}.")
    return gaussian_gram(x, sigma_x), gaussian_gram(y, sigma_y)


def hsic(x, y, *, estimator="biased", sigma_x=None, sigma_y=None):
    """HSIC between paired samples `x` (n, d_x) and `y` (n, d_y) with Gaussian kernels.

    Args:
        x, y: arrays `(n,)` or `(n, d)`, row i of each from the same draw. Class labels
            go in one-hot.
        estimator: str. `"biased"` (Gretton et al. 2005; >= 0, of order 1/n under
            independence) or `"unbiased"` (Song et al. 2012; mean zero under independence).
        sigma_x, sigma_y: float or None. Kernel bandwidths; None: the median heuristic.

    Returns:
        float. Larger means more dependence; compare values at the same n and bandwidths.
    """
    return hsic_from_grams(*_grams(x, y, sigma_x, sigma_y), estimator)


@dataclasses.dataclass(frozen=True)
class HSICTest:
    """The result of `hsic_test`: the statistic, its permutation p-value, and the null
    statistics' mean (what independence would give at this n)."""

    statistic: float
    p_value: float
    null_mean: float
    permutations: int


def hsic_test(x, y, *, permutations=200, seed=0, estimator="biased", sigma_x=None, sigma_y=None):
    """Permutation test of independence with the HSIC statistic: the rows of `y` are
    shuffled `permutations` times (breaking any dependence, keeping both marginals) and
    the p-value is (1 + #{null >= observed}) / (1 + permutations), valid at every n.

    Returns:
        `HSICTest(statistic, p_value, null_mean, permutations)`.
    """
    if permutations < 1:
        raise ValueError(f"`permutations` must be >= 1; received {permutations}.")
    k, l = _grams(x, y, sigma_x, sigma_y)
    observed = hsic_from_grams(k, l, estimator)
    rng = np.random.default_rng(seed)
    null = np.empty(permutations)
    for index in range(permutations):
        order = rng.permutation(len(l))
        null[index] = hsic_from_grams(k, l[order][:, order], estimator)
    p_value = (1.0 + np.sum(null >= observed)) / (1.0 + permutations)
    return HSICTest(observed, float(p_value), float(null.mean()), permutations)


def hsic_per_feature(features, y, *, permutations=199, seed=0, sigma_y=None, chunk=32):
    """Which single features depend on `y`: the biased HSIC of each column of `features`
    (n, d) with `y` (Gaussian kernels, median heuristic per column) and its permutation
    p-value, all columns tested against the same `permutations` shuffles of `y`.

    Returns:
        `(statistics, p_values)`, each `(d,)`.
    """
    features, y = _as_rows(features, "features"), _as_rows(y, "y")
    if len(features) != len(y) or len(y) < 2:
        raise ValueError(f"`features` and `y` must be paired samples of one length >= 2; received {len(features)} "
                         f"and {len(y)}.")
    l, n = gaussian_gram(y, sigma_y), len(y)
    rng = np.random.default_rng(seed)
    orders = [rng.permutation(n) for _ in range(permutations)]
    statistics, exceed = np.empty(features.shape[1]), np.zeros(features.shape[1])
    for start in range(0, features.shape[1], chunk):
        centered = np.stack([_center(gaussian_gram(column)) for column in features[:, start:start + chunk].T])
        flat = centered.reshape(len(centered), -1).astype("float32")
        stop = start + len(centered)
        statistics[start:stop] = flat @ l.reshape(-1).astype("float32") / (n - 1) ** 2
        for order in orders:
            null = flat @ l[order][:, order].reshape(-1).astype("float32") / (n - 1) ** 2
            exceed[start:stop] += null >= statistics[start:stop]
    return statistics, (1.0 + exceed) / (1.0 + permutations)
