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
