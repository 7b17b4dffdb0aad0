"""Oracle tests: for Gaussian data the rectified-flow velocity field, its ODE endpoint and
the density it transports are known in closed form.

Data ~ N(m, s^2) per dimension, noise ~ N(0, 1), x_t = t data + (1 - t) noise. Then
x_t ~ N(t m, sigma_t^2) with sigma_t^2 = t^2 s^2 + (1 - t)^2, the ideal velocity is
E[data - noise | x_t = x] = m + (t s^2 - (1 - t)) / sigma_t^2 (x - t m), and the ODE maps
noise z to t m + sigma_t z, so its endpoint is m + s z.
"""

import math

import numpy as np
import pytest
from keras import ops

from zoo.likelihood import ode_log_likelihood, rademacher_like
from zoo.metrics import frechet_distance, straightness
from zoo.samplers import sample_euler, sample_heun, sample_rk45
from zoo.schedules import uniform_times

M, S = 0.7, 0.5


def _bcast(t, x):
    return ops.reshape(t, (-1,) + (1,) * (len(x.shape) - 1))


def velocity(x, t):
    t = _bcast(t, x)
    var = t**2 * S**2 + (1 - t) ** 2
    return M + (t * S**2 - (1 - t)) / var * (x - t * M)


def _noise():
    return np.linspace(-2.0, 2.0, 8, dtype="float32").reshape(4, 2)


def _error(x):
    return float(np.abs(ops.convert_to_numpy(x) - (M + S * _noise())).max())


def test_euler_is_first_order():
    errors = [_error(sample_euler(velocity, _noise(), uniform_times(n))) for n in (20, 40, 80)]
    ratios = [errors[0] / errors[1], errors[1] / errors[2]]
    assert all(1.8 < r < 2.2 for r in ratios), (errors, ratios)


def test_heun_is_second_order():
    errors = [_error(sample_heun(velocity, _noise(), uniform_times(n))) for n in (20, 40, 80)]
    ratios = [errors[0] / errors[1], errors[1] / errors[2]]
    assert errors[-1] < 1e-4 and all(3.3 < r < 4.5 for r in ratios), (errors, ratios)


@pytest.mark.parametrize("tol", [1e-4, 1e-6])
def test_rk45_meets_its_tolerance(tol):
    x, nfe = sample_rk45(velocity, _noise(), 0.0, 1.0, rtol=tol, atol=tol)
    # Local error control keeps the global error within a small multiple of the tolerance.
    assert _error(x) < 10 * tol, _error(x)
    assert 7 <= int(ops.convert_to_numpy(nfe)) < 600


def test_rk45_tighter_tolerance_costs_more_and_is_closer():
    loose, nfe_loose = sample_rk45(velocity, _noise(), rtol=1e-3, atol=1e-3)
    tight, nfe_tight = sample_rk45(velocity, _noise(), rtol=1e-7, atol=1e-7)
    assert int(nfe_tight) > int(nfe_loose)
    assert _error(tight) < _error(loose)


def test_the_flow_as_a_denoiser_is_the_posterior_mean():
    # x_t / t = data + sigma noise, sigma = (1 - t) / t: E[data | x_t] = M + S^2 / (S^2 + sigma^2) (x_t / t - M).
    from zoo.samplers.diffusion import flow_denoiser

    x_t = np.linspace(-3.0, 3.0, 8, dtype="float32").reshape(4, 2)
    sigma = np.array([40.0, 3.0, 0.5, 0.01], "float32")
    t = 1 / (1 + sigma[:, None])
    expected = M + S**2 / (S**2 + sigma[:, None] ** 2) * (x_t / t - M)
    np.testing.assert_allclose(ops.convert_to_numpy(flow_denoiser(velocity)(x_t, sigma)), expected, rtol=1e-5,
                               atol=1e-5)


def test_dpmpp_2m_on_the_flow_is_second_order():
    # Once its steps resolve the posterior's sharp change near sigma ~ S (with few steps this
    # 1-D Gaussian makes the extrapolation overshoot) the error falls ~4x per doubling.
    from zoo.models.rectified_flow import SOLVERS

    run = SOLVERS["dpmpp-2m"][0]
    errors = [_error(run(velocity, _noise(), n, 0.0, 1.0)) for n in (40, 80, 160)]
    ratios = [errors[0] / errors[1], errors[1] / errors[2]]
    assert errors[-1] < 1e-3 and all(3.3 < r < 5 for r in ratios), (errors, ratios)
    euler = _error(sample_euler(velocity, _noise(), uniform_times(40)))
    assert errors[0] < euler / 3, (errors, euler)
    one_step = run(velocity, _noise(), 1, 0.0, 1.0)  # one step is Euler's
    np.testing.assert_allclose(ops.convert_to_numpy(one_step),
                               ops.convert_to_numpy(sample_euler(velocity, _noise(), uniform_times(1))), atol=1e-6)


def test_solvers_run_backwards_to_the_noise():
    data = M + S * _noise()
    for x in (sample_heun(velocity, data, uniform_times(200, 1.0, 0.0)),
              sample_rk45(velocity, data, 1.0, 0.0, rtol=1e-6, atol=1e-6)[0]):
        np.testing.assert_allclose(ops.convert_to_numpy(x), _noise(), atol=1e-4)


def _gaussian_log_density(x):
    return np.sum(-0.5 * ((x - M) / S) ** 2 - math.log(S) - 0.5 * math.log(2 * math.pi), axis=-1)


def test_ode_likelihood_matches_the_analytic_density():
    x = np.array([[0.7, 0.2], [1.5, -0.3], [0.0, 1.0]], "float32")
    log_p, _ = ode_log_likelihood(velocity, x, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(log_p), _gaussian_log_density(x), atol=1e-3)


def test_hutchinson_likelihood_is_unbiased():
    # Gaussian probes: per-probe estimates scatter, their mean matches the exact value.
    x = np.tile(np.array([[0.3, 1.1]], "float32"), (256, 1))
    probes = rademacher_like(x, seed=0)
    log_p, _ = ode_log_likelihood(velocity, x, probes=probes, rtol=1e-5, atol=1e-5)
    log_p = ops.convert_to_numpy(log_p)
    assert abs(log_p.mean() - _gaussian_log_density(x[:1])[0]) < 0.05


def test_straightness_of_the_gaussian_flow():
    # Along x_t = t m + sigma_t z: S = int sigma_t'^2 dt - (s - 1)^2 (per dim, E z^2 = 1).
    t = np.linspace(0, 1, 200_001)
    sigma = np.sqrt(t**2 * S**2 + (1 - t) ** 2)
    expected = np.trapezoid(np.gradient(sigma, t) ** 2, t) - (S - 1) ** 2
    z = np.random.default_rng(0).normal(size=(4000, 1)).astype("float32")
    measured = float(np.mean(ops.convert_to_numpy(straightness(velocity, z, 200))))
    assert expected > 0.05 and abs(measured - expected) < 0.05 * expected, (measured, expected)
    constant = float(np.mean(ops.convert_to_numpy(straightness(lambda x, t: ops.ones_like(x), z, 10))))
    assert abs(constant) < 1e-6


def test_frechet_distance_between_gaussians():
    # For N(mu1, I) and N(mu2, 4 I) in d dims: |mu1 - mu2|^2 + d (1 + 4 - 2 * 2).
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200_000, 3))
    b = 2.0 * rng.normal(size=(200_000, 3)) + 1.0
    assert abs(frechet_distance(a, b) - (3 + 3)) < 0.05
    assert abs(frechet_distance(a, a)) < 1e-6
    with pytest.raises(ValueError, match="same d"):
        frechet_distance(a, b[:, :2])


def test_uniform_times_rejects_bad_steps():
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="steps"):
            uniform_times(bad)


def test_rk45_step_budget_is_reported():
    from zoo.samplers.ode import check_rk45_finished

    # A stiff field with a tolerance it cannot meet in 3 steps.
    _, nfe = sample_rk45(lambda x, t: -50.0 * x, _noise(), rtol=1e-9, atol=1e-9, max_steps=3)
    with pytest.raises(RuntimeError, match="maximum of 3 steps"):
        check_rk45_finished(ops.convert_to_numpy(nfe), max_steps=3)
    assert check_rk45_finished(7) == 7
