"""Every layer through the shared harness, plus the maths of the embeddings."""

import math

import numpy as np
import pytest
from harness import check_layer
from keras import ops

from zoo.layers import (AttentionBlock, Downsample, FourierEmbedding, ResBlock, SinusoidalEmbedding,
                        Upsample, sinusoidal_embedding)
from zoo.networks import MLP, UNet


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


def test_unet(rng):
    kwargs = dict(base_channels=8, channel_mults=(1, 2), num_res_blocks=1, attention_resolutions=(4,),
                  groups=4, dropout=0.1)
    check_layer(UNet, kwargs, (_images(rng, (2, 8, 8, 3)), rng.uniform(size=(2,)).astype("float32")),
                (2, 8, 8, 3))


def test_unet_class_conditional_and_fourier(rng):
    kwargs = dict(base_channels=8, channel_mults=(1, 2), num_res_blocks=1, attention_resolutions=(),
                  groups=4, num_classes=3, embedding="fourier", embedding_scale=16.0)
    layer = check_layer(UNet, kwargs, (_images(rng, (2, 8, 8, 1)), rng.uniform(size=(2,)).astype("float32"),
                                       np.array([0, 2], "int32")), (2, 8, 8, 1))
    # Labels change the output once the zero-initialized convs are not zero any more.
    layer.set_weights([rng.normal(size=w.shape).astype("float32") * 0.2 for w in layer.get_weights()])
    x, t = _images(rng, (2, 8, 8, 1)), np.full((2,), 0.3, "float32")
    a = ops.convert_to_numpy(layer(x, t, np.array([0, 0], "int32")))
    b = ops.convert_to_numpy(layer(x, t, np.array([1, 1], "int32")))
    assert np.abs(a - b).max() > 1e-4


def test_unet_rejects_bad_sizes(rng):
    with pytest.raises(ValueError, match="divisible"):
        UNet(base_channels=8, channel_mults=(1, 2, 2), groups=4)(_images(rng, (1, 6, 6, 3)), np.zeros(1, "float32"))
    with pytest.raises(ValueError, match="embedding"):
        UNet(embedding="learned")


def test_mlp(rng):
    check_layer(MLP, {"hidden": 16, "depth": 2, "embedding_dim": 8},
                (rng.normal(size=(4, 2)).astype("float32"), rng.uniform(size=(4,)).astype("float32")), (4, 2))
    check_layer(MLP, {"hidden": 16, "depth": 1, "embedding_dim": 8, "num_classes": 2},
                (rng.normal(size=(4, 3)).astype("float32"), rng.uniform(size=(4,)).astype("float32"),
                 np.array([0, 1, 2, 1], "int32")), (4, 3))
