"""Every layer through the shared harness, plus the maths of the embeddings (the networks
built from them: test_networks.py)."""

import math

import numpy as np
import pytest
from harness import check_layer
from keras import ops

from zoo.backend import vjp
from zoo.layers import (AttentionBlock, Conv2D, Downsample, FourierEmbedding, GroupNormalization, ResBlock,
                        SinusoidalEmbedding, Upsample, sinusoidal_embedding)


def _images(rng, shape=(2, 8, 8, 4)):
    return rng.normal(size=shape).astype("float32")


def test_sinusoidal_embedding(rng):
    check_layer(SinusoidalEmbedding, {"dim": 8, "scale": 10.0}, (rng.uniform(size=(3,)).astype("float32"),),
                (3, 8), fit=False)


def test_sinusoidal_embedding_values():
    # t = 0 gives sin = 0 and cos = 1; the first frequency is 1, so column 0 is sin(t).
    out = ops.convert_to_numpy(sinusoidal_embedding(ops.convert_to_tensor([0.0, 0.5]), 6))
    np.testing.assert_allclose(out[0], [0, 0, 0, 1, 1, 1], atol=1e-7)
    np.testing.assert_allclose(out[1, 0], math.sin(0.5), rtol=1e-6)
    np.testing.assert_allclose(out[1, 2], math.sin(0.5 * 10_000 ** (-2 / 3)), rtol=1e-5)


def test_fourier_embedding(rng):
    layer = check_layer(FourierEmbedding, {"dim": 8, "scale": 4.0}, (rng.uniform(size=(3,)).astype("float32"),),
                        (3, 8), fit=False)
    assert not layer.trainable_weights  # frequencies are fixed, and saved as a weight
    out = ops.convert_to_numpy(layer(ops.zeros((1,))))
    np.testing.assert_allclose(out, [[0] * 4 + [1] * 4], atol=1e-7)


def test_odd_embedding_dim_is_rejected():
    with pytest.raises(ValueError, match="dim"):
        SinusoidalEmbedding(7)


def test_res_block(rng):
    check_layer(ResBlock, {"channels": 6, "groups": 2, "dropout": 0.1},
                (_images(rng), rng.normal(size=(2, 5)).astype("float32")), (2, 8, 8, 6))


def test_res_block_same_width_starts_as_scaled_identity(rng):
    # The last conv is zero-initialized, so a fresh block returns x / sqrt(2).
    x = _images(rng)
    out = ResBlock(4, groups=2)(x, rng.normal(size=(2, 5)).astype("float32"))
    np.testing.assert_allclose(ops.convert_to_numpy(out), x / math.sqrt(2), rtol=1e-5, atol=1e-6)


def test_attention_block(rng):
    check_layer(AttentionBlock, {"num_heads": 2, "groups": 2}, (_images(rng),), (2, 8, 8, 4))


def test_attention_is_permutation_equivariant(rng):
    # Self-attention without positions commutes with permuting the pixels.
    layer = AttentionBlock(num_heads=2, groups=2)
    x = _images(rng)
    layer(x)
    layer.proj.kernel.assign(rng.normal(size=layer.proj.kernel.shape).astype("float32"))
    flat = x.reshape(2, 64, 4)
    perm = rng.permutation(64)
    out = ops.convert_to_numpy(layer(x)).reshape(2, 64, 4)
    out_perm = ops.convert_to_numpy(layer(flat[:, perm].reshape(2, 8, 8, 4))).reshape(2, 64, 4)
    np.testing.assert_allclose(out_perm, out[:, perm], rtol=1e-4, atol=1e-5)


def test_attention_heads_must_divide_width(rng):
    with pytest.raises(ValueError, match="num_heads"):
        AttentionBlock(num_heads=3)(_images(rng))


def test_downsample_upsample(rng):
    check_layer(Downsample, {"channels": 5}, (_images(rng),), (2, 4, 4, 5))
    check_layer(Upsample, {"channels": 5}, (_images(rng),), (2, 16, 16, 5))


@pytest.mark.parametrize("options", [
    {"filters": 5, "kernel_size": 3, "padding": "same"},
    {"filters": 5, "kernel_size": 4, "strides": 2, "padding": "same"},  # uneven "same" padding
    {"filters": 3, "kernel_size": (2, 3), "padding": "valid", "use_bias": False},
    {"filters": 4, "kernel_size": 3, "padding": "same", "dilation_rate": 2, "activation": "relu"},
    {"filters": 6, "kernel_size": 1, "strides": 2},
])
def test_conv2d_matches_keras_conv2d_values_and_gradients(rng, options):
    # zoo's Conv2D (PyTorch: one F.conv2d on a channels-last view) against Keras's own.
    import keras

    x = _images(rng, (2, 9, 8, 4))
    out = _matches_keras(rng, Conv2D(**options), keras.layers.Conv2D(**options), x)
    check_layer(Conv2D, options, (x,), out.shape)


def _matches_keras(rng, ours, theirs, x):
    """Give zoo's layer and Keras's the same random weights; their outputs and input
    gradients must agree. Returns Keras's output."""
    ours.build(x.shape)
    theirs.build(x.shape)
    for mine, other in zip(ours.weights, theirs.weights):
        other.assign(rng.normal(size=other.shape).astype("float32"))
        mine.assign(other)
    expected = ops.convert_to_numpy(theirs(x))
    np.testing.assert_allclose(ops.convert_to_numpy(ours(x)), expected, rtol=1e-5, atol=1e-5)
    cotangent = ops.convert_to_tensor(rng.normal(size=expected.shape).astype("float32"))
    grads = [vjp(lambda y, layer=layer: layer(y), ops.convert_to_tensor(x))[1](cotangent) for layer in (ours, theirs)]
    np.testing.assert_allclose(*map(ops.convert_to_numpy, grads), rtol=1e-4, atol=1e-5)
    return expected


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_group_normalization_matches_keras(rng, groups):
    import keras

    x = _images(rng, (2, 5, 6, 4)) * 3.0 + 1.0
    _matches_keras(rng, GroupNormalization(groups=groups, epsilon=1e-6),
                   keras.layers.GroupNormalization(groups=groups, epsilon=1e-6), x)
    check_layer(GroupNormalization, {"groups": groups}, (x,), x.shape)
