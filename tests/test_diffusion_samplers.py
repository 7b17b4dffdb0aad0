"""Oracle tests of the diffusion samplers: for data ~ N(M, S^2) per dimension the ideal
denoiser is D(x, sigma) = M + S^2 / (S^2 + sigma^2) (x - M), the probability-flow ODE
carries x = M + sqrt(S^2 + sigma^2) z at every sigma, so its endpoint is M + S z, and
the noisy marginal at sigma is N(M, S^2 + sigma^2)."""

import math

import numpy as np
import pytest
from keras import ops

from zoo import schedules
from zoo.backend import compile_function
from zoo.likelihood import ode_log_likelihood, standard_normal_log_prob
from zoo.objectives.denoising import discretized_gaussian_log_likelihood, variational_bound
from zoo.samplers import diffusion as samplers

M, S = 0.7, 0.5
SIGMA_MAX = 80.0


def oracle(x, sigma):
    return M + S**2 / (S**2 + ops.reshape(sigma, (-1, 1)) ** 2) * (x - M)


def _z():
    return np.linspace(-2.0, 2.0, 8, dtype="float32").reshape(4, 2)


def _start(z, sigma_max=SIGMA_MAX):
    return M + np.sqrt(S**2 + sigma_max**2) * z


def _error(x):
    return float(np.abs(ops.convert_to_numpy(x) - (M + S * _z())).max())


def _errors(sampler, counts=(20, 40, 80)):
    return [_error(sampler(oracle, _start(_z()), schedules.karras_sigmas(n))) for n in counts]


def test_ddim_is_euler_and_first_order():
    errors = _errors(samplers.sample_ddim)
    ratios = [errors[0] / errors[1], errors[1] / errors[2]]
    assert all(1.7 < r < 2.3 for r in ratios), (errors, ratios)


def test_edm_heun_is_second_order():
    errors = _errors(samplers.sample_edm)
    ratios = [errors[0] / errors[1], errors[1] / errors[2]]
    assert errors[-1] < 3e-3 and all(3.3 < r < 4.8 for r in ratios), (errors, ratios)


def test_dpmpp_2m_is_second_order_at_one_evaluation_per_step():
    calls = []

    def counting(x, sigma):
        calls.append(1)
        return oracle(x, sigma)

    errors = _errors(lambda d, x, grid: samplers.sample_dpmpp_2m(counting, x, grid))
    ratios = [errors[0] / errors[1], errors[1] / errors[2]]
    assert all(3.3 < r < 4.8 for r in ratios), (errors, ratios)
    assert len(calls) in (3, 20 + 40 + 80)  # traced once per grid, or called once per step
    ddim = _errors(samplers.sample_ddim)
    assert errors[0] < ddim[0] / 2 and errors[-1] < ddim[-1] / 10, (errors, ddim)  # at the same NFE


def test_dpmpp_2m_steps_are_ddim_at_the_ends_and_extrapolate_between():
    grid = schedules.karras_sigmas(6)
    ratios, coefficients, weights, previous = samplers.dpmpp_2m_steps(grid)
    np.testing.assert_allclose(ratios, grid[1:] / grid[:-1], rtol=1e-6)
    np.testing.assert_allclose(coefficients, 1 - ratios, rtol=1e-6)
    assert weights[0] == weights[-1] == 1 and previous[0] == previous[-1] == 0
    np.testing.assert_allclose(weights + previous, 1.0)  # a linear extrapolation
    # On a grid uniform in log sigma (h_{i-1} = h_i) the extrapolation is 3/2 D_i - 1/2 D_{i-1}.
    _, _, weights, previous = samplers.dpmpp_2m_steps(np.append(np.geomspace(80.0, 0.01, 6), 0.0))
    np.testing.assert_allclose(weights[1:-1], 1.5, rtol=1e-5)
    np.testing.assert_allclose(previous[1:-1], -0.5, rtol=1e-4)
    # From pure noise (alpha = 0): DDIM's step, then one more first-order step.
    t = np.array([0.0, 0.2, 0.5, 0.8, 1.0])
    ratios, coefficients, weights, previous = samplers.dpmpp_2m_steps(1 - t, alphas=t)
    np.testing.assert_allclose(coefficients[0], 0.2) and np.testing.assert_allclose(ratios[0], 0.8)
    assert list(weights[:2]) == [1, 1] and weights[2] > 1 and previous[2] < 0


def test_dpmpp_2m_with_alphas_is_the_same_solver_in_scaled_coordinates():
    # x = alpha (data + s noise) with s = sigma / alpha: the same path, scaled.
    grid = schedules.karras_sigmas(12)
    alphas = 1 / np.sqrt(1 + grid**2)  # a VP schedule
    scaled = samplers.sample_dpmpp_2m(lambda x, s: oracle(x * ops.reshape(ops.sqrt(1 + s**2), (-1, 1)), s),
                                      _start(_z()) * alphas[0], grid * alphas, alphas=alphas)
    plain = samplers.sample_dpmpp_2m(oracle, _start(_z()), grid)
    np.testing.assert_allclose(ops.convert_to_numpy(scaled), ops.convert_to_numpy(plain), rtol=1e-4, atol=1e-4)


def test_ddim_on_a_vp_time_grid_converges_too():
    grid = lambda n: np.append(schedules.sde_sigma("vp", np.linspace(1, 1e-3, n)), 0.0)  # noqa: E731
    sigma_max = float(schedules.sde_sigma("vp", 1.0))
    errors = [float(np.abs(ops.convert_to_numpy(samplers.sample_ddim(oracle, _start(_z(), sigma_max), grid(n)))
                           - (M + S * _z())).max()) for n in (50, 100, 200)]
    assert errors[0] / errors[1] > 1.7 and errors[1] / errors[2] > 1.7, errors


def test_rk45_lands_on_the_endpoint():
    x, nfe = samplers.sample_pf_rk45(oracle, _start(_z()), SIGMA_MAX, 0.002, rtol=1e-6, atol=1e-6)
    assert _error(x) < 1e-4 and 10 < int(ops.convert_to_numpy(nfe)) < 1000


def test_ddim_encode_then_decode_round_trips():
    grid = schedules.karras_sigmas(1000)
    data = M + S * _z()
    noisy = samplers.ddim_encode(oracle, data, grid[:-1][::-1])
    np.testing.assert_allclose(ops.convert_to_numpy(noisy), _start(_z()), rtol=0.02)
    back = samplers.sample_ddim(oracle, noisy, grid)
    np.testing.assert_allclose(ops.convert_to_numpy(back), data, atol=0.01)


def test_ddim_eta_one_is_ddpm_with_the_posterior_variance():
    grid = schedules.karras_sigmas(30)
    for a, b in zip(samplers.ddim_steps(grid, 1.0), samplers.ddpm_steps(grid, "beta_tilde")):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def _ddpm_grid(n=1000):
    sigmas = schedules.alpha_bar_to_sigma(schedules.alpha_bars(schedules.ddpm_linear_betas(n)))
    return np.append(sigmas[::-1], 0.0).astype("float32")


class _NoVariables:
    variables = ()


def _moments(sampler, grid, num=20_000):
    z = np.random.default_rng(0).normal(size=(num, 1)).astype("float32")
    # Compiled as the models compile their samplers: TensorFlow runs a 1,000-step
    # `fori_loop` op by op in eager mode (~40 s a chain), a tf.function in ~1 s.
    run = compile_function(lambda x: sampler(oracle, x, grid), _NoVariables())
    x = ops.convert_to_numpy(run(z * np.sqrt(1 + grid[0] ** 2)))
    return float(x.mean()), float(x.std())


KEY = np.array([7, 0], "int32")


@pytest.mark.parametrize("name, sampler, grid", [
    ("ddpm beta-tilde", lambda d, x, g: samplers.sample_ddpm(d, x, g, "beta_tilde", key=KEY), _ddpm_grid()),
    ("ddpm beta", lambda d, x, g: samplers.sample_ddpm(d, x, g, "beta", key=KEY), _ddpm_grid()),
    ("ddim eta 0.5", lambda d, x, g: samplers.sample_ddim(d, x, g, 0.5, key=KEY), _ddpm_grid()),
    ("edm churn", lambda d, x, g: samplers.sample_edm(d, x, g, churn=40, key=KEY), schedules.karras_sigmas(80)),
    ("euler-maruyama", lambda d, x, g: samplers.sample_euler_maruyama(d, x, g, key=KEY), _ddpm_grid()),
    ("pc", lambda d, x, g: samplers.sample_pc(d, x, g, key=KEY), _ddpm_grid(200)),
])
def test_stochastic_samplers_reproduce_the_data_moments(name, sampler, grid):
    mean, std = _moments(sampler, grid)
    assert abs(mean - M) < 0.02 and abs(std - S) < 0.025, (name, mean, std)


def test_analytic_ddim_is_exact_for_gaussian_data_in_few_steps():
    # For Gaussian data the reverse conditionals are Gaussian, so the optimal mean and
    # variance make even a 10-step chain exact, where DDPM's fixed variance is not.
    grid = _ddpm_grid()[np.r_[np.round(np.linspace(0, 999, 10)).astype(int), 1000]]
    gammas = grid[:-1] ** 2 / (S**2 + grid[:-1] ** 2)  # E|eps_hat|^2 / d under the oracle
    for kind in ("ddim", "ddpm"):
        steps = samplers.analytic_steps(grid, gammas, kind, data_range=None)
        mean, std = _moments(lambda d, x, g: samplers.sample_ancestral(d, x, g, *steps, key=KEY), grid)
        assert abs(mean - M) < 0.02 and abs(std - S) < 0.015, (kind, mean, std)
    _, std = _moments(lambda d, x, g: samplers.sample_ddpm(d, x, g, key=KEY), grid)
    assert abs(std - S) > 0.03, std


def test_analytic_variance_respects_its_bounds():
    grid = _ddpm_grid()[::100]
    grid = np.append(grid[:-1], 0.0) if grid[-1] != 0 else grid
    for gamma in (-1.0, 0.5, 2.0):
        variances, lam2 = samplers.analytic_variances(grid, np.full(len(grid) - 1, gamma), "ddpm", data_range=2.0)
        assert np.all(variances >= lam2 - 1e-12) and np.all(np.isfinite(variances))


def test_analytic_last_noisy_step_is_clipped_to_pixel_levels():
    # Bao et al.'s heuristic: only the last step that adds noise is touched, and its
    # noise's mean absolute value sqrt(2 / pi) * std becomes 2 levels of 2 / 255.
    grid = _ddpm_grid()[np.r_[np.round(np.linspace(0, 999, 10)).astype(int), 1000]]
    gammas = np.full(len(grid) - 1, 0.2)
    down, up = samplers.analytic_steps(grid, gammas, "ddpm", data_range=2.0)
    clipped_down, clipped_up = samplers.analytic_steps(grid, gammas, "ddpm", data_range=2.0, last_noise_levels=2)
    np.testing.assert_array_equal(clipped_down, down)
    np.testing.assert_array_equal(clipped_up[:-2], up[:-2])
    assert clipped_up[-1] == up[-1] == 0
    abar = 1 / (1 + grid[-2] ** 2)  # the step's target level, where the VP std is sqrt(abar) * up
    np.testing.assert_allclose(np.sqrt(2 / np.pi) * np.sqrt(abar) * clipped_up[-2], 2 * 2 / 255, rtol=1e-6)
    assert clipped_up[-2] < up[-2]


def test_probability_flow_likelihood_matches_the_gaussian_density():
    x = np.array([[0.7, 0.2], [1.5, -0.3], [0.0, 1.0]], "float32")
    sigma_min = 0.002

    # The exact noisy marginal as the prior, so that only the ODE is under test (a
    # model's N(0, sigma_max^2) prior is off by O(M z / sigma_max), here ~0.01 nats).
    scale = math.sqrt(S**2 + SIGMA_MAX**2)

    def prior(z):
        return standard_normal_log_prob((z - M) / scale) - 2 * math.log(scale)

    log_p, _ = ode_log_likelihood(samplers.denoiser_velocity(oracle), x, t_data=math.log(sigma_min),
                                  t_noise=math.log(SIGMA_MAX), prior_log_prob=prior, rtol=1e-6, atol=1e-6)
    var = S**2 + sigma_min**2
    expected = np.sum(-0.5 * (x - M) ** 2 / var - 0.5 * math.log(2 * math.pi * var), axis=-1)
    np.testing.assert_allclose(ops.convert_to_numpy(log_p), expected, atol=2e-3)


def _expected_bound(x0, alpha_bars, variances):
    """The ELBO's expectation over the noise in closed form for the oracle denoiser:
    E (x0 - D(x_n))^2 = (1 - k)^2 (x0 - M)^2 + k^2 sigma^2 with k = S^2 / (S^2 + sigma^2)."""
    prev = np.append(1.0, alpha_bars[:-1])
    betas = 1 - alpha_bars / prev
    posterior = betas * (1 - prev) / (1 - alpha_bars)
    coef = np.sqrt(prev) * betas / (1 - alpha_bars)
    sigma2 = (1 - alpha_bars) / alpha_bars
    k = S**2 / (S**2 + sigma2)
    error = (1 - k) ** 2 * (x0 - M) ** 2 + k**2 * sigma2
    with np.errstate(divide="ignore", invalid="ignore"):  # step 1 has no KL term
        kl = 0.5 * (posterior / variances - 1 + np.log(variances / posterior) + coef**2 * error / variances)[1:].sum()
    prior = 0.5 * (alpha_bars[-1] * x0**2 - alpha_bars[-1] - np.log1p(-alpha_bars[-1]))
    decoder = 0.5 * np.log(2 * np.pi * variances[0]) + error[0] / (2 * variances[0])
    return prior + kl + decoder


def test_variational_bound_is_exact_with_the_analytic_variance():
    # Ho et al.'s fixed variances leave a gap (1.2 nats at N = 100); Analytic-DPM's
    # optimal variances make the Gaussian reverse chain exact, so the bound meets the NLL.
    alpha_bars = schedules.alpha_bars(schedules.ddpm_linear_betas(100))
    prev = np.append(1.0, alpha_bars[:-1])
    betas = 1 - alpha_bars / prev
    fixed = np.append(betas[0], (betas * (1 - prev) / (1 - alpha_bars))[1:])
    grid = np.append(schedules.alpha_bar_to_sigma(alpha_bars)[::-1], 0.0)
    gammas = grid[:-1] ** 2 / (S**2 + grid[:-1] ** 2)
    analytic = samplers.analytic_variances(grid, gammas, "ddpm", data_range=None)[0][::-1]
    nll = 0.5 * (1.1 - M) ** 2 / S**2 + 0.5 * math.log(2 * math.pi * S**2)
    assert abs(_expected_bound(1.1, alpha_bars, analytic) - nll) < 1e-3
    assert _expected_bound(1.1, alpha_bars, fixed) > nll + 1.0
    x0 = np.full((4000, 1), 1.1, "float32")
    for variances in (fixed, analytic):
        nats = ops.convert_to_numpy(variational_bound(oracle, x0, alpha_bars, variances, KEY, decoder="gaussian"))
        expected = _expected_bound(1.1, alpha_bars, variances)
        assert abs(nats.mean() - expected) < 4 * nats.std() / math.sqrt(len(nats)) + 2e-3, (nats.mean(), expected)


def test_discretized_decoder_is_a_distribution_over_the_256_levels():
    levels = (np.arange(256, dtype="float32") / 127.5 - 1.0)[:, None]
    for mean, var in ((0.3, 1e-3), (-0.99, 0.02), (1.2, 0.5)):
        log_p = ops.convert_to_numpy(discretized_gaussian_log_likelihood(levels, mean, var))
        assert abs(np.exp(log_p).sum() - 1.0) < 1e-4, (mean, var, np.exp(log_p).sum())


def test_bad_grids_are_refused():
    for grid in ([1.0, 0.5], [0.0, 1.0, 0.0], [1.0, 2.0, 0.0], [1.0]):
        with pytest.raises(ValueError, match="sigmas"):
            samplers.sample_ddim(oracle, _z(), np.asarray(grid, "float32"))
