"""Diffusion-bridge samplers over one contract: a denoiser `denoise(x, t) -> data
estimate` of the bridge pinned at a source `source` (the denoiser holds the source; the
samplers also read it, as the bridge's other end).

Time runs from T (the source, x_T = source) down to the data at t -> 0; a grid `ts`
descends. q(x_t | x_0, x_T) = N(a_t x_T + b_t x_0, c_t^2 I) (`zoo.schedules.
bridge_coefficients`); the samplers take NumPy tables of (a, b, c) and the DDBM drift
terms at their grid points, so that every coefficient is computed once in float64 and
the compiled loop only combines tensors. Stochastic steps draw step i's noise from
`zoo.random.fold_in(key, i)`: the same on every backend.
"""

import numpy as np
from keras import ops

from zoo.samplers.diffusion import _full, _noise, _tensor


def check_bridge_grid(ts):
    """A grid must descend and stay >= 0."""
    ts = np.asarray(ts, "float64")
    if ts.ndim != 1 or len(ts) < 2 or np.any(ts < 0) or np.any(np.diff(ts) >= 0):
        raise ValueError(f"A bridge time grid must descend and stay >= 0; received {ts}.")
    return ts


# DBIM -----------------------------------------------------------------------------------

def bridge_boot(denoise, source, t_max, coefficients, key):
    """DBIM's booting step (Zheng et al. 2025, arXiv:2405.15885, sec. 4.2): the bridge is
    deterministic at T (c_T = 0), so the first move draws x_{t_0} = a y + b D(y, T) + c z
    from q(x_{t_0} | D(y, T), y) with fresh noise z (fold 0 of `key`). `coefficients`:
    (a, b, c) at t_0."""
    a, b, c = (float(v) for v in coefficients)
    source = ops.convert_to_tensor(source, "float32")
    data = denoise(source, _full(source, t_max))
    return a * source + b * data + c * _noise(source, key, 0)


def dbim_steps(a, b, c, alpha, rho, eta=0.0, order=1, lower_order_final=True):
    """Per-step coefficients of DBIM over a grid (tables of a_t, b_t, c_t, alpha_t, rho_t
    at its points, descending in t), as `(x, source, D, D - D_1, D_1 - D_2, noise)`
    factors: x_next = k x + (a' - k a) y + (b' - k b) D + omega z with k = sqrt(c'^2 -
    omega^2) / c and omega = eta alpha' rho' sqrt(1 - rho'^2 / rho^2), none on the last
    step (Zheng et al. 2025, eq. 13). `order` 2 or 3 (eta 0): the exponential
    integrator in lambda = log(b / c) with D extrapolated from the previous 1 or 2
    estimates (their sec. 4.3, multistep in the style of DPM-Solver++); the first step
    is order 1 and, with `lower_order_final`, the last too."""
    a, b, c, alpha, rho = (np.asarray(v, "float64") for v in (a, b, c, alpha, rho))
    steps = len(a) - 1
    if order not in (1, 2, 3):
        raise ValueError(f"DBIM `order` must be 1, 2 or 3. Received: {order!r}")
    if eta and order != 1:
        raise ValueError(f"DBIM's higher orders are deterministic: `eta` must be 0 with order={order}.")
    omega = eta * alpha[1:] * rho[1:] * np.sqrt(np.maximum(1 - rho[1:] ** 2 / rho[:-1] ** 2, 0.0))
    omega[-1] = 0.0
    k = np.sqrt(np.maximum(c[1:] ** 2 - omega**2, 0.0)) / c[:-1]
    table = np.zeros((steps, 6))
    table[:, 0], table[:, 1], table[:, 2], table[:, 5] = k, a[1:] - k * a[:-1], b[1:] - k * b[:-1], omega
    lam = np.log(np.maximum(b, 1e-300) / np.maximum(c, 1e-300))
    for i in range(steps):
        used = 1 if i == 0 or (lower_order_final and i == steps - 1) else min(order, i + 1)
        if used == 1:
            continue
        h, h1 = lam[i + 1] - lam[i], lam[i] - lam[i - 1]
        phi1, phi2 = np.expm1(-h) + h, h**2 / 2 - h - np.expm1(-h)  # e^-h + h - 1, h^2/2 - h + 1 - e^-h
        b_next = b[i + 1]
        if used == 2:
            table[i, 3] = b_next * phi1 / h1
        else:
            h2 = lam[i - 1] - lam[i - 2]
            # dD = ((D - D1)(2 h1 + h2) / h1 - (D1 - D2) h1 / h2) / (h1 + h2),
            # d2D = 2 ((D - D1) / h1 - (D1 - D2) / h2) / (h1 + h2).
            table[i, 3] = b_next * (phi1 * (2 * h1 + h2) / h1 + phi2 * 2 / h1) / (h1 + h2)
            table[i, 4] = -b_next * (phi1 * h1 / h2 + phi2 * 2 / h2) / (h1 + h2)
    return table


def sample_dbim(denoise, x, source, ts, table, key=None):
    """DBIM from x at ts[0] down the grid with `dbim_steps`' table (orders 1-3, eta).
    NFE = len(ts) - 1. Noise of step i: fold i + 1 of `key` (0 is the boot's)."""
    ts = check_bridge_grid(ts)
    grid, coefficients = _tensor(ts), _tensor(table)
    source = ops.convert_to_tensor(source, "float32")
    x = ops.convert_to_tensor(x, "float32")
    stochastic = bool(np.any(table[:, 5] > 0))

    def step(i, state):
        x, data_1, data_2 = state
        k, p, q, r1, r2, omega = (ops.take(ops.take(coefficients, i, axis=0), j) for j in range(6))
        data = denoise(x, _full(x, ops.take(grid, i)))
        x_next = k * x + p * source + q * data + r1 * (data - data_1) + r2 * (data_1 - data_2)
        if stochastic:
            x_next = x_next + omega * _noise(x, key, i + 1)
        return x_next, data, data_1

    return ops.fori_loop(0, len(ts) - 1, step, (x, ops.zeros_like(x), ops.zeros_like(x)))[0]


# DDBM -----------------------------------------------------------------------------------

def bridge_drift(denoise, x, source, t, coefficients, stochastic):
    """DDBM's reverse drift at time t (Zhou et al. 2024, eqs. 8-9): f x - g^2 (w s - h)
    with the bridge score s = (a y + b D - x) / c^2, the h-transform h = (alpha_bar y -
    x) / h_scale, and w = 1/2 for the probability-flow ODE, 1 for the SDE.
    `coefficients` = (a, b, c, f, g2, alpha_bar, h_scale) at t (floats or scalar tensors)."""
    a, b, c, f, g2, alpha_bar, h_scale = coefficients
    data = denoise(x, _full(x, t))
    score = (a * source + b * data - x) / c**2
    h = (alpha_bar * source - x) / h_scale
    return f * x - g2 * ((1.0 if stochastic else 0.5) * score - h)


def sample_ddbm(denoise, x, source, ts, tables, churn_step_ratio=0.0, key=None):
    """DDBM's hybrid sampler (Zhou et al. 2024, sec. 4.2, Alg. 1): per step, with
    `churn_step_ratio` r > 0, an Euler-Maruyama step of the reverse SDE from t_i to
    t_hat = t_i + r (t_{i+1} - t_i), then a Heun step of the probability-flow ODE to
    t_{i+1} (Euler when t_{i+1} = 0). `tables`: `(len(ts) + len(ts) - 1, 7)` drift
    coefficients at the grid points, then at the t_hat. NFE = (r > 0) N + 2 N - 1."""
    ts = check_bridge_grid(ts)
    steps = len(ts) - 1
    hats = ts[:-1] + churn_step_ratio * (ts[1:] - ts[:-1])
    grid, hat_grid, table = _tensor(ts), _tensor(hats), _tensor(tables)
    source = ops.convert_to_tensor(source, "float32")

    def terms(index):
        row = ops.take(table, index, axis=0)
        return tuple(ops.take(row, j) for j in range(7))

    def euler(i, x):
        t, t_hat = ops.take(grid, i), ops.take(hat_grid, i)
        if churn_step_ratio > 0:
            dt, here = t_hat - t, terms(i)
            drift = bridge_drift(denoise, x, source, t, here, stochastic=True)
            x = x + drift * dt + ops.sqrt(here[4] * ops.abs(dt)) * _noise(x, key, i)
        d = bridge_drift(denoise, x, source, t_hat, terms(len(ts) + i), stochastic=False)
        return x, x + d * (ops.take(grid, i + 1) - t_hat), d, t_hat

    def heun(i, x):
        x_hat, x_next, d, t_hat = euler(i, x)
        t_next = ops.take(grid, i + 1)
        d_next = bridge_drift(denoise, x_next, source, t_next, terms(i + 1), stochastic=False)
        return x_hat + (t_next - t_hat) * 0.5 * (d + d_next)

    x = ops.convert_to_tensor(x, "float32")
    last_heun = steps if ts[-1] > 0 else steps - 1
    x = ops.fori_loop(0, last_heun, heun, x)
    return x if last_heun == steps else euler(steps - 1, x)[1]


def ddbm_nfe(ts, churn_step_ratio):
    steps = len(ts) - 1
    return steps * (churn_step_ratio > 0) + 2 * steps - (1 if ts[-1] == 0 else 0)

