"""Noise schedules against their closed forms."""

import math

import numpy as np
import pytest

from zoo import schedules


def test_ddpm_linear_betas_and_alpha_bar():
    betas = schedules.ddpm_linear_betas(1000)
    assert betas[0] == pytest.approx(1e-4) and betas[-1] == pytest.approx(0.02) and len(betas) == 1000
    alpha_bar = schedules.alpha_bars(betas)
    # log alpha_bar_N = sum log(1 - beta_n) ~ -(sum beta) = -10.05 (plus the beta^2 / 2 terms).
    assert alpha_bar[-1] == pytest.approx(np.prod(1 - betas)) and 3.9e-5 < alpha_bar[-1] < 4.1e-5
    # A shorter chain covers the same range.
    assert 1e-5 < schedules.alpha_bars(schedules.ddpm_linear_betas(100))[-1] < 1e-4


def test_ddpm_cosine_alpha_bar_is_the_squared_cosine():
    alpha_bar = schedules.alpha_bars(schedules.ddpm_cosine_betas(1000))
    t = np.arange(1, 1001) / 1000
    f = np.cos((t + 0.008) / 1.008 * np.pi / 2) ** 2 / np.cos(0.008 / 1.008 * np.pi / 2) ** 2
    np.testing.assert_allclose(alpha_bar[:900], f[:900], rtol=1e-9)
    with pytest.raises(ValueError, match="beta_schedule"):
        schedules.ddpm_betas("quadratic")


def test_sde_marginals():
    t = np.array([0.0, 0.25, 1.0])
    log_alpha_bar = -(0.25 * t**2 * 19.9 + 0.5 * t * 0.1) * 2
    mean, std = schedules.sde_marginal("vp", t)
    np.testing.assert_allclose(mean, np.exp(0.5 * log_alpha_bar))
    np.testing.assert_allclose(std, np.sqrt(1 - np.exp(log_alpha_bar)))
    _, std = schedules.sde_marginal("subvp", t)
    np.testing.assert_allclose(std, 1 - np.exp(log_alpha_bar))
    mean, sigma = schedules.sde_marginal("ve", t)
    np.testing.assert_allclose(sigma, [0.01, 0.01 * 5000**0.25, 50.0])
    assert schedules.sde_marginal("ve", 0.5)[1] == pytest.approx(math.sqrt(0.01 * 50))
    np.testing.assert_allclose(mean, 1.0)


@pytest.mark.parametrize("kind", schedules.SDES)
def test_drift_and_diffusion_move_the_marginal_variance(kind):
    # d std^2 / dt = 2 f std^2 + g^2 and d log mean / dt = f for a linear SDE.
    t, h = np.linspace(0.05, 0.95, 7), 1e-5
    mean, std = schedules.sde_marginal(kind, t)
    f, g = schedules.sde_drift_diffusion(kind, t)
    d_var = (schedules.sde_marginal(kind, t + h)[1] ** 2 - schedules.sde_marginal(kind, t - h)[1] ** 2) / (2 * h)
    d_log_mean = (np.log(schedules.sde_marginal(kind, t + h)[0]) - np.log(schedules.sde_marginal(kind, t - h)[0])) / (2 * h)
    np.testing.assert_allclose(d_var, 2 * f * std**2 + g**2, rtol=1e-5)
    np.testing.assert_allclose(d_log_mean, f, atol=1e-5)


@pytest.mark.parametrize("kind", schedules.SDES)
def test_sigma_to_time_inverts_sigma(kind):
    t = np.linspace(1e-3, 1.0, 11)
    np.testing.assert_allclose(schedules.sde_sigma_to_t(kind, schedules.sde_sigma(kind, t)), t, rtol=1e-6, atol=1e-9)


def test_karras_sigmas():
    sigmas = schedules.karras_sigmas(18)
    assert len(sigmas) == 19 and sigmas[-1] == 0.0
    assert sigmas[0] == pytest.approx(80.0) and sigmas[-2] == pytest.approx(0.002)
    # Evenly spaced in sigma^(1/rho).
    np.testing.assert_allclose(np.diff(sigmas[:-1].astype("float64") ** (1 / 7)),
                               (0.002 ** (1 / 7) - 80 ** (1 / 7)) / 17, rtol=1e-4)
    np.testing.assert_allclose(schedules.karras_sigmas(5, 1.0, 5.0, rho=1.0), [5, 4, 3, 2, 1, 0])
    np.testing.assert_allclose(schedules.karras_sigmas(1), [80.0, 0.0])
    with pytest.raises(ValueError, match="steps"):
        schedules.karras_sigmas(0)


def test_vp_time_and_edm_sigma_conversions():
    alpha_bar = np.array([0.9999, 0.5, 4e-5])
    sigma = schedules.alpha_bar_to_sigma(alpha_bar)
    np.testing.assert_allclose(sigma[1], 1.0)
    np.testing.assert_allclose(schedules.sigma_to_alpha_bar(sigma), alpha_bar)
    t = np.array([0.001, 0.5, 1.0])
    np.testing.assert_allclose(schedules.vp_sigma_to_edm_time(schedules.sde_sigma("vp", t)), t, rtol=1e-6)
    # DDPM's discrete chain is the VP SDE sampled at t = n / N (Song et al. 2021, sec. 3.4).
    discrete = schedules.alpha_bars(schedules.ddpm_linear_betas(1000))[[99, 499, 999]]
    continuous = schedules.sde_marginal("vp", np.array([0.1, 0.5, 1.0]))[0] ** 2
    np.testing.assert_allclose(np.log(discrete), np.log(continuous), rtol=0.01)
