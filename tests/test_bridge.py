"""Diffusion bridges (DDBM, DBIM) against closed forms.

With a Gaussian pairing, target | source ~ N(mu(source), S^2) per dimension, the bridge's
marginal given the source is N(a_t y + b_t mu, c_t^2 + b_t^2 S^2), the ideal denoiser is
D(x, t) = mu + b_t S^2 / (b_t^2 S^2 + c_t^2) (x - a_t y - b_t mu), and the probability-flow
ODE keeps w = (x - a_t y - b_t mu) / sqrt(c_t^2 + b_t^2 S^2) constant: its endpoint from
any state is known exactly. The samplers are checked against that endpoint (and their
order of convergence), against the target distribution, and the model end to end
(fit / save / load, golden outputs on every backend, the bundled toy checkpoint).
"""

import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from harness import check_model
from keras import ops

import zoo
from zoo import random, schedules
from zoo.models import DDBM
from zoo.objectives.bridge import bridge_preconditioning
from zoo.samplers import bridge as samplers
from zoo.training import ArrayBatches, train

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import make_golden_bridge  # noqa: E402

GOLDEN = Path(__file__).parent / "golden"
S, SHIFT = 0.4, 0.3


def _mu(source):
    return 0.5 * source + SHIFT


def oracle(kind, source):
    """The ideal denoiser of the Gaussian pairing (in backend ops)."""
    source = ops.convert_to_tensor(source, "float32")

    def denoise(x, t):
        a, b, c = schedules.bridge_coefficients(kind, ops.reshape(ops.convert_to_tensor(t), (-1, 1)))
        mu = _mu(source)
        return mu + b * S**2 / (b**2 * S**2 + c**2 + 1e-30) * (x - a * source - b * mu)
    return denoise


def exact_endpoint(kind, x, t_start, t_end, source):
    a1, b1, c1 = schedules.bridge_coefficients(kind, t_start)
    a2, b2, c2 = schedules.bridge_coefficients(kind, t_end)
    w = (x - a1 * source - b1 * _mu(source)) / np.sqrt(c1**2 + b1**2 * S**2)
    return a2 * source + b2 * _mu(source) + np.sqrt(c2**2 + b2**2 * S**2) * w


SOURCE = np.linspace(-1, 1, 8, dtype="float32").reshape(4, 2)


def _start(kind, t):
    """Points of the exact bridge marginal at t (fixed standard scores)."""
    a, b, c = schedules.bridge_coefficients(kind, t)
    z = np.linspace(-2, 2, 8).reshape(4, 2)
    return (a * SOURCE + b * _mu(SOURCE) + np.sqrt(c**2 + b**2 * S**2) * z).astype("float32")


def _dbim_error(kind, ts, order):
    a, b, c = schedules.bridge_coefficients(kind, ts)
    alpha, rho = schedules.bridge_alpha_rho(kind, ts)
    table = samplers.dbim_steps(a, b, c, alpha, rho, 0.0, order)
    x = samplers.sample_dbim(oracle(kind, SOURCE), _start(kind, ts[0]), SOURCE, ts, table)
    return float(np.abs(ops.convert_to_numpy(x) - exact_endpoint(kind, _start(kind, ts[0]), ts[0], ts[-1],
                                                                 SOURCE)).max())


def _lambda_grid(kind, t_start, t_end, steps):
    """Times evenly spaced in lambda = log(b / c), by bisection on the monotone lambda(t)."""
    def lam(t):
        _, b, c = schedules.bridge_coefficients(kind, t)
        return np.log(b / c)
    targets = np.linspace(lam(t_start), lam(t_end), steps + 1)
    low, high = np.full(steps + 1, t_end), np.full(steps + 1, t_start)
    for _ in range(100):
        mid = 0.5 * (low + high)
        above = lam(mid) > targets  # lambda falls with t
        low, high = np.where(above, mid, low), np.where(above, high, mid)
    grid = 0.5 * (low + high)
    grid[0], grid[-1] = t_start, t_end
    return grid


# The bridge's marginals and preconditioning ----------------------------------------------

@pytest.mark.parametrize("kind", schedules.BRIDGES)
def test_bridge_is_pinned_at_both_ends(kind):
    t_max = schedules.bridge_time_max(kind)
    np.testing.assert_allclose(schedules.bridge_coefficients(kind, np.array([t_max])), [[1], [0], [0]], atol=1e-12)
    a, b, c = schedules.bridge_coefficients(kind, np.array([1e-9 * t_max]))
    np.testing.assert_allclose([a[0], b[0]], [0, 1], atol=1e-6)
    assert c[0] < 1e-3
    model = zoo.create("ddbm_mlp", schedule=kind, seed=0)
    target, source = np.ones((3, 2), "float32"), -np.ones((3, 2), "float32")
    at_t = model.bridge_sample(target, source, ops.full((3,), t_max), ops.ones((3, 2)))
    np.testing.assert_allclose(ops.convert_to_numpy(at_t), source, atol=1e-6)  # t = T returns the source


@pytest.mark.parametrize("kind", schedules.BRIDGES)
def test_bridge_marginal_matches_the_forward_process_given_both_ends(kind, rng):
    # Doob's h-transform of x_t = alpha_t (x_0 + rho_t eps): conditioning the Gaussian
    # (x_t, x_T) on x_T gives mean a x_T + b x_0 and variance c^2 (regression formulas).
    t_max = schedules.bridge_time_max(kind)
    t = 0.37 * t_max
    alpha_t, rho_t = schedules.bridge_alpha_rho(kind, t)
    alpha_T, rho_T = schedules.bridge_alpha_rho(kind, t_max)
    cov_tT = alpha_t * alpha_T * rho_t**2  # the noise accumulated by t is shared with T
    var_t, var_T = alpha_t**2 * rho_t**2, alpha_T**2 * rho_T**2
    a, b, c = schedules.bridge_coefficients(kind, t)
    np.testing.assert_allclose(a, cov_tT / var_T, rtol=1e-10)
    np.testing.assert_allclose(b, alpha_t - a * alpha_T, rtol=1e-10)
    np.testing.assert_allclose(c**2, var_t - cov_tT**2 / var_T, rtol=1e-10)


def test_preconditioning_gives_unit_variance_input_and_target(rng):
    # Source and target with stds 0.5 and 0.7 and covariance 0.1: c_in x_t and the
    # network's target (x_0 - c_skip x_t) / c_out have unit variance at every t.
    std_0, std_T, cov = 0.7, 0.5, 0.1
    chol = np.linalg.cholesky([[std_0**2, cov], [cov, std_T**2]])
    pairs = rng.normal(size=(400_000, 2)) @ chol.T
    for t in (0.01, 0.3, 0.8, 1.0):
        a, b, c = schedules.bridge_coefficients("vp", np.float64(t))
        x_t = a * pairs[:, 1] + b * pairs[:, 0] + c * rng.normal(size=len(pairs))
        c_skip, c_out, c_in = (float(v) for v in bridge_preconditioning(a, b, c, std_0, std_T, cov))
        assert abs(np.std(c_in * x_t) - 1) < 0.01
        assert abs(np.std((pairs[:, 0] - c_skip * x_t) / c_out) - 1) < 0.01


# Samplers against the exact endpoint ----------------------------------------------------

def test_dbim_deterministic_converges_at_its_order():
    # The model's VP grid (uniform in t) for order 1; evenly spaced lambda for the
    # multistep orders, whose startup steps are of lower order.
    t_max = schedules.bridge_time_max("vp")
    first = [_dbim_error("vp", np.linspace(0.9 * t_max, 1e-4, n + 1), 1) for n in (10, 20, 40)]
    assert all(1.8 < first[i] / first[i + 1] < 2.2 for i in range(2)), first
    second = [_dbim_error("vp", _lambda_grid("vp", 0.9, 0.01, n), 2) for n in (10, 20, 40)]
    assert second[1] / second[2] > 3.5 and second[2] < 1e-3, second
    third = [_dbim_error("ve", _lambda_grid("ve", 72.0, 0.8, n), 3) for n in (10, 20, 40)]
    assert third[1] / third[2] > 3.5 and third[2] < 5e-3, third
    assert _dbim_error("vp", _lambda_grid("vp", 0.9, 0.01, 20), 3) < second[1] < first[1] / 5
    # The VE model's grid (rho = 7 in t, the noise level): uniform steps in t would stall.
    ve_grid = zoo.create("ddbm_mlp", schedule="ve", seed=0).time_grid
    ve = [_dbim_error("ve", ve_grid("dbim", n), 1) for n in (10, 20, 40)]
    assert all(1.7 < ve[i] / ve[i + 1] < 2.3 for i in range(2)), ve


@pytest.mark.parametrize("kind", schedules.BRIDGES)
def test_ddbm_probability_flow_heun_lands_on_the_exact_endpoint(kind):
    # DDBM's ODE drift f x - g^2 (s / 2 - h) is the same ODE as DBIM's eta = 0 limit: the
    # Heun sampler on a Karras grid to t = 0 converges on the closed-form endpoint (the
    # last step, Euler from t_min to 0, stays small).
    t_max = schedules.bridge_time_max(kind)
    t_start = 0.9 * t_max
    model = zoo.create("ddbm_mlp", schedule=kind, seed=0)

    def error(steps):
        ts = np.asarray(schedules.karras_sigmas(steps, 1e-5 * t_max, t_start, 7.0), "float64")
        table = model.tables(np.concatenate([ts, ts[:-1]]))
        x = samplers.sample_ddbm(oracle(kind, SOURCE), _start(kind, t_start), SOURCE, ts, table, 0.0)
        return float(np.abs(ops.convert_to_numpy(x) - exact_endpoint(kind, _start(kind, t_start), t_start, 0.0,
                                                                      SOURCE)).max())

    errors = [error(n) for n in (20, 40, 80)]
    assert errors[1] / errors[2] > 2.5 and errors[2] < 0.02, errors


@pytest.mark.parametrize("solver, options", [("dbim", {"eta": 1.0}), ("dbim", {"eta": 0.0}),
                                             ("ddbm", {"churn": 0.33})])
def test_samplers_draw_the_target_distribution_with_the_ideal_denoiser(solver, options):
    # From the source alone (DBIM boots with fresh noise; DDBM starts at x = source),
    # the translations of one source follow N(mu(source), S^2). (These first-order
    # samplers under-disperse at few steps: DBIM's std is 0.33 at 10 steps, 0.39 at 160.)
    num, source_value = 4000, 0.6
    model = zoo.create("ddbm_mlp", seed=0)
    source = np.full((num, 2), source_value, "float32")
    kind = model.schedule
    ts = model.time_grid(solver, 160)
    key = random.key(3)
    if solver == "dbim":
        a, b, c = model.coefficients(ts)
        alpha, rho = schedules.bridge_alpha_rho(kind, ts)
        table = samplers.dbim_steps(a, b, c, alpha, rho, options["eta"])
        start = samplers.bridge_boot(oracle(kind, source), source, model.t_max,
                                     [v[0] for v in model.coefficients(ts[:1])], key)
        x = samplers.sample_dbim(oracle(kind, source), start, source, ts, table, key)
    else:
        hats = ts[:-1] + options["churn"] * (ts[1:] - ts[:-1])
        table = model.tables(np.concatenate([ts, hats]))
        x = samplers.sample_ddbm(oracle(kind, source), source, source, ts, table, options["churn"], key)
    x = ops.convert_to_numpy(x)
    mean, std = x.mean(0), x.std(0)
    np.testing.assert_allclose(mean, _mu(source_value), atol=0.03)
    np.testing.assert_allclose(std, S, rtol=0.04)


def test_dbim_tables_reject_bad_settings():
    a, b, c = schedules.bridge_coefficients("vp", np.linspace(0.99, 0.01, 4))
    alpha, rho = schedules.bridge_alpha_rho("vp", np.linspace(0.99, 0.01, 4))
    with pytest.raises(ValueError, match="order"):
        samplers.dbim_steps(a, b, c, alpha, rho, 0.0, order=4)
    with pytest.raises(ValueError, match="deterministic"):
        samplers.dbim_steps(a, b, c, alpha, rho, 0.5, order=2)
    with pytest.raises(ValueError, match="descend"):
        samplers.check_bridge_grid([0.1, 0.5])


# The model ------------------------------------------------------------------------------

def test_fit_save_load_samples_equal(tmp_path, rng):
    model = zoo.create("ddbm_mlp", seed=0)
    sources, targets = zoo.datasets.load_pairs("moons_rotated", num=64)
    source_points = rng.normal(size=(8, 2)).astype("float32")
    loaded = check_model(model, {"source": sources, "target": targets}, tmp_path,
                         {"source": source_points, "steps": 3, "seed": 1})
    assert isinstance(loaded, DDBM) and loaded.sigma_data == 2.0
    for solver, options in (("dbim", {"eta": 1.0}), ("dbim-3", {}), ("ddbm", {})):
        first = loaded.sample(source=source_points, steps=4, solver=solver, seed=2, **options)
        np.testing.assert_array_equal(first, loaded.sample(source=source_points, steps=4, solver=solver, seed=2,
                                                           **options))
        assert np.isfinite(first).all()


@pytest.mark.backends("torch")  # the image path's fit; the tiny U-Net replays on every backend below
def test_image_bridge_fits_and_samples_uint8(tmp_path, rng):
    model = zoo.create("ddbm_tiny", data_shape=(8, 8, 3), seed=0)
    targets, sources = (rng.integers(0, 256, size=(4, 8, 8, 3), dtype=np.uint8) for _ in range(2))
    batch = {"source": zoo.datasets.to_model_space(sources), "target": zoo.datasets.to_model_space(targets)}
    loaded = check_model(model, batch, tmp_path, {"source": sources, "steps": 2, "seed": 0})
    images, nfe = loaded.sample(source=sources, steps=3, solver="ddbm", return_nfe=True)
    assert images.dtype == np.uint8 and images.shape == sources.shape and nfe == 3 + 2 * 3 - 1


def test_golden_outputs_match_on_this_backend():
    golden = np.load(GOLDEN / "ddbm_tiny.npz")
    model = make_golden_bridge.tiny_model()
    model.load_weights(GOLDEN / "ddbm_tiny.weights.h5")
    inputs = {key: golden[key] for key in ("x", "t", "source")}
    for key, value in make_golden_bridge.outputs(model, inputs).items():
        np.testing.assert_allclose(value, golden[key], rtol=1e-4, atol=1e-3, err_msg=key)


def test_training_resumes_where_it_stopped(tmp_path):
    sources, targets = zoo.datasets.load_pairs("moons_rotated", num=512)
    batches = ArrayBatches(targets, 256, source=sources, seed=0, steps_per_epoch=2)

    def run(epochs):
        return train(zoo.create("ddbm_mlp", seed=0), batches, workdir=str(tmp_path), epochs=epochs,
                     optimizer=keras.optimizers.Adam(1e-3), verbose=0)

    once = run(1)
    resumed = run(3)
    history = zoo.load(tmp_path / "checkpoint").checkpoint_metadata["training"]["history"]["loss"]
    assert len(history) == 3 and np.all(np.isfinite(history))
    assert not np.allclose(once.network.get_weights()[0], resumed.network.get_weights()[0])


def test_bad_input_is_a_clear_error():
    model = zoo.create("ddbm_mlp", seed=0)
    points = np.zeros((2, 2), "float32")
    with pytest.raises(ValueError, match="source="):
        model.sample(2)
    with pytest.raises(ValueError, match="shape"):
        model.sample(source=np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="disagrees"):
        model.sample(3, source=points)
    with pytest.raises(ValueError, match="eta"):
        model.sample(source=points, solver="ddbm", eta=0.5)
    with pytest.raises(ValueError, match="deterministic"):
        model.sample(source=points, solver="dbim-2", eta=0.5)
    with pytest.raises(ValueError, match="churn"):
        model.sample(source=points, solver="dbim", churn=0.3)
    with pytest.raises(ValueError, match="solver"):
        model.sample(source=points, solver="dbmi")
    with pytest.raises(ValueError, match="pairs"):
        model(points)
    with pytest.raises(ValueError, match="schedule"):
        zoo.create("ddbm_mlp", schedule="subvp")
    with pytest.raises(ValueError, match="uint8"):
        zoo.create("ddbm_tiny", data_shape=(8, 8, 3)).sample(source=np.zeros((1, 8, 8, 3), "float32"))


# Data -----------------------------------------------------------------------------------

def test_edge_map_marks_the_border_of_a_square():
    image = np.zeros((1, 12, 12, 3), np.uint8)
    image[:, 4:8, 4:8] = 255
    edges = zoo.datasets.edge_map(image)
    assert edges.shape == image.shape and edges.dtype == np.uint8
    assert (edges[..., 0] == edges[..., 2]).all()
    dark = edges[0, :, :, 0] == 0
    assert dark[3:9, 3:9].sum() == dark.sum() > 0  # only around the square's border
    assert not dark[5:7, 5:7].any() and not dark[:2].any()  # not inside it, not far away


def test_paired_sets_and_paired_batches(rng):
    sources, targets = zoo.datasets.load_pairs("moons_rotated", "test", num=500)
    rotated = np.stack([-sources[:, 1], sources[:, 0]], 1)
    offsets = targets - rotated
    assert (np.abs(np.abs(offsets[:, 0]) - 2) < 0.5).mean() > 0.99 and 0.4 < (offsets[:, 0] > 0).mean() < 0.6
    with pytest.raises(ValueError, match="cifar10_edges"):
        zoo.datasets.load_pairs("cifar10_edge")
    images = rng.integers(0, 256, size=(8, 4, 4, 3), dtype=np.uint8)
    batch = ArrayBatches(images, 8, source=images.copy(), flip=True, seed=0)[0][0]
    np.testing.assert_array_equal(batch["source"], batch["target"])  # flipped alike
    with pytest.raises(ValueError, match="source"):
        ArrayBatches(images, 8, source=images[:4])


def test_bundled_toy_translates_to_both_modes():
    # 2,000 test sources: an untrained or mode-collapsed bridge cannot put > 90% of its
    # translations near a mode with both sides used.
    model = zoo.load("ddbm-moons-rotated")
    sources, _ = zoo.datasets.load_pairs("moons_rotated", "test", num=2000)
    rotated = np.stack([-sources[:, 1], sources[:, 0]], 1)
    x = model.sample(source=sources, steps=10, seed=0)
    distance = np.stack([np.linalg.norm(x - rotated - [side, 0], axis=1) for side in (-2, 2)], 1)
    assert (distance.min(1) < 0.3).mean() > 0.9
    assert 0.35 < distance.argmin(1).mean() < 0.65


# zoo eval ------------------------------------------------------------------------------------

@pytest.mark.backends("torch")  # NumPy metrics over a model's samples; the samplers run on every backend above
def test_eval_scores_translations_against_their_floors():
    from zoo.evaluation import evaluate

    trained = zoo.load("ddbm-moons-rotated")
    untrained = zoo.create("ddbm_mlp", seed=0)
    untrained.checkpoint_metadata = {"dataset": "moons_rotated"}
    scores = {}
    for name, model in (("trained", trained), ("untrained", untrained)):
        _, results = evaluate(model, samplers=["dbim-2:5"], num=500, test_points=500)
        scores[name] = {r.name: r.value for r in results}
    # Unbiased estimates: ~0 for a perfect model (+- ~0.01 at 500 points), ~0.4 untrained.
    floor = scores["trained"]["joint energy distance floor (train 500)"]
    assert abs(floor) < 0.03 and scores["trained"]["joint energy distance"] < 0.03
    assert scores["untrained"]["joint energy distance"] > 0.2

    images = zoo.create("ddbm_tiny", data_shape=(32, 32, 3), seed=0, ema_decay=None)
    images.checkpoint_metadata = {"dataset": "cifar10_edges"}
    _, results = evaluate(images, samplers=["dbim:2"], num=20, reference_images=200)
    values = {r.name: r.value for r in results}
    assert set(values) == {"PSNR to the target (dB)", "FD-classifier floor (train 20)", "FD-classifier",
                           "class kept ceiling (20 targets)", "class kept"}
    assert values["class kept ceiling (20 targets)"] > 0.5 and 0 < values["PSNR to the target (dB)"] < 30
