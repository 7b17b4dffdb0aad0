"""Checks of user-given numbers and arrays, each raising a ValueError that names the
argument and the fix. Pure Python and NumPy: every layer of the zoo may use them."""

import math
import numbers

import numpy as np

# The largest output a single inference call may make: 8 GiB of float32. A `num` past
# it is a typo or a unit slip, and would otherwise end in an out-of-memory kill.
MAX_OUTPUT_BYTES = 8 * 2**30


def check_finite(value, name):
    """A finite real number (not a bool) as a float, else a ValueError naming `name`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number. Received: {name}={value!r}")
    return float(value)


def check_positive(value, name):
    """A finite real number > 0 as a float, else a ValueError naming `name`."""
    value = check_finite(value, name)
    if not value > 0:
        raise ValueError(f"`{name}` must be > 0. Received: {name}={value!r}")
    return value


def check_batch_size(batch_size, name="batch_size"):
    """An integer >= 1 (not a bool) as an int, else a ValueError naming `name`."""
    if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"`{name}` must be an integer >= 1. Received: {name}={batch_size!r}")
    return int(batch_size)


def check_finite_rows(array, name):
    """Raise a ValueError when a float `array` `(N, ...)` holds NaN or inf, saying how
    many rows (examples) do and the first one's index. Other dtypes pass. Checked in
    slices of ~16M values, so a large (or memory-mapped) dataset is not copied whole."""
    array = np.asarray(array)
    if not np.issubdtype(array.dtype, np.floating) and not np.issubdtype(array.dtype, np.complexfloating):
        return
    if array.ndim == 0:
        if not np.isfinite(array):
            raise ValueError(f"`{name}` is {array.item()!r}, not a finite number.")
        return
    row_size = max(1, math.prod(array.shape[1:]))
    step = max(1, 2**24 // row_size)
    bad = [start + np.flatnonzero(~np.isfinite(array[start:start + step].reshape(-1, row_size)).all(axis=1))
           for start in range(0, len(array), step)]
    bad = np.concatenate(bad) if bad else np.zeros(0, int)
    if len(bad):
        raise ValueError(f"`{name}` contains NaN or infinite values in {len(bad)} of {len(array)} rows "
                         f"(first at index {int(bad[0])}).")
