"""HSIC (Gretton et al. 2005) and its permutation test: exact against direct sums on a
tiny set, near zero under independence, clearly positive under dependence (also
nonlinear, uncorrelated dependence), p-values uniform under independence."""

import itertools

import numpy as np
import pytest

import zoo
from zoo.dependence import gaussian_gram, hsic, hsic_per_feature, hsic_test, median_bandwidth


def _pairs(n, dependent, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 1))
    y = x ** 2 + 0.3 * rng.normal(size=(n, 1)) if dependent else rng.normal(size=(n, 1))
    return x, y


def test_biased_and_unbiased_equal_direct_double_sums():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(6, 3))
    k, l = gaussian_gram(x), gaussian_gram(y)
    n = len(k)
    # Gretton et al. 2005, Lemma 1: the V-statistic of the three expectations.
    v = (sum(k[i, j] * l[i, j] for i in range(n) for j in range(n)) / n**2
         + k.sum() * l.sum() / n**4
         - 2 * sum(k[i, j] * l[i, q] for i in range(n) for j in range(n) for q in range(n)) / n**3)
    assert hsic(x, y) == pytest.approx(v * n**2 / (n - 1) ** 2, rel=1e-10)  # eq. 4's (m - 1)^-2 tr KHLH
    # Song et al. 2012: the U-statistic over distinct index tuples.
    def mean_over(m, term):
        tuples = list(itertools.permutations(range(n), m))
        return sum(term(*t) for t in tuples) / len(tuples)

    u = (mean_over(2, lambda i, j: k[i, j] * l[i, j]) + mean_over(4, lambda i, j, q, r: k[i, j] * l[q, r])
         - 2 * mean_over(3, lambda i, j, q: k[i, j] * l[i, q]))
    assert hsic(x, y, estimator="unbiased") == pytest.approx(u, rel=1e-9, abs=1e-12)


def test_median_heuristic_bandwidth():
    x = np.array([[0.0], [1.0], [3.0]])  # distances 1, 2, 3
    assert median_bandwidth(x) == 2.0
    np.testing.assert_allclose(gaussian_gram(x)[0, 1], np.exp(-1 / 8))
    labels = np.eye(3)[[0, 0, 0, 0, 0, 1]]  # most pairs coincide: mean positive distance
    assert median_bandwidth(labels) == pytest.approx(np.sqrt(2))


@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
def test_near_zero_when_independent_and_clearly_positive_when_dependent(estimator):
    for seed in range(3):
        independent = hsic(*_pairs(300, False, seed), estimator=estimator)
        dependent = hsic(*_pairs(300, True, seed), estimator=estimator)
        # y = x1^2 + noise is uncorrelated with x, yet HSIC sees it.
        # Over 20 seeds at n = 300: |independent| <= 0.0012, dependent >= 0.022 (both estimators).
        assert abs(independent) < 0.004 and dependent > 0.012, (seed, independent, dependent)


def test_permutation_test_rejects_dependence():
    for seed in range(3):
        result = hsic_test(*_pairs(100, True, seed), permutations=99, seed=seed)
        assert result.p_value == 0.01 and result.statistic > 5 * result.null_mean, result


def test_p_values_are_uniform_under_independence():
    p_values = np.array([hsic_test(*_pairs(40, False, seed), permutations=49, seed=seed).p_value
                         for seed in range(60)])
    # Uniform on {1/50, ..., 1}: mean 0.51 (sd of the mean over 60 ~ 0.04), 10% below 0.1.
    assert 0.38 < p_values.mean() < 0.64, p_values.mean()
    assert np.mean(p_values <= 0.1) < 0.25 and np.mean(p_values > 0.5) > 0.3, np.sort(p_values)


def test_per_feature_tests_find_the_dependent_feature():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 200)
    features = rng.normal(size=(200, 4))
    features[:, 2] += 2.0 * labels  # only feature 2 carries the label
    one_hot = np.eye(3)[labels]
    statistics, p_values = hsic_per_feature(features, one_hot, permutations=99, seed=0, chunk=3)
    assert np.argmax(statistics) == 2 and p_values[2] == 0.01
    assert np.all(p_values[[0, 1, 3]] > 0.01), p_values
    np.testing.assert_allclose(statistics, [hsic(features[:, j], one_hot) for j in range(4)], rtol=1e-4)


def test_exported_from_metrics_and_bad_input():
    assert zoo.metrics.hsic is hsic and zoo.metrics.hsic_test is hsic_test
    with pytest.raises(ValueError, match="paired samples of one length"):
        hsic(np.zeros(5), np.zeros(6))
    with pytest.raises(ValueError, match="`estimator` must be one of"):
        hsic(np.arange(5.0), np.arange(5.0), estimator="unbiasd")
    with pytest.raises(ValueError, match="NaN or inf"):
        hsic(np.array([0.0, np.nan, 1.0]), np.arange(3.0))
    with pytest.raises(ValueError, match="needs n >= 4"):
        hsic(np.arange(3.0), np.arange(3.0), estimator="unbiased")
