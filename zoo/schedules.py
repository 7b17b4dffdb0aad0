"""Pure functions for time grids, noise schedules and training-time distributions."""

import keras
import numpy as np
from keras import ops


def check_steps(steps, name="steps"):
    """Validate a step count (an int >= 1) and return it."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"`{name}` must be an integer >= 1. Received: {name}={steps!r}")
    return int(steps)


def uniform_times(steps, t_start=0.0, t_end=1.0):
    """`steps + 1` equally spaced times from `t_start` to `t_end` (either direction)."""
    return np.linspace(t_start, t_end, check_steps(steps) + 1, dtype="float32")


TIME_DISTRIBUTIONS = ("uniform", "logit_normal", "zero")


def sample_training_times(batch, distribution, seed):
    """Draw `(batch,)` training times in [0, 1).

    `uniform` is rectified flow's choice (Liu et al. 2023, arXiv:2209.03003);
    `logit_normal` concentrates on mid times (Esser et al. 2024, arXiv:2403.03206);
    `zero` trains only the first Euler step from noise, which is one-step distillation
    of a straight flow (Liu et al. 2023, sec. 2.3).
    """
    if distribution == "uniform":
        return keras.random.uniform((batch,), seed=seed)
    if distribution == "logit_normal":
        return ops.sigmoid(keras.random.normal((batch,), seed=seed))
    if distribution == "zero":
        return ops.zeros((batch,))
    raise ValueError(f"`time_distribution` must be one of {TIME_DISTRIBUTIONS}. "
                     f"Received: {distribution!r}")


# Diffusion noise schedules ------------------------------------------------------------
#
# Every diffusion family is written in "sigma space" (Karras et al. 2022, eq. 4): a noisy
# example is x = data + sigma * noise, and a process with mean coefficient s(t) and
# std s(t) * sigma(t) (VP: x_vp = sqrt(alpha_bar) data + sqrt(1 - alpha_bar) noise) is
# that same x scaled by s(t). Samplers only see sigma; these helpers give the maps.


def ddpm_linear_betas(num_steps=1000, beta_start=1e-4, beta_end=0.02):
    """DDPM's linear betas (Ho et al. 2020, sec. 4), rescaled to `num_steps` so that
    a shorter chain covers the same noise range as 1000 steps (capped at 0.999)."""
    scale = 1000.0 / check_steps(num_steps, "num_steps")
    return np.minimum(np.linspace(scale * beta_start, scale * beta_end, num_steps, dtype="float64"), 0.999)


def ddpm_cosine_betas(num_steps=1000, offset=0.008, max_beta=0.999):
    """Cosine schedule (Nichol & Dhariwal 2021, eq. 17): alpha_bar(t) = cos^2((t + s) /
    (1 + s) * pi / 2) normalised to 1 at t=0; betas clipped at `max_beta`."""
    t = np.arange(check_steps(num_steps, "num_steps") + 1, dtype="float64") / num_steps
    f = np.cos((t + offset) / (1 + offset) * np.pi / 2) ** 2
    return np.minimum(1.0 - f[1:] / f[:-1], max_beta)


DDPM_SCHEDULES = {"linear": ddpm_linear_betas, "cosine": ddpm_cosine_betas}


def ddpm_betas(kind, num_steps=1000):
    if kind not in DDPM_SCHEDULES:
        raise ValueError(f"`beta_schedule` must be one of {tuple(DDPM_SCHEDULES)}. Received: {kind!r}")
    return DDPM_SCHEDULES[kind](num_steps)


def alpha_bars(betas):
    """alpha_bar_n = prod_{i <= n} (1 - beta_i), n = 1..N (Ho et al. 2020, eq. 4)."""
    return np.cumprod(1.0 - np.asarray(betas, "float64"))


def alpha_bar_to_sigma(alpha_bar):
    """VP time -> EDM noise level: sigma = sqrt((1 - alpha_bar) / alpha_bar)."""
    alpha_bar = np.asarray(alpha_bar, "float64")
    return np.sqrt((1.0 - alpha_bar) / alpha_bar)


def sigma_to_alpha_bar(sigma):
    """EDM noise level -> VP: alpha_bar = 1 / (1 + sigma^2)."""
    return 1.0 / (1.0 + np.asarray(sigma, "float64") ** 2)


SDES = ("vp", "subvp", "ve")


def _vp_log_alpha_bar(t, beta_min, beta_max):
    # log alpha_bar(t) = -int_0^t beta(s) ds with beta(s) = beta_min + s (beta_max - beta_min).
    return -(0.5 * (beta_max - beta_min) * t**2 + beta_min * t)


def sde_marginal(kind, t, beta_min=0.1, beta_max=20.0, sigma_min=0.01, sigma_max=50.0):
    """`(mean_coefficient, std)` of p(x_t | data) = N(mean_coefficient * data, std^2)
    for the VP, sub-VP and VE SDEs (Song et al. 2021, arXiv:2011.13456, eqs. 29-34).
    Works on NumPy arrays and backend tensors."""
    if kind == "ve":
        sigma = sigma_min * (sigma_max / sigma_min) ** t
        return 1.0 + 0.0 * sigma, sigma
    xp = np if isinstance(t, (float, int, np.ndarray)) else ops
    log_alpha_bar = _vp_log_alpha_bar(t, beta_min, beta_max)
    mean = xp.exp(0.5 * log_alpha_bar)
    if kind == "vp":
        return mean, xp.sqrt(1.0 - xp.exp(log_alpha_bar))
    if kind == "subvp":
        return mean, 1.0 - xp.exp(log_alpha_bar)
    raise ValueError(f"`sde` must be one of {SDES}. Received: {kind!r}")


def sde_drift_diffusion(kind, t, beta_min=0.1, beta_max=20.0, sigma_min=0.01, sigma_max=50.0):
    """`(f, g)` of the forward SDE dx = f(t) x dt + g(t) dw (Song et al. 2021, eqs. 11,
    9 and 21): VP f = -beta/2, g = sqrt(beta); sub-VP g = sqrt(beta (1 - exp(-2 int
    beta))); VE f = 0, g = sigma(t) sqrt(2 log(sigma_max / sigma_min)). NumPy in and out."""
    t = np.asarray(t, "float64")
    if kind == "ve":
        sigma = sigma_min * (sigma_max / sigma_min) ** t
        return np.zeros_like(t), sigma * np.sqrt(2 * np.log(sigma_max / sigma_min))
    if kind not in SDES:
        raise ValueError(f"`sde` must be one of {SDES}. Received: {kind!r}")
    beta = beta_min + t * (beta_max - beta_min)
    if kind == "vp":
        return -0.5 * beta, np.sqrt(beta)
    return -0.5 * beta, np.sqrt(beta * (1.0 - np.exp(2 * _vp_log_alpha_bar(t, beta_min, beta_max))))


def sde_sigma(kind, t, **params):
    """EDM noise level of an SDE at time t: sigma(t) = std(t) / mean_coefficient(t)."""
    mean, std = sde_marginal(kind, t, **params)
    return std / mean


def sde_sigma_to_t(kind, sigma, beta_min=0.1, beta_max=20.0, sigma_min=0.01, sigma_max=50.0):
    """Inverse of `sde_sigma` (closed form; tensors or NumPy)."""
    xp = np if isinstance(sigma, (float, int, np.ndarray)) else ops
    if kind == "ve":
        return xp.log(sigma / sigma_min) / np.log(sigma_max / sigma_min)
    if kind == "vp":  # sigma^2 = 1 / alpha_bar - 1
        log_alpha_bar = -xp.log1p(sigma**2)
    elif kind == "subvp":  # sigma = (1 - a) / sqrt(a): sqrt(a) solves u^2 + sigma u - 1 = 0
        root = (xp.sqrt(sigma**2 + 4.0) - sigma) / 2.0
        log_alpha_bar = 2.0 * xp.log(root)
    else:
        raise ValueError(f"`sde` must be one of {SDES}. Received: {kind!r}")
    # Solve 0.5 (beta_max - beta_min) t^2 + beta_min t = -log_alpha_bar for t >= 0.
    slope = beta_max - beta_min
    return (xp.sqrt(beta_min**2 - 2.0 * slope * log_alpha_bar) - beta_min) / slope


def karras_sigmas(steps, sigma_min=0.002, sigma_max=80.0, rho=7.0):
    """Karras et al. 2022 (eq. 5) noise levels: `steps` values from sigma_max down to
    sigma_min, evenly spaced in sigma^(1/rho), then a final 0 (length steps + 1)."""
    steps = check_steps(steps)
    ramp = np.linspace(0.0, 1.0, steps) if steps > 1 else np.zeros(1)
    inv_rho_max, inv_rho_min = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    sigmas = (inv_rho_max + ramp * (inv_rho_min - inv_rho_max)) ** rho
    return np.append(sigmas, 0.0).astype("float32")


def vp_sigma_to_edm_time(sigma, beta_min=0.1, beta_max=20.0):
    """VP time t for an EDM sigma (Karras et al. 2022, Table 1, sigma^{-1} of VP)."""
    return sde_sigma_to_t("vp", sigma, beta_min=beta_min, beta_max=beta_max)


# Diffusion bridges (DDBM / DBIM) ----------------------------------------------------------

BRIDGES = ("vp", "ve")


def check_bridge(kind):
    if kind not in BRIDGES:
        raise ValueError(f"`schedule` must be one of {BRIDGES}. Received: {kind!r}")
    return kind


def bridge_time_max(kind, sigma_max=80.0):
    """The bridge's end time T, where it is pinned at the source: 1 (VP) or sigma_max (VE)."""
    return 1.0 if check_bridge(kind) == "vp" else float(sigma_max)


def bridge_alpha_rho(kind, t, beta_min=0.1, beta_d=2.0):
    """`(alpha_t, rho_t)` of the forward SDE under the bridge, x_t = alpha_t (data + rho_t
    noise): VP with beta(t) = beta_min + beta_d t (alpha_t = exp(-int beta / 2),
    rho_t^2 = exp(int beta) - 1), VE with alpha_t = 1, rho_t = t (Zhou et al. 2024,
    arXiv:2309.16948, sec. 3; Zheng et al. 2025, arXiv:2405.15885, app. A). NumPy
    (float64) or backend tensors."""
    xp = np if isinstance(t, (float, int, np.ndarray, np.floating)) else ops
    if check_bridge(kind) == "ve":
        return 1.0 + 0.0 * t, t
    integral = beta_min * t + 0.5 * beta_d * t**2
    return xp.exp(-0.5 * integral), xp.sqrt(xp.expm1(integral))


def bridge_coefficients(kind, t, beta_min=0.1, beta_d=2.0, sigma_max=80.0):
    """`(a_t, b_t, c_t)` of the bridge pinned at data x_0 and source x_T:
    q(x_t | x_0, x_T) = N(a_t x_T + b_t x_0, c_t^2 I), with a_t = (alpha_t / alpha_T)
    rho_t^2 / rho_T^2, b_t = alpha_t (1 - rho_t^2 / rho_T^2), c_t = alpha_t rho_t
    sqrt(1 - rho_t^2 / rho_T^2) (DDBM eq. 7 in DBIM's notation). At t = T: (1, 0, 0)."""
    t_max = bridge_time_max(kind, sigma_max)
    alpha, rho = bridge_alpha_rho(kind, t, beta_min, beta_d)
    alpha_max, rho_max = bridge_alpha_rho(kind, t_max, beta_min, beta_d)
    xp = np if isinstance(t, (float, int, np.ndarray, np.floating)) else ops
    ratio = rho**2 / rho_max**2
    rest = xp.maximum(1.0 - ratio, 0.0)
    return alpha / alpha_max * ratio, alpha * rest, alpha * rho * xp.sqrt(rest)


def bridge_drift_terms(kind, t, beta_min=0.1, beta_d=2.0, sigma_max=80.0):
    """`(f_t, g2_t, alpha_bar_t, h_scale_t)` (NumPy float64) for DDBM's reverse
    equations: the forward drift f and squared diffusion g^2 (VP: -beta / 2 and beta;
    VE: 0 and 2 t), and the Doob h-transform grad log p(x_T | x_t) = (alpha_bar_t x_T -
    x_t) / h_scale_t with alpha_bar_t = alpha_t / alpha_T, h_scale_t = alpha_t^2
    (rho_T^2 - rho_t^2)."""
    t = np.asarray(t, "float64")
    t_max = bridge_time_max(kind, sigma_max)
    alpha, rho = bridge_alpha_rho(kind, t, beta_min, beta_d)
    alpha_max, rho_max = bridge_alpha_rho(kind, t_max, beta_min, beta_d)
    if kind == "ve":
        f, g2 = np.zeros_like(t), 2.0 * t
    else:
        f, g2 = -0.5 * (beta_min + beta_d * t), beta_min + beta_d * t
    return f, g2, alpha / alpha_max, alpha**2 * (rho_max**2 - rho**2)
