"""The stochastic latent layers: Gaussian reparameterization and Gumbel-Softmax (keyed
draws against their distributions, the temperature limit, the straight-through
gradient against the exact one, the annealing schedule, float32 under mixed precision)."""

import keras
import numpy as np
import pytest
from harness import check_layer
from keras import ops

from zoo import random
from zoo.backend import vjp
from zoo.layers import GaussianReparameterization, GumbelSoftmax, gaussian_kl


def _np(x):
    return np.asarray(ops.convert_to_numpy(ops.stop_gradient(x)))


def test_gaussian_reparameterization_layer(rng):
    mean, log_var = rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(4, 3)).astype("float32")
    check_layer(GaussianReparameterization, {"seed": 0}, (mean, log_var), (4, 3))


def test_reparameterized_draws_have_the_posterior_moments_and_its_kl():
    mean, log_var = np.array([[0.5, -1.0]], "float32"), np.array([[-1.0, 0.6]], "float32")
    noise = _np(random.normal((20_000, 2), random.key(3)))
    z = _np(GaussianReparameterization()(np.repeat(mean, 20_000, 0), np.repeat(log_var, 20_000, 0), noise=noise))
    np.testing.assert_allclose(z.mean(0), mean[0], atol=0.03)
    np.testing.assert_allclose(z.std(0), np.exp(0.5 * log_var[0]), rtol=0.03)
    # KL(q || N(0, I)) = E_q[log q(z) - log p(z)], estimated by Monte Carlo.
    log_q = -0.5 * (noise**2 + log_var + np.log(2 * np.pi)).sum(1)
    log_p = -0.5 * (z**2 + np.log(2 * np.pi)).sum(1)
    kl = float(_np(gaussian_kl(mean, log_var))[0])
    assert abs(kl - (log_q - log_p).mean()) < 0.03, (kl, (log_q - log_p).mean())


def test_gumbel_softmax_layer(rng):
    logits = rng.normal(size=(4, 5, 3)).astype("float32")
    check_layer(GumbelSoftmax, {"temperature": 0.7, "hard": True, "seed": 0}, (logits,), (4, 5, 3))
    layer = check_layer(GumbelSoftmax, {"temperature": 2.0, "anneal_rate": 1e-3, "seed": 0}, (logits,), (4, 5, 3))
    assert [w.name for w in layer.non_trainable_weights] == ["anneal_step"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hard_samples_are_one_hot_with_the_softmax_frequencies(seed):
    # Chi-square goodness of fit of 20,000 keyed draws to softmax(logits); 4 degrees of
    # freedom, 18.47 is the 0.1% critical value. (Seeds 0-9 give 0.6-8.9.)
    logits = np.array([1.0, 0.0, -1.0, 2.0, 0.5], "float32")
    n = 20_000
    noise = random.gumbel((n, 5), random.key(seed))
    samples = _np(GumbelSoftmax(temperature=0.5, hard=True)(np.tile(logits, (n, 1)), noise=noise))
    assert set(np.unique(samples)) == {0.0, 1.0} and np.all(samples.sum(-1) == 1.0)
    expected = n * np.exp(logits) / np.exp(logits).sum()
    chi2 = (((samples.sum(0) - expected) ** 2) / expected).sum()
    assert chi2 < 18.47, chi2


def test_relaxed_samples_approach_one_hot_as_the_temperature_falls():
    logits = np.tile(np.array([0.3, -0.2, 0.0, 0.8], "float32"), (2000, 1))
    noise = random.gumbel(logits.shape, random.key(0))
    largest = [float(_np(GumbelSoftmax(temperature=tau)(logits, noise=noise)).max(-1).mean())
               for tau in (5.0, 1.0, 0.3, 0.05, 0.005)]
    assert largest == sorted(largest) and largest[0] < 0.5 and largest[-1] > 0.99, largest
    # The hard draw is the argmax of the same relaxed draw at any temperature.
    soft = _np(GumbelSoftmax(temperature=0.3)(logits, noise=noise))
    hard = _np(GumbelSoftmax(temperature=0.3, hard=True)(logits, noise=noise))
    np.testing.assert_array_equal(hard.argmax(-1), soft.argmax(-1))


def test_straight_through_gradient_points_like_the_exact_gradient():
    # E[f(y)] for y ~ Cat(softmax(logits)), f(y) = <y, reward>: the exact gradient by
    # enumerating the categories is p * (reward - E f); the straight-through estimator
    # averaged over keyed draws is biased but must point the same way.
    base = np.array([0.5, -0.3, 0.1, 0.0], "float32")
    reward = np.array([1.0, -2.0, 0.5, 3.0], "float32")
    p = np.exp(base) / np.exp(base).sum()
    exact = p * (reward - (p * reward).sum())
    n = 4000
    noise = random.gumbel((n, 4), random.key(7))
    layer = GumbelSoftmax(temperature=1.0, hard=True)

    def objective(logits):
        return ops.sum(layer(logits, noise=noise) * ops.convert_to_tensor(reward), axis=-1)

    values, pullback = vjp(objective, ops.convert_to_tensor(np.tile(base, (n, 1))))
    estimate = _np(pullback(ops.ones((n,)))).mean(0)
    cosine = estimate @ exact / (np.linalg.norm(estimate) * np.linalg.norm(exact))
    assert cosine > 0.9, (cosine, estimate, exact)
    # The forward values are the objective at exact one-hot draws: their mean is E f.
    assert abs(_np(values).mean() - (p * reward).sum()) < 0.1


def test_temperature_anneals_on_the_papers_schedule_during_training_only():
    layer = GumbelSoftmax(temperature=1.0, anneal_rate=0.1, min_temperature=0.5)
    logits = np.zeros((2, 3), "float32")
    layer(logits, training=False)
    assert float(_np(layer.step)) == 0.0
    for _ in range(3):
        layer(logits, training=True)
    assert float(_np(layer.step)) == 3.0
    assert np.isclose(float(_np(layer.current_temperature())), np.exp(-0.3))
    for _ in range(5):
        layer(logits, training=True)
    assert np.isclose(float(_np(layer.current_temperature())), 0.5)  # max(0.5, exp(-0.8))


def test_latent_layers_compute_in_float32_under_mixed_precision():
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        gumbel, gaussian = GumbelSoftmax(temperature=0.1), GaussianReparameterization()
        # (A layer on the policy would cast these inputs to bfloat16: 2.99 -> 2.984.)
        logits = np.array([[3.0, 2.99, -1.0]], "float32")
        soft = gumbel(logits, noise=np.zeros((1, 3), "float32"))
        z = gaussian(ops.cast(logits, "bfloat16"), logits, noise=np.ones((1, 3), "float32"))
    finally:
        keras.config.set_dtype_policy(policy)
    assert keras.backend.standardize_dtype(soft.dtype) == "float32"
    assert keras.backend.standardize_dtype(z.dtype) == "float32"
    # softmax([3, 2.99, -1] / 0.1) in float32; from bfloat16 inputs it would be 0.539 / 0.461.
    np.testing.assert_allclose(_np(soft)[0, :2], [0.52498, 0.47502], atol=1e-4)


@pytest.mark.parametrize("kwargs, message", [({"temperature": 0.0}, "temperature"),
                                             ({"anneal_rate": -1.0}, "anneal_rate"),
                                             ({"min_temperature": float("nan")}, "min_temperature")])
def test_bad_gumbel_settings_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GumbelSoftmax(**kwargs)
