"""ODE solvers for dx/dt = velocity(x, t), t a `(batch,)` tensor.

Fixed-step solvers follow a time grid in either direction (noise -> data to sample,
data -> noise to encode); `sample_rk45` picks its own steps and reports how many
function evaluations (NFE) it used.
"""

import numpy as np
from keras import ops


def _time(times, i, x):
    return ops.ones((ops.shape(x)[0],), dtype="float32") * ops.take(times, i)


def sample_euler(velocity, x, times):
    """Euler's method along the grid `times` (NFE = len(times) - 1)."""
    x, times = ops.convert_to_tensor(x, "float32"), ops.convert_to_tensor(np.asarray(times, "float32"))

    def step(i, x):
        dt = ops.take(times, i + 1) - ops.take(times, i)
        return x + dt * velocity(x, _time(times, i, x))

    return ops.fori_loop(0, int(times.shape[0]) - 1, step, x)


def sample_heun(velocity, x, times):
    """Heun's 2nd-order method (explicit trapezoid) along `times` (NFE = 2 per step)."""
    x, times = ops.convert_to_tensor(x, "float32"), ops.convert_to_tensor(np.asarray(times, "float32"))

    def step(i, x):
        dt = ops.take(times, i + 1) - ops.take(times, i)
        v = velocity(x, _time(times, i, x))
        v_next = velocity(x + dt * v, _time(times, i + 1, x))
        return x + 0.5 * dt * (v + v_next)

    return ops.fori_loop(0, int(times.shape[0]) - 1, step, x)


# The fixed-step solvers by name, with their network evaluations per step.
FIXED_STEP_SOLVERS = {"euler": (sample_euler, 1), "heun": (sample_heun, 2)}


# Dormand & Prince (1980) 5(4) tableau; the 7th stage is the next step's first (FSAL).
_A = [[], [1 / 5], [3 / 40, 9 / 40], [44 / 45, -56 / 15, 32 / 9],
      [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
      [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
      [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84]]
_C = [0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0]
# b5 - b4: the embedded error estimate.
_E = [71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40]


def _rms(x):
    return ops.sqrt(ops.mean(ops.square(x)))


RK45_MAX_STEPS = 1000


def check_rk45_finished(nfe, max_steps=RK45_MAX_STEPS):
    """Raise if `sample_rk45` stopped at `max_steps` (NFE 1 + 6 per step) before t_end."""
    if int(nfe) >= 1 + 6 * max_steps:
        raise RuntimeError(f"RK45 took its maximum of {max_steps} steps without reaching the end time; "
                           "loosen `rtol`/`atol`, or use a fixed-step solver.")
    return int(nfe)


def sample_rk45(velocity, x, t_start=0.0, t_end=1.0, rtol=1e-5, atol=1e-5, max_steps=RK45_MAX_STEPS):
    """Adaptive Dormand-Prince RK45 with error control (Hairer et al., Solving ODEs I,
    II.4 and II.5). Returns `(x, nfe)`.

    A step is accepted when the RMS of error / (atol + rtol * |x|) over the whole batch
    is <= 1, as in scipy's `RK45`; the step size then follows the standard 1/5-power rule.
    """
    x = ops.convert_to_tensor(x, "float32")
    direction = 1.0 if t_end >= t_start else -1.0
    span = abs(float(t_end) - float(t_start))

    def f(x, t):
        return velocity(x, ops.ones((ops.shape(x)[0],), dtype="float32") * t)

    k1 = f(x, ops.convert_to_tensor(t_start, "float32"))
    # Initial step from the scale of x and its derivative (Hairer II.4, first half).
    scale = atol + rtol * ops.abs(x)
    d0, d1 = _rms(x / scale), _rms(k1 / scale)
    h0 = ops.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / ops.maximum(d1, 1e-12))
    h0 = ops.minimum(ops.cast(h0, "float32"), span)

    def cond(x, k1, remaining, h, nfe, steps):
        return ops.logical_and(remaining > 0.0, steps < max_steps)

    def body(x, k1, remaining, h, nfe, steps):
        h = ops.minimum(h, remaining)
        t = t_start + direction * (span - remaining)
        dt = direction * h
        ks = [k1]
        for c, row in zip(_C[1:], _A[1:]):
            x_stage = x + dt * sum(a * k for a, k in zip(row, ks) if a != 0.0)
            ks.append(f(x_stage, t + c * dt))
        x_new = x_stage  # the 7th stage is evaluated at the 5th-order solution
        error = dt * sum(e * k for e, k in zip(_E, ks) if e != 0.0)
        scale = atol + rtol * ops.maximum(ops.abs(x), ops.abs(x_new))
        error_norm = _rms(error / scale)
        accept = error_norm <= 1.0
        factor = ops.clip(0.9 * ops.power(ops.maximum(error_norm, 1e-10), -0.2), 0.2, 10.0)
        return (ops.where(accept, x_new, x), ops.where(accept, ks[-1], k1),
                ops.where(accept, remaining - h, remaining), h * factor, nfe + 6, steps + 1)

    state = (x, k1, ops.convert_to_tensor(span, "float32"), h0,
             ops.convert_to_tensor(1, "int32"), ops.convert_to_tensor(0, "int32"))
    x, _, _, _, nfe, _ = ops.while_loop(cond, body, state)
    return x, nfe
