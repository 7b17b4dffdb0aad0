"""Diffusion samplers over one contract: a denoiser `denoise(x, sigma) -> data estimate`.

Everything runs in sigma space (Karras et al. 2022, arXiv:2206.00364, eq. 4): a noisy
example is x = data + sigma * noise, sigma is a `(batch,)` tensor, and a grid `sigmas`
descends from the largest noise level to a final 0. VP models (DDPM, VP/sub-VP SDEs) are
the same x scaled by s(t); their family models do that scaling inside `denoise`, so the
functions here serve every family. Stochastic samplers take a `(2,)` int32 `key` and draw
step i's noise from `zoo.random.fold_in(key, i)`: the same on every backend.
"""

import numpy as np
from keras import ops

from zoo import random
from zoo.backend import vjp
from zoo.samplers.ode import sample_rk45


def _full(x, value):
    return ops.ones((ops.shape(x)[0],), dtype="float32") * value


def _noise(x, key, i):
    return random.normal(ops.shape(x), random.fold_in(key, i))


def _tensor(values):
    return ops.convert_to_tensor(np.asarray(values, "float32"))


def check_grid(sigmas):
    """A grid must descend, end in 0 and have no other zero."""
    sigmas = np.asarray(sigmas, "float32")
    if sigmas.ndim != 1 or len(sigmas) < 2 or sigmas[-1] != 0 or np.any(sigmas[:-1] <= 0) \
            or np.any(np.diff(sigmas) >= 0):
        raise ValueError(f"`sigmas` must descend to a final 0 with positive values before it; received {sigmas}.")
    return sigmas


# Guidance -------------------------------------------------------------------------------

def classifier_guided(denoise, log_prob, labels, scale):
    """Classifier guidance in sigma space: D(x, sigma) + scale sigma^2 grad_x log p(y | x,
    sigma), Bayes' rule on the score since D = x + sigma^2 grad log p (Dhariwal & Nichol
    2021, arXiv:2105.05233, Alg. 2; Song et al. 2021, arXiv:2011.13456, sec. 5, app. I).
    `log_prob(x, sigma, labels) -> (batch,)`; scale 1 is the class-conditional denoiser."""
    def guided(x, sigma):
        x, sigma = ops.convert_to_tensor(x, "float32"), ops.convert_to_tensor(sigma, "float32")
        _, pullback = vjp(lambda x: log_prob(x, sigma, labels), x)
        gradient = pullback(ops.ones((ops.shape(x)[0],)))  # examples are independent
        variance = ops.reshape(ops.square(sigma), (-1,) + (1,) * (len(x.shape) - 1))
        return denoise(x, sigma) + scale * variance * gradient
    return guided


# Ancestral (DDPM / DDIM family) ---------------------------------------------------------

def ddim_steps(sigmas, eta=0.0):
    """`(sigmas_down, sigmas_up)` of DDIM (Song et al. 2021, arXiv:2010.02502, eq. 16) in
    sigma space: up^2 = eta^2 s'^2 (s^2 - s'^2) / s^2, down^2 = s'^2 - up^2."""
    sigmas = check_grid(sigmas).astype("float64")
    now, nxt = sigmas[:-1], sigmas[1:]
    up = np.minimum(nxt, eta * np.sqrt(nxt**2 * (now**2 - nxt**2) / now**2))
    return np.sqrt(nxt**2 - up**2), up


def ddpm_steps(sigmas, variance="beta_tilde"):
    """`(sigmas_down, sigmas_up)` of DDPM ancestral sampling (Ho et al. 2020, Alg. 2):
    the posterior mean, with the posterior variance beta-tilde or the forward beta (VP's
    beta_n = 1 - alpha_bar_n / alpha_bar_{n-1}, divided by alpha_bar_{n-1} into sigma
    space). No noise on the last step."""
    sigmas = check_grid(sigmas).astype("float64")
    now, nxt = sigmas[:-1], sigmas[1:]
    down = nxt**2 / now
    if variance == "beta_tilde":
        up = nxt * np.sqrt(now**2 - nxt**2) / now
    elif variance == "beta":
        up = np.sqrt((now**2 - nxt**2) * (1 + nxt**2) / (1 + now**2)) * (nxt > 0)
    else:
        raise ValueError(f"`variance` must be 'beta_tilde' or 'beta'. Received: {variance!r}")
    return down, up


def analytic_variances(sigmas, gammas, kind="ddim", data_range=2.0):
    """Analytic-DPM's optimal reverse variance per step, in VP units (Bao et al. 2022,
    arXiv:2201.06503, Thm. 1, with the clipping bounds of Thm. 2), for the DDIM
    (lambda^2 = 0) or DDPM (lambda^2 = beta-tilde) mean:
    sigma*^2 = lambda^2 + (sqrt(bbar_n / alpha_n) - sqrt(bbar_{n-1} - lambda^2))^2 (1 - Gamma_n),
    clipped to [lambda^2, lambda^2 + (...)^2] and, for data in a range of width
    `data_range` (None: unbounded), below lambda^2 + (sqrt(abar_{n-1}) - sqrt(bbar_{n-1}
    - lambda^2) sqrt(abar_n / bbar_n))^2 (data_range / 2)^2. `gammas[i]` is Gamma at
    `sigmas[i]`. Returns `(variances, lambda^2)`."""
    sigmas = check_grid(sigmas).astype("float64")
    abar, abar_prev = 1 / (1 + sigmas[:-1] ** 2), 1 / (1 + sigmas[1:] ** 2)
    bbar, bbar_prev, alpha = 1 - abar, 1 - abar_prev, abar / abar_prev
    if kind == "ddim":
        lam2 = np.zeros_like(abar)
    elif kind == "ddpm":
        lam2 = bbar_prev / bbar * (1 - alpha)
    else:
        raise ValueError(f"`kind` must be 'ddim' or 'ddpm'. Received: {kind!r}")
    rest = np.sqrt(np.maximum(bbar_prev - lam2, 0))
    gap = (np.sqrt(bbar / alpha) - rest) ** 2
    upper = lam2 + gap
    if data_range is not None:
        bound = (np.sqrt(abar_prev) - rest * np.sqrt(abar / bbar)) ** 2
        upper = np.minimum(upper, lam2 + bound * (data_range / 2) ** 2)
    gammas = np.asarray(gammas, "float64")[:len(abar)]
    return np.clip(lam2 + gap * (1 - gammas), lam2, upper), lam2


def analytic_steps(sigmas, gammas, kind="ddim", data_range=2.0, last_noise_levels=None):
    """`(sigmas_down, sigmas_up)` of Analytic-DDIM / Analytic-DDPM in sigma space: the
    DDIM-family mean with `analytic_variances`; no noise on the last step.

    `last_noise_levels` (images; Bao et al.'s sampling heuristic, not part of the bound):
    the noise added by the last noisy step is clipped so that its mean absolute value,
    sqrt(2 / pi) * std, is at most that many 8-bit levels (`data_range / 255` each); the
    paper uses 2 on CIFAR-10, since noise a denoiser will not see again stays in the
    image."""
    variances, lam2 = analytic_variances(sigmas, gammas, kind, data_range)
    if last_noise_levels is not None and len(variances) >= 2:
        threshold = (last_noise_levels * data_range / 255 * np.sqrt(np.pi / 2)) ** 2
        variances[-2] = min(variances[-2], threshold)
    abar_prev = 1 / (1 + np.asarray(sigmas, "float64")[1:] ** 2)
    down = np.sqrt(np.maximum(1 - abar_prev - lam2, 0) / abar_prev)
    return down, np.sqrt(variances / abar_prev) * (np.asarray(sigmas)[1:] > 0)


def sample_ancestral(denoise, x, sigmas, sigmas_down, sigmas_up, key=None):
    """x <- D + down * (x - D) / sigma + up * z at each step: DDIM, DDPM and Analytic-DPM
    differ only in (down, up) (k-diffusion's ancestral step). NFE = len(sigmas) - 1."""
    x, grid = ops.convert_to_tensor(x, "float32"), _tensor(sigmas)
    down, up = _tensor(sigmas_down), _tensor(sigmas_up)
    stochastic = bool(np.any(np.asarray(sigmas_up) > 0))

    def step(i, x):
        sigma = ops.take(grid, i)
        data = denoise(x, _full(x, sigma))
        x = data + ops.take(down, i) * (x - data) / sigma
        return x + ops.take(up, i) * _noise(x, key, i) if stochastic else x

    return ops.fori_loop(0, len(sigmas) - 1, step, x)


def sample_ddim(denoise, x, sigmas, eta=0.0, key=None):
    """DDIM with `eta` in [0, 1] over any grid (eta=0: Euler on the probability-flow ODE)."""
    return sample_ancestral(denoise, x, sigmas, *ddim_steps(sigmas, eta), key=key)


def sample_ddpm(denoise, x, sigmas, variance="beta_tilde", key=None):
    """DDPM ancestral sampling (Ho et al. 2020, Alg. 2) over a (sub-)grid."""
    return sample_ancestral(denoise, x, sigmas, *ddpm_steps(sigmas, variance), key=key)


# EDM ------------------------------------------------------------------------------------

def sample_edm(denoise, x, sigmas, churn=0.0, s_tmin=0.0, s_tmax=float("inf"), s_noise=1.0, key=None):
    """Karras et al. 2022 Heun sampler: Alg. 1 (churn=0, deterministic) and Alg. 2 (noise
    raised by gamma = min(churn / N, sqrt 2 - 1) before each step). The last step, to
    sigma = 0, is Euler. NFE = 2 N - 1 for N = len(sigmas) - 1."""
    sigmas = check_grid(sigmas)
    steps = len(sigmas) - 1
    gammas = np.where((sigmas[:-1] >= s_tmin) & (sigmas[:-1] <= s_tmax),
                      min(churn / steps, np.sqrt(2) - 1), 0.0)
    grid, hats = _tensor(sigmas), _tensor(sigmas[:-1] * (1 + gammas))
    x = ops.convert_to_tensor(x, "float32")

    def euler(i, x):
        sigma, sigma_hat = ops.take(grid, i), ops.take(hats, i)
        if churn > 0:
            x = x + ops.sqrt(sigma_hat**2 - sigma**2) * s_noise * _noise(x, key, i)
        d = (x - denoise(x, _full(x, sigma_hat))) / sigma_hat
        return x, x + (ops.take(grid, i + 1) - sigma_hat) * d, d, sigma_hat

    def heun(i, x):
        x_hat, x_next, d, sigma_hat = euler(i, x)
        sigma_next = ops.take(grid, i + 1)
        d_next = (x_next - denoise(x_next, _full(x, sigma_next))) / sigma_next
        return x_hat + (sigma_next - sigma_hat) * 0.5 * (d + d_next)

    x = ops.fori_loop(0, steps - 1, heun, x)
    return euler(steps - 1, x)[1]


# DPM-Solver++ ---------------------------------------------------------------------------

def dpmpp_2m_steps(sigmas, alphas=None):
    """`(ratios, data_coefficients, weights, previous_weights)` of DPM-Solver++(2M) (Lu et
    al. 2022, arXiv:2211.01095, Alg. 2) on x = alpha data + sigma noise (alpha = 1, the
    default: sigma space), lambda = log(alpha / sigma): step i is x <- r_i x + c_i (w_i D_i
    + v_i D_{i-1}) with r_i = sigma_{i+1} / sigma_i, c_i = alpha_{i+1} - r_i alpha_i. The
    first step and the last (to sigma = 0, where x becomes the data estimate) are first
    order (DDIM); between them D is extrapolated linearly in lambda from the previous
    estimate. A grid may start at alpha = 0 (pure noise, lambda = -inf): its step is DDIM's
    and the next one first order too."""
    sigmas = check_grid(sigmas).astype("float64")
    alphas = np.ones_like(sigmas) if alphas is None else np.asarray(alphas, "float64")
    ratios = sigmas[1:] / sigmas[:-1]
    coefficients = alphas[1:] - ratios * alphas[:-1]
    weights, previous = np.ones(len(ratios)), np.zeros(len(ratios))
    with np.errstate(divide="ignore"):
        lambdas = np.log(alphas[:-1]) - np.log(sigmas[:-1])
    for i in range(1, len(ratios) - 1):
        h_before, h = lambdas[i] - lambdas[i - 1], np.log(alphas[i + 1] / sigmas[i + 1]) - lambdas[i]
        if np.isfinite(h_before):
            weights[i], previous[i] = 1 + h / (2 * h_before), -h / (2 * h_before)
    return ratios, coefficients, weights, previous


def sample_dpmpp_2m(denoise, x, sigmas, alphas=None):
    """DPM-Solver++(2M), the multistep second-order solver of the probability-flow ODE in
    its data-prediction form: one evaluation per step (NFE = len(sigmas) - 1). With
    `alphas`, x = alpha data + sigma noise and `denoise(x, sigma / alpha)` (inf where alpha
    = 0) estimates the data from it; without, x and `denoise` are in sigma space."""
    table = dpmpp_2m_steps(sigmas, alphas)
    ratios, coefficients, weights, previous = (_tensor(c) for c in table)
    with np.errstate(divide="ignore"):  # sigma space: the noise level of x = alpha data + sigma noise
        levels = _tensor(np.asarray(sigmas, "float64") / (1.0 if alphas is None else np.asarray(alphas, "float64")))
    x = ops.convert_to_tensor(x, "float32")

    def step(i, state):
        x, data_before = state
        data = denoise(x, _full(x, ops.take(levels, i)))
        estimate = ops.take(weights, i) * data + ops.take(previous, i) * data_before
        return ops.take(ratios, i) * x + ops.take(coefficients, i) * estimate, data

    return ops.fori_loop(0, len(sigmas) - 1, step, (x, ops.zeros_like(x)))[0]


# Score SDE ------------------------------------------------------------------------------

def _score(denoise, x, sigma):
    return (denoise(x, _full(x, sigma)) - x) / sigma**2


def sample_euler_maruyama(denoise, x, sigmas, key=None):
    """Euler-Maruyama on the reverse SDE (Song et al. 2021, arXiv:2011.13456, eq. 6) in
    sigma space, dx = -d(sigma^2) score + sqrt(d(sigma^2)) dw; the last step to 0 is
    the noise-free Tweedie denoising of Song et al.'s samplers."""
    sigmas = check_grid(sigmas)
    grid = _tensor(sigmas)
    x = ops.convert_to_tensor(x, "float32")

    def step(i, x):
        sigma, sigma_next = ops.take(grid, i), ops.take(grid, i + 1)
        variance = sigma**2 - sigma_next**2
        return x + variance * _score(denoise, x, sigma) + ops.sqrt(variance) * _noise(x, key, i)

    x = ops.fori_loop(0, len(sigmas) - 2, step, x)
    return denoise(x, _full(x, sigmas[-2]))


def _norm(x):
    return ops.sqrt(ops.sum(ops.reshape(ops.square(x), (ops.shape(x)[0], -1)), axis=-1))


def sample_pc(denoise, x, sigmas, key=None, snr=0.16, corrector_steps=1):
    """Predictor-corrector (Song et al. 2021, Alg. 1 with Alg. 4/5): at each level,
    `corrector_steps` Langevin steps of size 2 (snr |z| / |score|)^2, the norms averaged
    over the batch as in Song et al.'s code (per-example ratios are heavy-tailed in few
    dimensions), then one Euler-Maruyama predictor step; Tweedie denoising at the end."""
    sigmas = check_grid(sigmas)
    grid = _tensor(sigmas)
    x = ops.convert_to_tensor(x, "float32")
    draws = corrector_steps + 1

    def step(i, x):
        sigma = ops.take(grid, i)
        for j in range(corrector_steps):
            score, z = _score(denoise, x, sigma), _noise(x, key, i * draws + j)
            size = 2.0 * (snr * ops.mean(_norm(z)) / ops.maximum(ops.mean(_norm(score)), 1e-12)) ** 2
            x = x + size * score + ops.sqrt(2.0 * size) * z
        variance = sigma**2 - ops.take(grid, i + 1) ** 2
        return x + variance * _score(denoise, x, sigma) + ops.sqrt(variance) * _noise(
            x, key, i * draws + corrector_steps)

    x = ops.fori_loop(0, len(sigmas) - 2, step, x)
    return denoise(x, _full(x, sigmas[-2]))


def ddim_encode(denoise, x, sigmas):
    """Deterministic DDIM run backwards (Song et al. 2021, sec. 4.3): from data at the
    smallest noise level of `sigmas` (ascending, positive) up to the largest."""
    grid = _tensor(sigmas)
    x = ops.convert_to_tensor(x, "float32")

    def step(i, x):
        data = denoise(x, _full(x, ops.take(grid, i)))
        return data + ops.take(grid, i + 1) / ops.take(grid, i) * (x - data)

    return ops.fori_loop(0, len(sigmas) - 1, step, x)


# Probability-flow ODE -------------------------------------------------------------------

def denoiser_velocity(denoise):
    """The probability-flow ODE in u = log sigma: dx/du = x - D(x, e^u) (Karras et al.
    2022, eq. 3 with sigma(t) = t, times sigma); bounded, so adaptive steps stay sane."""
    return lambda x, u: x - denoise(x, ops.exp(u))


def flow_denoiser(velocity):
    """A straight-path flow's data estimate `denoise(x_t, sigma)`, for `sample_dpmpp_2m`
    with alpha = t. Its path x_t = t data + (1 - t) noise (t = 1: data) has sigma = (1 - t)
    / t in sigma space (x_t / t = data + sigma noise; sigma = inf at t = 0), and the
    velocity regresses data - noise, so E[data | x_t] = x_t + (1 - t) v(x_t, t) (Liu et al.
    2023; Lipman et al. 2023)."""
    def denoise(x, sigma):
        t = 1.0 / (1.0 + ops.convert_to_tensor(sigma, "float32"))
        x = ops.convert_to_tensor(x, "float32")
        return x + (1.0 - ops.reshape(t, (-1,) + (1,) * (len(x.shape) - 1))) * velocity(x, t)
    return denoise


def sample_pf_rk45(denoise, x, sigma_max, sigma_min, rtol=1e-5, atol=1e-5):
    """RK45 (zoo.samplers.ode) on the probability-flow ODE from sigma_max to sigma_min,
    then the Euler step to 0 (= D(x, sigma_min)). Returns `(x, nfe)`."""
    x, nfe = sample_rk45(denoiser_velocity(denoise), x, float(np.log(sigma_max)), float(np.log(sigma_min)),
                         rtol=rtol, atol=atol)
    return denoise(x, _full(x, sigma_min)), nfe + 1
