"""VAE and GumbelVAE end to end: the bounds against analytic and enumerated
log-likelihoods, the decoders' likelihoods, training with the stock fit(), save / load /
resume (the Gumbel-Softmax schedule included), cross-backend golden outputs, and clear
errors for bad input."""

import math
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from harness import check_model
from keras import ops

import zoo
from zoo.objectives.variational import (bernoulli_log_likelihood, decoder_log_likelihood,
                                        discretized_logistic_log_likelihood)
from zoo.training import ArrayBatches, start_from_checkpoint, train

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import make_golden_vae  # noqa: E402

GOLDEN = Path(__file__).parent / "golden"


def _np(x):
    return np.asarray(ops.convert_to_numpy(x), "float64")


# The importance-weighted bound against exact log-likelihoods ----------------------------

def linear_gaussian_vae(rng, data_dim=3, latent_dim=2):
    """p(z) = N(0, I), p(x | z) = N(W z + b, s^2 I), so p(x) = N(b, W W^T + s^2 I); the
    encoder q(z | x) = N(A x + c, diag v) is deliberately not the exact posterior."""
    model = zoo.create("vae_mlp", data_shape=(data_dim,), latent_dim=latent_dim, hidden=(), seed=0)
    W, b, log_s = rng.normal(size=(data_dim, latent_dim)), rng.normal(size=data_dim), -0.5
    # The exact posterior is N(P W^T (x - b) / s^2, P), P = (I + W^T W / s^2)^-1: shrink its
    # mean and take a too-wide diagonal covariance.
    posterior = np.linalg.inv(np.eye(latent_dim) + W.T @ W / np.exp(2 * log_s))
    A = 0.8 * posterior @ W.T / np.exp(2 * log_s)
    c, log_v = -A @ b, np.log(2.0 * np.diag(posterior))
    model.encoder.out.set_weights([np.concatenate([A.T, np.zeros((data_dim, latent_dim))], 1).astype("float32"),
                                   np.concatenate([c, log_v]).astype("float32")])
    model.decoder.out.set_weights([np.concatenate([W.T, np.zeros((latent_dim, data_dim))], 1).astype("float32"),
                                   np.concatenate([b, np.full(data_dim, log_s)]).astype("float32")])
    x = rng.multivariate_normal(b, W @ W.T + np.exp(2 * log_s) * np.eye(data_dim), size=128).astype("float32")
    covariance = W @ W.T + np.exp(2 * log_s) * np.eye(data_dim)
    diff = x - b
    exact = -0.5 * (np.einsum("nd,de,ne->n", diff, np.linalg.inv(covariance), diff)
                    + np.linalg.slogdet(2 * np.pi * covariance)[1])
    m, v, s2 = x @ A.T + c, np.exp(log_v), np.exp(2 * log_s)
    expected_log_likelihood = (-0.5 * data_dim * np.log(2 * np.pi * s2)
                               - (((x - m @ W.T - b) ** 2).sum(1) + np.trace(W @ np.diag(v) @ W.T)) / (2 * s2))
    elbo = expected_log_likelihood - 0.5 * (m**2 + v - 1 - log_v).sum(1)
    return model, x, exact, elbo


def test_iwae_on_a_linear_gaussian_vae_rises_with_k_to_the_exact_log_likelihood(rng):
    model, x, exact, elbo = linear_gaussian_vae(rng)
    assert np.mean(exact - elbo) > 0.3, np.mean(exact - elbo)  # a real gap for the bound to close
    one = model.bounds(x, k=1, seed=0, batch_size=128)
    np.testing.assert_allclose(one["iwae"], one["elbo"], rtol=1e-6)  # k = 1 is the ELBO
    bounds = [model.bounds(x, k=k, seed=1, batch_size=128) for k in (1, 10, 1000)]
    # The mean of the 1000 log-weights is the ELBO (Monte Carlo error ~0.01 nats per example).
    assert abs(np.mean(bounds[-1]["elbo"] - elbo)) < 0.02, np.mean(bounds[-1]["elbo"] - elbo)
    gaps = np.array([np.mean(exact - b["iwae"]) for b in bounds])
    # 0.42 -> ~0.1 -> ~0.003 nats here; a bound, so never clearly below 0.
    assert gaps[0] > gaps[1] > gaps[2] > -0.01 and gaps[2] < 0.05 * gaps[0], gaps


def test_iwae_of_a_categorical_vae_against_the_enumerated_likelihood(rng):
    # 2 latents of 3 categories: log p(x) = logsumexp over all 9 codes, and the ELBO
    # sum_z q(z | x) [log p(x, z) - log q(z | x)], both exactly by enumeration.
    model = zoo.create("gumbel_vae_mlp", num_latents=2, num_categories=3, hidden=(16,), seed=0)
    # Weights from NumPy, so every backend scores the same model (and the same keyed draws).
    model.set_weights([rng.normal(scale=0.25, size=w.shape).astype("float32") for w in model.get_weights()])
    x = 2.0 * rng.normal(size=(16, 2)).astype("float32")
    codes = np.eye(3, dtype="float32")[np.array([(i, j) for i in range(3) for j in range(3)])]  # (9, 2, 3)
    params = model.decoder(codes)
    log_joint = np.stack([_np(decoder_log_likelihood("gaussian", x, ops.repeat(params[c:c + 1], 16, axis=0)))
                          for c in range(9)], 1) - 2 * math.log(3)  # (16, 9)
    exact = np.logaddexp.reduce(log_joint, axis=1)
    log_q_each = _np(ops.log_softmax(model.encoder(x), axis=-1))  # (16, 2, 3)
    log_q = np.stack([log_q_each[:, 0, i] + log_q_each[:, 1, j] for i in range(3) for j in range(3)], 1)
    elbo = (np.exp(log_q) * (log_joint - log_q)).sum(1)
    assert np.mean(exact - elbo) > 0.1, np.mean(exact - elbo)
    one = model.bounds(x, k=1, seed=0)
    np.testing.assert_allclose(one["iwae"], one["elbo"], rtol=1e-6)
    many = model.bounds(x, k=3000, seed=0)
    assert abs(np.mean(many["elbo"] - elbo)) < 0.05, np.mean(many["elbo"] - elbo)
    bounds = [np.mean(model.bounds(x, k=k, seed=1)["iwae"]) for k in (1, 10, 3000)]
    assert bounds == sorted(bounds), bounds
    assert abs(bounds[-1] - np.mean(exact)) < 0.02, (bounds, np.mean(exact))


# Decoder likelihoods -----------------------------------------------------------------------

def test_discretized_logistic_sums_to_one_over_the_pixel_values():
    pixels = np.arange(256, dtype="float32") / 127.5 - 1.0
    for mean, log_scale in ((0.1, -2.0), (-0.99, -4.0), (0.7, 0.5)):
        log_p = _np(discretized_logistic_log_likelihood(pixels[:, None], np.full((256, 1), mean, "float32"),
                                                         np.full((256, 1), log_scale, "float32")))
        assert abs(np.exp(log_p).sum() - 1.0) < 1e-4, (mean, log_scale, np.exp(log_p).sum())


def test_bernoulli_log_likelihood_is_the_log_probability_of_binary_data():
    x = np.array([[1.0, 0.0, 1.0]], "float32")
    logits = np.array([[0.3, -1.2, 2.0]], "float32")
    p = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(_np(bernoulli_log_likelihood(x, logits)),
                               np.log(np.where(x == 1, p, 1 - p)).sum(1), rtol=1e-5)


def test_dynamic_binarization_draws_binary_targets_with_the_pixel_probabilities():
    model = zoo.create("vae_tiny", dynamic_binarization=True, seed=0)
    x = np.full((256, 8, 8, 1), 0.4, "float32")  # p = 0.7
    targets, seen = model._targets(ops.convert_to_tensor(x), training=True)
    targets = _np(targets)
    assert set(np.unique(targets)) == {0.0, 1.0} and abs(targets.mean() - 0.7) < 0.01
    np.testing.assert_array_equal(_np(seen), 2 * targets - 1)
    np.testing.assert_allclose(_np(model._targets(ops.convert_to_tensor(x), training=False)[0]), 0.7, rtol=1e-6)


# Training, saving, resuming ------------------------------------------------------------------

@pytest.mark.parametrize("config", ["vae_mlp", "gumbel_vae_mlp"])
def test_fit_trains_on_every_backend(config):
    model = zoo.create(config, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    batches = ArrayBatches(zoo.datasets.load("moons", num=2048)[0], 256, seed=0, steps_per_epoch=5)
    history = model.fit(batches, epochs=4, verbose=0).history["loss"]
    # The negative ELBO of the moons (nats per point) falls by 0.17-0.6 in these 20 steps
    # (seeds 0-2, JAX and PyTorch): from ~3.6-4.0 to ~3.3-3.5.
    assert history[-1] < history[0] - 0.1, history


@pytest.mark.parametrize("config", ["vae_tiny", "gumbel_vae_tiny"])
def test_check_model_harness(config, tmp_path, rng):
    model = zoo.create(config, seed=0)
    data = np.where(rng.random((16, 8, 8, 1)) < 0.3, 1.0, -1.0).astype("float32")
    noise = np.asarray(model.initial_noise(3, None, 5))
    loaded = check_model(model, data, tmp_path, {"noise": noise, "seed": 1, "raw": True})
    np.testing.assert_allclose(loaded.log_prob(data[:4], k=5), model.log_prob(data[:4], k=5), atol=1e-5)


def test_training_resumes_with_the_gumbel_softmax_schedule(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(64, 8, 8, 1), dtype=np.uint8)

    def run(epochs):
        model = zoo.create("gumbel_vae_tiny", dynamic_binarization=True, anneal_rate=0.05, seed=0)
        return train(model, ArrayBatches(images, 16, seed=0, steps_per_epoch=3), workdir=tmp_path, epochs=epochs,
                     optimizer=keras.optimizers.Adam(1e-3), verbose=0)

    first = run(1)
    assert float(_np(first.gumbel_softmax.step)) == 3.0
    resumed = run(2)
    assert float(_np(resumed.gumbel_softmax.step)) == 6.0
    assert np.isclose(resumed.temperature_now, max(0.5, math.exp(-0.05 * 6)))
    loaded = zoo.load(tmp_path / "checkpoint")
    assert float(_np(loaded.gumbel_softmax.step)) == 6.0
    # Copies (exports, reflow-style starts) and warm starts keep the schedule's step.
    assert float(_np(resumed.copy().gumbel_softmax.step)) == 6.0
    warm = zoo.create("gumbel_vae_tiny", dynamic_binarization=True, anneal_rate=0.05, seed=1)
    warm.compile(optimizer=keras.optimizers.Adam(1e-3))
    start_from_checkpoint(warm, tmp_path / "checkpoint")
    assert float(_np(warm.gumbel_softmax.step)) == 6.0
    assert len(loaded.checkpoint_metadata["training"]["history"]["loss"]) == 2


def test_sampling_encoding_and_reconstruction(rng):
    vae, gumbel = zoo.create("vae_tiny", seed=0), zoo.create("gumbel_vae_tiny", seed=0)
    images = (rng.random((5, 8, 8, 1)) < 0.3).astype(np.uint8)  # {0, 1}, as binarized_mnist
    for model in (vae, gumbel):
        samples, nfe = model.sample(4, seed=3, return_nfe=True)
        assert samples.dtype == np.uint8 and set(np.unique(samples)) <= {0, 255} and nfe == 1
        np.testing.assert_array_equal(samples, model.sample(4, seed=3))  # keyed
        means = model.sample(4, seed=3, mean=True, raw=True)
        assert means.shape == (4, 8, 8, 1) and np.all(np.abs(means) <= 1)
        assert model.reconstruct(images).shape == images.shape
        bpd = model.bits_per_dim(images, k=3)
        np.testing.assert_allclose(bpd, model.bits_per_dim(images * np.uint8(255), k=3), rtol=1e-6)
        assert bpd.shape == (5,) and np.all(bpd > 0)
    assert vae.encode(images).shape == (5, 4)
    codes = gumbel.encode(images)
    assert codes.shape == (5, 4) and codes.dtype == np.int32 and codes.max() < 3
    # Integer codes and their one-hot vectors decode alike.
    np.testing.assert_allclose(gumbel.decode(codes), gumbel.decode(np.eye(3, dtype="float32")[codes]), atol=1e-6)


def test_sample_and_bound_match_the_golden_file_on_every_backend():
    golden = np.load(GOLDEN / "vae_tiny.npz")
    for name in ("vae", "gumbel_vae"):
        model = make_golden_vae.tiny_model(name)
        model.load_weights(GOLDEN / f"{name}_tiny.weights.h5")
        outputs = make_golden_vae.outputs(model, golden[f"{name}_x"], golden[f"{name}_noise"])
        for key, value in outputs.items():
            np.testing.assert_allclose(value, golden[f"{name}_{key}"], rtol=1e-4, atol=1e-4, err_msg=f"{name} {key}")


# Bad input ------------------------------------------------------------------------------------

def test_bad_input_is_a_clear_error(rng):
    model = zoo.create("vae_tiny", seed=0)
    with pytest.raises(ValueError, match="binary images"):
        model.bits_per_dim(rng.integers(0, 256, size=(2, 8, 8, 1), dtype=np.uint8))
    with pytest.raises(ValueError, match="only -1 and 1"):
        model.log_prob(rng.uniform(-1, 1, size=(2, 8, 8, 1)).astype("float32"))
    with pytest.raises(ValueError, match="`k`"):
        model.log_prob(np.ones((2, 8, 8, 1), "float32"), k=0)
    with pytest.raises(ValueError, match="shape"):
        model.decode(np.zeros((2, 5), "float32"))
    with pytest.raises(ValueError, match="likelihood"):
        zoo.create("vae_tiny", likelihood="poisson")
    with pytest.raises(ValueError, match="dynamic_binarization"):
        zoo.create("vae_mlp", dynamic_binarization=True)
    with pytest.raises(ValueError, match="categories"):
        zoo.create("gumbel_vae_tiny").decode(np.array([[0, 1, 2, 3]]))
    with pytest.raises(ValueError, match="pixels"):
        zoo.create("vae_mlp").bits_per_dim(np.zeros((2, 2), np.uint8))
