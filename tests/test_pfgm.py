"""PFGM and PFGM++: the empirical Poisson field against the exact Coulomb sum, the
perturbation kernel's and the prior's radial laws (Kolmogorov-Smirnov against the
analytic Beta), normalized prior densities, PFGM++ -> EDM as D -> infinity (training
targets and samples on the same network and keys), fit / save / load / resume, and
cross-backend golden outputs from fixed weight files."""

import math
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from harness import check_model
from keras import ops
from scipy import stats

import zoo
from zoo import random
from zoo.models import EDM, PFGM, PFGMPlusPlus
from zoo.objectives import poisson
from zoo.samplers.poisson import hemisphere_prior, hemisphere_prior_log_prob
from zoo.training import ArrayBatches, train

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import make_golden_pfgm  # noqa: E402

GOLDEN = Path(__file__).parent / "golden"


def numpy(x):
    return np.asarray(ops.convert_to_numpy(x), "float64")


# The empirical field --------------------------------------------------------------------

@pytest.mark.parametrize("num_dims", [1, 2, 5])
def test_estimated_field_of_a_point_cloud_is_the_coulomb_sum(num_dims, rng):
    charges = np.concatenate([rng.normal(size=(40, num_dims)), np.zeros((40, 1))], -1)
    points = np.concatenate([rng.normal(size=(16, num_dims)), rng.uniform(0.05, 3.0, size=(16, 1))], -1)
    difference = points[:, None] - charges[None]  # (16, 40, N+1), in float64
    distance = np.linalg.norm(difference, axis=-1, keepdims=True)
    area = 2 * math.pi ** ((num_dims + 1) / 2) / math.gamma((num_dims + 1) / 2)  # of the unit N-sphere
    exact = (difference / distance ** (num_dims + 1)).mean(1) / area
    estimate = numpy(poisson.coulomb_field(points.astype("float32"), charges.astype("float32")))
    np.testing.assert_allclose(estimate, exact, rtol=2e-3, atol=1e-6)
    # The normalized target points the same way, with norm sqrt(N) |F| / (|F| + gamma) < sqrt(N).
    target = numpy(poisson.normalized_field(points.astype("float32"), charges.astype("float32"), gamma=5.0))
    cosine = (target * -exact).sum(-1) / np.linalg.norm(target, axis=-1) / np.linalg.norm(exact, axis=-1)
    assert cosine.min() > 0.9999 and np.linalg.norm(target, axis=-1).max() < math.sqrt(num_dims)


def test_field_direction_is_finite_in_image_dimensions(rng):
    # N = 3072: ||x - y||^-(N+1) under- and overflows any float; the softmax form must not.
    charges = np.concatenate([rng.uniform(-1, 1, size=(64, 3072)), np.zeros((64, 1))], -1)
    points = charges[:4] + np.concatenate([0.05 * rng.normal(size=(4, 3072)), np.full((4, 1), 0.1)], -1)
    direction = numpy(poisson.field_direction(points.astype("float32"), charges.astype("float32")))
    log_distance = np.log(np.linalg.norm(points[:, None] - charges[None], axis=-1))
    logits = -3073 * log_distance
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    exact = (weights / weights.sum(-1, keepdims=True)) @ charges - points
    assert np.all(np.isfinite(direction))
    np.testing.assert_allclose(direction, exact, atol=1e-3)


# Kernels and priors ---------------------------------------------------------------------

def _radial_beta(x, scale):
    """R^2 / (R^2 + scale^2) per example."""
    radius2 = (x.reshape(len(x), -1) ** 2).sum(-1)
    return radius2 / (radius2 + scale**2)


@pytest.mark.parametrize("num_dims, dof", [(2, 1), (2, 4), (16, 8), (64, 2048), (8, 50_000)])
def test_kernel_radius_has_the_analytic_distribution(num_dims, dof):
    # PFGM++ (Xu et al. 2023, app. B): at r = sigma sqrt(D), R^2 / (R^2 + r^2) ~ Beta(N/2, D/2).
    # dof 50,000 takes the Wilson-Hilferty branch. p-values over seeds 0-4 on JAX: all > 0.05.
    keras.utils.set_random_seed(0)
    seed = keras.random.SeedGenerator(3)
    noise = keras.random.normal((4000, num_dims), seed=seed)
    draws = numpy(poisson.heavy_tailed(noise, dof, lambda shape: keras.random.normal(shape, seed=seed)))
    p_value = stats.kstest(_radial_beta(draws, math.sqrt(dof)), stats.beta(num_dims / 2, dof / 2).cdf).pvalue
    assert p_value > 1e-3, p_value


@pytest.mark.parametrize("num_dims", [1, 2, 10])
def test_hemisphere_prior_has_the_analytic_radius(num_dims):
    # PFGM app. A.4: on the plane z = z_max, R^2 / z_max^2 ~ Beta'(N/2, 1/2).
    draws = numpy(hemisphere_prior((4000, num_dims), random.key(7), z_max=40.0))
    p_value = stats.kstest(_radial_beta(draws, 40.0), stats.beta(num_dims / 2, 0.5).cdf).pvalue
    assert p_value > 1e-3, p_value


def _radial_mass(log_prob, num_dims):
    """Integral of exp(log_prob) over R^N along a ray: S_{N-1} int R^(N-1) p(R) dR, by the
    trapezoid rule in log R (the densities are radial)."""
    log_r = np.linspace(math.log(1e-8), math.log(1e12), 40_000)
    points = np.zeros((len(log_r), num_dims), "float32")
    points[:, 0] = np.exp(log_r)
    density = np.exp(numpy(log_prob(points)))
    area = 2 * math.pi ** (num_dims / 2) / math.gamma(num_dims / 2)  # of the unit (N-1)-sphere
    return area * np.trapezoid(density * np.exp(log_r) ** num_dims, log_r)


@pytest.mark.parametrize("num_dims", [1, 2, 3, 12])
def test_prior_densities_are_normalized(num_dims):
    assert abs(_radial_mass(lambda x: hemisphere_prior_log_prob(x, 40.0), num_dims) - 1) < 1e-3
    for dof, scale in ((1, 3.0), (4, 80.0), (2048, 0.5)):
        assert abs(_radial_mass(lambda x: poisson.student_t_log_prob(x, dof, scale), num_dims) - 1) < 1e-3
    # PFGM's plane prior is the t density of one degree of freedom at scale z_max.
    x = np.random.default_rng(0).normal(size=(8, num_dims)).astype("float32") * 30
    np.testing.assert_allclose(numpy(hemisphere_prior_log_prob(x, 40.0)),
                               numpy(poisson.student_t_log_prob(x, 1, 40.0)), rtol=1e-5)


# PFGM++ -> EDM as D -> infinity ------------------------------------------------------

@pytest.fixture(scope="module")
def edm_moons():
    return zoo.load("edm-moons")


def _pfgmpp_like(edm, augmented_dims, seed=0):
    model = PFGMPlusPlus.from_config({**edm.get_config(), "augmented_dims": augmented_dims, "seed": seed,
                                      "ema_decay": None})
    model.load_network_weights(edm)
    return model


def test_large_d_training_targets_are_edm_targets(edm_moons, rng):
    data = zoo.datasets.load("moons", num=256)[0]
    edm = EDM.from_config({**edm_moons.get_config(), "seed": 0, "ema_decay": None})
    edm.load_network_weights(edm_moons)
    reference = edm(data, training=False)
    gaps = {}
    for dof in (10**8, 4):
        model = _pfgmpp_like(edm_moons, dof)  # the same seed: the same sigmas and Gaussian draws
        pair = model(data, training=False)
        gaps[dof] = np.abs(numpy(pair["target"]) - numpy(reference["target"])).max()
        if dof > 4:
            np.testing.assert_allclose(numpy(pair["output"]), numpy(reference["output"]), atol=2e-3)
    assert gaps[10**8] < 5e-3 < 0.1 < gaps[4], gaps  # heavy tails at D = 4 change the targets


def test_large_d_samples_are_edm_samples(edm_moons):
    model = _pfgmpp_like(edm_moons, 10**8)
    np.testing.assert_allclose(model.sample(200, seed=3, steps=18), edm_moons.sample(200, seed=3, steps=18),
                               atol=5e-3)
    # The same key: the prior's Gaussian factor is EDM's draw.
    key = random.key(5)
    np.testing.assert_allclose(numpy(model.prior_sample((64, 2), key)), numpy(edm_moons.prior_sample((64, 2), key)),
                               atol=1e-3)
    small = _pfgmpp_like(edm_moons, 4)
    assert np.abs(small.sample(200, seed=3, steps=18) - edm_moons.sample(200, seed=3, steps=18)).max() > 0.05


# Training, checkpoints and bundled toys -------------------------------------------------

@pytest.mark.backends("torch")  # the image path's fit; every backend fits PFGM's MLP below and replays
# the tiny image network in test_golden_outputs_match_on_this_backend
def test_pfgm_fit_save_load(tmp_path, rng):
    model = zoo.create("pfgm_tiny", data_shape=(8, 8, 3), perturbed_batch=2, seed=0)
    data = rng.uniform(-1, 1, size=(6, 8, 8, 3)).astype("float32")
    check_model(model, data, tmp_path, {"noise": rng.normal(size=(2, 8, 8, 3)).astype("float32") * 30,
                                        "steps": 2, "solver": "euler", "raw": True})


def test_pfgmpp_fit_save_load(tmp_path, rng):
    # (Its image path is EDM's, tested with EDM; the golden test runs the tiny U-Net.)
    model = zoo.create("pfgmpp_mlp", augmented_dims=16, seed=0)
    data = zoo.datasets.load("moons", num=64)[0]
    loaded = check_model(model, data, tmp_path, {"noise": rng.normal(size=(8, 2)).astype("float32"), "steps": 3})
    assert isinstance(loaded, PFGMPlusPlus) and loaded.augmented_dims == 16


@pytest.mark.parametrize("name", ["pfgm_mlp", "pfgmpp_mlp"])
def test_training_resumes_where_it_stopped(name, tmp_path):
    batches = ArrayBatches(zoo.datasets.load("moons", num=512)[0], 256, seed=0, steps_per_epoch=2)

    def run(epochs):
        return train(zoo.create(name, seed=0), batches, workdir=str(tmp_path), epochs=epochs,
                     optimizer=keras.optimizers.Adam(1e-3), verbose=0)

    once = run(1)
    resumed = run(3)
    training = zoo.load(tmp_path / "checkpoint").checkpoint_metadata["training"]
    history = training["history"]["loss"]
    assert training["epochs"] == 3 and len(history) == 3
    assert np.all(np.isfinite(history))
    assert not np.allclose(once.network.get_weights()[0], resumed.network.get_weights()[0])


def test_bundled_pfgm_moons_rk45_and_heun_agree_where_the_field_is_learned():
    # Started inside the training heights (z_max 10 instead of 40; radii clipped at 100),
    # Heun in log z converges to the RK45 solution and both land on the moons.
    base = zoo.load("pfgm-moons")
    model = PFGM.from_config({**base.get_config(), "z_max": 10.0, "radius_max": 100.0})
    model.load_network_weights(base)
    noise = model.initial_noise(100, None, 0)
    reference = model.sample(noise=noise, solver="rk45")
    errors = {steps: np.abs(model.sample(noise=noise, solver="heun", steps=steps) - reference).mean()
              for steps in (20, 80)}
    data = zoo.datasets.load("moons", "test", num=1000)[0]
    distance = np.sqrt(((reference[:, None] - data[None]) ** 2).sum(-1)).min(1).mean()
    assert distance < 0.12 and errors[80] < errors[20], (distance, errors)


# Cross-backend golden outputs and bad input -----------------------------------------------

@pytest.mark.parametrize("name", ["pfgm_tiny", "pfgmpp_tiny"])
def test_golden_outputs_match_on_this_backend(name):
    golden = np.load(GOLDEN / f"{name}.npz")
    model = make_golden_pfgm.tiny_model(name)
    model.load_weights(GOLDEN / f"{name}.weights.h5")
    inputs = {key: golden[key] for key in ("noise", "level")}
    for key, value in make_golden_pfgm.outputs(model, inputs).items():
        np.testing.assert_allclose(value, golden[key], rtol=1e-4, atol=1e-3, err_msg=key)


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="augmented_dims"):
        zoo.create("pfgmpp_mlp", augmented_dims=0)
    with pytest.raises(ValueError, match="z_min"):
        zoo.create("pfgm_mlp", z_min=50.0)
    with pytest.raises(ValueError, match="sigma"):
        zoo.create("pfgm_mlp", sigma=-1.0)
    with pytest.raises(ValueError, match="churn"):
        zoo.create("pfgmpp_mlp").sample(2, churn=1.0)
    with pytest.raises(ValueError, match="solver"):
        zoo.create("pfgm_mlp").sample(2, solver="pc")
    assert isinstance(zoo.create("pfgm_mlp"), PFGM)
