"""zoo.random: Threefry-2x32 in keras.ops, the same numbers on every backend."""

from pathlib import Path

import numpy as np
import pytest
from keras import ops

from zoo import random

GOLDEN = Path(__file__).parent / "golden" / "random.npz"


def _words(*values):
    return np.array([random._int32(v) for v in values], "int32")


@pytest.mark.parametrize("key, counter, expected", [
    # Known-answer vectors of Threefry-2x32-20 (Random123's kat_vectors, as in jax.random's tests).
    ((0x0, 0x0), (0x0, 0x0), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
])
def test_threefry_matches_the_known_answers(key, counter, expected):
    x0, x1 = random.threefry2x32(_words(*key), ops.convert_to_tensor(_words(counter[0])),
                                 ops.convert_to_tensor(_words(counter[1])))
    got = tuple(int(ops.convert_to_numpy(w)[0]) & 0xFFFFFFFF for w in (x0, x1))
    assert got == expected


def test_draws_equal_the_golden_file_recorded_on_jax():
    """Bits and uniforms exactly; normals, Gumbels and categories to float rounding."""
    golden = np.load(GOLDEN)
    key = random.key(2026)
    np.testing.assert_array_equal(ops.convert_to_numpy(random.bits((5, 7), key)), golden["bits"])
    np.testing.assert_array_equal(ops.convert_to_numpy(random.uniform((1000,), key)), golden["uniform"])
    np.testing.assert_allclose(ops.convert_to_numpy(random.normal((1000,), random.fold_in(key, 3))),
                               golden["normal"], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(ops.convert_to_numpy(random.categorical(golden["logits"], key)),
                                  golden["categorical"])


def test_keys_from_seeds():
    np.testing.assert_array_equal(random.key(0), [0, 0])
    np.testing.assert_array_equal(random.key(2**32 + 5), [1, 5])
    np.testing.assert_array_equal(random.key(-1), [-1, -1])
    for bad in (None, True, 1.5):
        with pytest.raises(ValueError, match="seed"):
            random.key(bad)


def test_distributions_and_independence():
    key = random.key(0)
    u = ops.convert_to_numpy(random.uniform((200_000,), key))
    assert u.min() >= 0.0 and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.003
    z = ops.convert_to_numpy(random.normal((200_000,), key))
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1.0) < 0.01
    assert abs(np.mean(z**4) - 3.0) < 0.06  # Gaussian kurtosis
    # Folded-in keys (a sampler's steps) give uncorrelated streams.
    a, b = (ops.convert_to_numpy(random.normal((50_000,), random.fold_in(key, i))) for i in (0, 1))
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.02 and not np.allclose(a[:10], b[:10])
    np.testing.assert_array_equal(ops.convert_to_numpy(random.uniform((200_000,), key)), u)  # same key, same draws


def test_categorical_and_bernoulli_frequencies():
    logits = np.log(np.array([[0.1, 0.2, 0.3, 0.4]] * 20_000, "float32"))
    draws = ops.convert_to_numpy(random.categorical(logits, random.key(1)))
    counts = np.bincount(draws, minlength=4)
    expected = 20_000 * np.array([0.1, 0.2, 0.3, 0.4])
    assert np.sum((counts - expected) ** 2 / expected) < 16.3  # chi-square, 3 dof, p = 0.001
    p = np.full((20_000,), 0.3, "float32")
    assert abs(ops.convert_to_numpy(random.bernoulli(p, random.key(2))).mean() - 0.3) < 0.012
