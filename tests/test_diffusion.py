"""Diffusion families end to end: training with the stock fit() on a 2-D toy set,
every solver through `sample`, guidance, Analytic-DPM, checkpoints, cross-backend
golden outputs and clear errors for bad input."""

import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from harness import check_model
from keras import ops

import zoo
from zoo.training import ArrayBatches

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import make_golden_diffusion  # noqa: E402

GOLDEN = Path(__file__).parent / "golden"


def nearest_distance(a, b):
    return float(np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)).min(1).mean())


def distance_to_data(samples, data):
    """Both ways, so that collapsing onto a few data points does not score well."""
    return nearest_distance(samples, data) + nearest_distance(data, samples)


@pytest.fixture(scope="module")
def moons():
    return zoo.datasets.load("moons", split="test", num=1000)[0]


@pytest.mark.parametrize("config, solver, steps", [
    ("ddpm_mlp", "ddim", 50), ("score_sde_mlp", "euler-maruyama", 100), ("edm_mlp", "heun", 18)])
def test_a_tiny_model_of_each_family_trains_on_every_backend(config, solver, steps, moons):
    model = zoo.create(config, seed=0, ema_decay=0.95)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    batches = ArrayBatches(zoo.datasets.load("moons", num=4096)[0], 256, seed=0, steps_per_epoch=25)
    history = model.fit(batches, epochs=8, verbose=0).history["loss"]
    assert history[-1] < history[0], history
    untrained = zoo.create(config, seed=0, ema_decay=None)
    trained_distance = distance_to_data(model.sample(500, steps=steps, solver=solver, seed=0), moons)
    untrained_distance = distance_to_data(untrained.sample(500, steps=steps, solver=solver, seed=0), moons)
    assert trained_distance < 0.8 * untrained_distance and trained_distance < 0.6, (
        trained_distance, untrained_distance)


@pytest.fixture(scope="module")
def short_ddpm():
    """A 50-step DDPM (untrained MLP): every solver runs, cheaply."""
    return zoo.create("ddpm_mlp", num_steps=50, seed=0, ema_decay=None)


@pytest.mark.parametrize("solver, nfe", [("ddpm", 5), ("ddim", 5), ("euler", 5), ("heun", 9),
                                         ("euler-maruyama", 5), ("pc", 9), ("dpmpp-2m", 5)])
def test_every_solver_samples_and_reports_nfe(short_ddpm, solver, nfe):
    samples, used = short_ddpm.sample(16, steps=5, solver=solver, seed=1, return_nfe=True)
    assert samples.shape == (16, 2) and np.all(np.isfinite(samples)) and used == nfe


def test_seeds_and_deterministic_solvers(short_ddpm):
    a = short_ddpm.sample(8, steps=4, solver="ddpm", seed=3)
    np.testing.assert_array_equal(a, short_ddpm.sample(8, steps=4, solver="ddpm", seed=3))
    assert not np.allclose(a, short_ddpm.sample(8, steps=4, solver="ddpm", seed=4))
    noise = np.random.default_rng(0).normal(size=(8, 2)).astype("float32")
    x = short_ddpm.sample(noise=noise, steps=4, solver="ddim")
    np.testing.assert_allclose(x, short_ddpm.sample(noise=noise, steps=4, solver="ddim", batch_size=3), rtol=1e-5, atol=1e-5)


def test_analytic_dpm_needs_and_uses_gammas(short_ddpm, moons):
    with pytest.raises(ValueError, match="estimate_gammas"):
        short_ddpm.sample(4, steps=5, solver="analytic-ddim")
    model = short_ddpm.copy()
    gammas = model.estimate_gammas(moons[:256], seed=0)
    assert gammas.shape == (50,) and np.all(gammas > 0)
    for solver in ("analytic-ddim", "analytic-ddpm"):
        assert np.all(np.isfinite(model.sample(16, steps=5, solver=solver, seed=0)))
    bound = model.nll(moons[:16], variance="analytic")
    assert bound.shape == (16,) and np.all(np.isfinite(bound))
    # Several variances from one pass give each single-variance bound (same noise draws).
    bounds = model.nll(moons[:16], variance=("beta_tilde", "analytic", "beta"), decoder="gaussian")
    assert list(bounds) == ["beta_tilde", "analytic", "beta"]
    for name, values in bounds.items():
        np.testing.assert_allclose(values, model.nll(moons[:16], variance=name, decoder="gaussian"),
                                   rtol=1e-4, atol=1e-3)
    assert not np.allclose(bounds["beta"], bounds["beta_tilde"], atol=1e-2)


def test_classifier_free_guidance():
    model = zoo.create("edm_mlp", network=("mlp", dict(hidden=32, depth=2, embedding_dim=16, num_classes=3)),
                       label_dropout=0.2, seed=0, ema_decay=None)
    model.compile(optimizer="adam")
    data = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    model.fit({"data": data, "labels": np.arange(64) % 3}, batch_size=32, epochs=1, verbose=0)
    x, sigma, labels = data[:4], np.full((4,), 2.0, "float32"), np.array([0, 1, 2, 0], "int32")
    conditional = ops.convert_to_numpy(model.denoise(x, sigma, labels))
    unconditional = ops.convert_to_numpy(model.denoise(x, sigma))
    guided = ops.convert_to_numpy(model.denoise(x, sigma, labels, guidance=3.0))
    np.testing.assert_allclose(guided, unconditional + 3.0 * (conditional - unconditional), atol=1e-5)
    samples = model.sample(4, steps=3, labels=labels, guidance=2.0, seed=0)
    assert samples.shape == (4, 2) and np.all(np.isfinite(samples))


def test_check_model_harness(tmp_path, rng):
    model = zoo.create("ddpm_tiny", data_shape=(8, 8, 3), seed=0)
    data = rng.uniform(-1, 1, size=(4, 8, 8, 3)).astype("float32")
    check_model(model, data, tmp_path, {"noise": rng.normal(size=(2, 8, 8, 3)).astype("float32"),
                                        "steps": 2, "solver": "ddim"})


def test_ddpm_clips_the_data_estimate_on_images_by_default(rng):
    # A fresh U-Net predicts eps = 0, so D(x) = x: unclipped, the last DDIM step returns
    # the (large) noisy state; clipped, every estimate and so the sample lies in [-1, 1].
    noise = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    ddpm = zoo.create("ddpm_tiny", data_shape=(8, 8, 3), num_steps=20, seed=0, ema_decay=None)
    clipped = ddpm.sample(noise=noise, steps=2, solver="ddim", raw=True)
    unclipped = ddpm.sample(noise=noise, steps=2, solver="ddim", raw=True, clip_denoised=False)
    assert np.abs(clipped).max() <= 1.0 < np.abs(unclipped).max()
    np.testing.assert_array_equal(clipped, np.clip(unclipped, -1, 1))  # D = x: one clip at the end
    edm = zoo.create("edm_tiny", data_shape=(8, 8, 3), seed=0, ema_decay=None)
    assert not edm.clip_denoised_default
    with pytest.raises(ValueError, match="not images"):
        zoo.create("ddpm_mlp", num_steps=20, seed=0).sample(2, steps=2, clip_denoised=True)


def test_ddpm_bits_per_dim_is_the_elbo(rng):
    model = zoo.create("ddpm_tiny", data_shape=(8, 8, 3), num_steps=20, seed=0, ema_decay=None)
    images = rng.integers(0, 256, size=(2, 8, 8, 3), dtype=np.uint8)
    bpd = model.bits_per_dim(images)
    assert bpd.shape == (2,) and np.all(bpd > 0) and np.all(np.isfinite(bpd))
    assert "ELBO" in model.likelihood_method


def test_encode_decode_and_log_prob_run(moons):
    model = zoo.create("edm_mlp", seed=0, ema_decay=None)
    noise = model.encode(moons[:8], steps=10)
    back = model.sample(noise=noise, steps=10, solver="ddim")
    assert noise.shape == back.shape == (8, 2) and np.all(np.isfinite(back))
    assert np.all(np.isfinite(model.log_prob(moons[:4])))


@pytest.mark.parametrize("name", sorted(make_golden_diffusion.CASES))
def test_golden_outputs_match_on_this_backend(name):
    golden = np.load(GOLDEN / f"{name}.npz")
    model = make_golden_diffusion.tiny_model(name)
    model.load_weights(GOLDEN / f"{name}.weights.h5")
    sigma = golden["sigma"]
    denoised = ops.convert_to_numpy(model.denoise(golden["noise"] * sigma[:, None, None, None], sigma))
    np.testing.assert_allclose(denoised, golden["denoised"], atol=1e-3, rtol=1e-4)
    solver, steps = make_golden_diffusion.CASES[name]
    samples = model.sample(noise=golden["noise"], steps=steps, solver=solver, raw=True)
    np.testing.assert_allclose(samples, golden["samples"], atol=1e-3, rtol=1e-4)


@pytest.mark.parametrize("kwargs, match", [
    ({"num": 2, "steps": 0}, "`steps`"),
    ({"num": 2, "solver": "dddim"}, "Did you mean 'ddim'"),
    ({"num": 2, "solver": "eular"}, "Did you mean 'euler'"),
    ({"num": 2, "solver": "ddim", "eta": 1.5}, "`eta`"),
    ({"num": 2, "solver": "ddim", "eta": -0.1}, "`eta`"),
    ({"num": 2, "solver": "heun", "eta": 0.5}, "`eta`"),
    ({"num": 2, "solver": "ddpm", "churn": 1.0}, "`churn`"),
    ({"num": 2, "variance": "large"}, "`variance`"),
    ({"num": 2, "steps": 51}, "num_steps"),
    ({"num": 2, "guidance": 2.0}, "`guidance`"),
    ({"num": 2, "labels": np.array([0, 1])}, "unconditional"),
])
def test_bad_sample_arguments(short_ddpm, kwargs, match):
    with pytest.raises(ValueError, match=match):
        short_ddpm.sample(**kwargs)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="parameterization"):
        zoo.create("ddpm_mlp", parameterization="score")
    with pytest.raises(ValueError, match="sde"):
        zoo.create("score_sde_mlp", sde="vpp")
    with pytest.raises(ValueError, match="label_dropout"):
        zoo.create("edm_mlp", label_dropout=1.0)
    with pytest.raises(ValueError, match="beta_schedule"):
        zoo.create("ddpm_mlp", beta_schedule="quadratic")


@pytest.mark.backends("torch")  # its maths is checked on every backend by the Gaussian oracle
def test_dpmpp_2m_is_closer_to_the_ode_endpoint_than_euler_on_a_trained_model():
    """edm-moons: the probability-flow endpoint (Heun 100 steps, ~0.001 from RK45's) against
    fixed-step solvers on the same noise. DPM-Solver++(2M) beats Euler (DDIM) at the same NFE, and from 20 steps on at
    twice the NFE (measured: 0.170 / 0.249 at 10, 0.034 against Euler 40's 0.062)."""
    edm = zoo.load("edm-moons")
    noise = np.random.default_rng(0).normal(size=(256, 2)).astype("float32")
    reference = edm.sample(noise=noise, solver="heun", steps=100, raw=True)

    def error(solver, steps):
        return float(np.abs(edm.sample(noise=noise, solver=solver, steps=steps, raw=True) - reference).mean())

    assert error("dpmpp-2m", 10) < error("euler", 10)
    assert error("dpmpp-2m", 20) < error("euler", 40) / 1.5
