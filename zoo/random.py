"""Backend-independent random numbers for sampling: the same key gives the same numbers
on JAX, TensorFlow and PyTorch.

`keras.random` draws from each backend's own generator, so a seed means different
noise on each backend. Here every draw comes from Threefry-2x32 with 20 rounds (Salmon
et al. 2011, "Parallel Random Numbers: As Easy as 1, 2, 3"; the generator behind
`jax.random`), written in `keras.ops` int32 arithmetic: additions wrap modulo 2^32 on
every backend and the rotations use masked shifts, so the bits are identical
everywhere; uniforms take 23 of them exactly; normals (Box-Muller) and the rest differ
only by the backends' float rounding of `log`, `sqrt` and `cos`.

A key is a `(2,)` int32 array. Keys work inside compiled loops: `fold_in(key, i)` with
a traced step index gives step i its own stream. Training noise stays on
`keras.random.SeedGenerator` (faster, and no promise of cross-backend equality there).

    key = zoo.random.key(0)
    x = zoo.random.normal((4, 2), key)
    step_noise = zoo.random.normal(shape, zoo.random.fold_in(key, i))
"""

import numpy as np
from keras import ops

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = 0x1BD11BDA
_FOLD_WORD = 1  # the second counter word of `fold_in`; `bits` counts with 0 there
_MANTISSA = 2.0**-23


def _int32(value):
    """A Python int as the int32 with the same low 32 bits."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def key(seed):
    """The `(2,)` int32 key of an integer `seed` (any size; its low 64 bits count), or a
    given `(2,)` key unchanged."""
    if isinstance(seed, (bool, np.bool_)) or seed is None:
        raise ValueError(f"`seed` must be an int or a (2,) int32 key. Received: seed={seed!r}")
    if isinstance(seed, (int, np.integer)):
        seed = int(seed)
        return np.array([_int32(seed >> 32), _int32(seed)], "int32")
    value = ops.convert_to_tensor(seed)
    if tuple(value.shape) != (2,) or "int" not in str(value.dtype):
        raise ValueError(f"`seed` must be an int or a (2,) int32 key. Received: {seed!r}")
    return ops.cast(value, "int32")


def _shift_right(x, bits):
    """Logical right shift of int32 words (an arithmetic shift with the sign bits masked off)."""
    return ops.bitwise_and(ops.right_shift(x, bits), (1 << (32 - bits)) - 1)


def _rotate_left(x, bits):
    return ops.bitwise_or(ops.left_shift(x, bits), _shift_right(x, 32 - bits))


def threefry2x32(key_words, x0, x1):
    """Threefry-2x32-20 of the counter words `(x0, x1)` (int32 tensors of one shape)
    under `key_words` (a `(2,)` key). Returns the two int32 output words."""
    key_words = ops.convert_to_tensor(key_words, "int32")
    k0, k1 = key_words[0], key_words[1]
    schedule = (k0, k1, ops.bitwise_xor(ops.bitwise_xor(k0, k1), _PARITY))
    x0, x1 = ops.add(x0, k0), ops.add(x1, k1)
    for block in range(5):
        for bits in _ROTATIONS[block % 2]:
            x0 = ops.add(x0, x1)
            x1 = ops.bitwise_xor(_rotate_left(x1, bits), x0)
        x0 = ops.add(x0, schedule[(block + 1) % 3])
        x1 = ops.add(ops.add(x1, schedule[(block + 2) % 3]), block + 1)
    return x0, x1


def fold_in(key_words, data):
    """A new key from `key_words` and an int32 `data` (a Python int or a traced scalar)."""
    data = ops.cast(ops.convert_to_tensor(data), "int32")
    x0, x1 = threefry2x32(key_words, ops.reshape(data, (1,)), ops.full((1,), _FOLD_WORD, "int32"))
    return ops.concatenate([x0, x1])


def bits(shape, key_words):
    """`shape` int32 words of random bits. A dimension may be symbolic (a compiled
    function traced for any batch size)."""
    shape = tuple(shape)
    count = 1
    for size in shape:
        count = count * size
    pairs = (count + 1) // 2
    counter = ops.arange(pairs, dtype="int32")
    x0, x1 = threefry2x32(key_words, counter, ops.zeros_like(counter))
    return ops.reshape(ops.concatenate([x0, x1])[:count], shape)


def uniform(shape, key_words, minval=0.0, maxval=1.0):
    """Float32 uniforms on [minval, maxval): 23 random bits each, exact on every backend
    for the default range."""
    unit = ops.cast(_shift_right(bits(shape, key_words), 9), "float32") * _MANTISSA
    if minval == 0.0 and maxval == 1.0:
        return unit
    return minval + (maxval - minval) * unit


def _open_uniform(shape, key_words):
    """Uniforms on (0, 1): the centres of the 2^23 cells, never 0 or 1."""
    return (ops.cast(_shift_right(bits(shape, key_words), 9), "float32") + 0.5) * _MANTISSA


def normal(shape, key_words, dtype="float32"):
    """Standard normal draws (Box-Muller: sqrt(-2 log u1) cos(2 pi u2))."""
    u = _open_uniform((2, *shape), key_words)
    z = ops.sqrt(-2.0 * ops.log(u[0])) * ops.cos((2.0 * np.pi) * u[1])
    return ops.cast(z, dtype)


def gumbel(shape, key_words):
    """Standard Gumbel draws, -log(-log u)."""
    return -ops.log(-ops.log(_open_uniform(shape, key_words)))


def categorical(logits, key_words):
    """One int32 category per row of `logits` (the last axis), by the Gumbel-max trick."""
    logits = ops.convert_to_tensor(logits, "float32")
    return ops.cast(ops.argmax(logits + gumbel(ops.shape(logits), key_words), axis=-1), "int32")


def bernoulli(p, key_words):
    """Float32 0/1 draws with probabilities `p` (any shape)."""
    p = ops.convert_to_tensor(p, "float32")
    return ops.cast(uniform(ops.shape(p), key_words) < p, "float32")
