"""The invertible layers of NICE, RealNVP and Glow (zoo.layers.couplings, zoo.layers.invertible):
each inverts exactly, its log-det is log|det J| of the full Jacobian (from the backend's own
autodiff), it serializes, and one fit step trains it."""

import json

import keras
import numpy as np
import pytest
from harness import check_layer
from keras import ops

from zoo.backend import compile_function, vjp
from zoo.layers import (ActNorm, AdditiveCoupling, AffineCoupling, CouplingNetwork, DiagonalScaling,
                        InvertibleConv1x1, LogitTransform, Split, Squeeze, coupling_mask, lu_decomposition)


def jacobian(fn, x, owner=None):
    """`(D, D)` Jacobian of a per-example bijection `fn` at one example `x` `(1, ...)`:
    `x` repeated D times, one VJP with the identity as cotangent (row i of the batch
    pulls back output i); compiled like inference when `owner` (holding the variables)
    is given, which pays off for whole flows."""
    dims = int(np.prod(x.shape[1:]))

    def rows(batch, cotangents):
        _, pullback = vjp(lambda v: ops.reshape(fn(v), (dims, -1)), batch)
        return pullback(cotangents)

    run = rows if owner is None else compile_function(rows, owner)
    out = run(ops.convert_to_tensor(np.repeat(np.asarray(x), dims, axis=0)),
              ops.convert_to_tensor(np.eye(dims, dtype="float32")))
    return ops.convert_to_numpy(out).reshape(dims, dims).astype("float64")


def log_abs_det(matrix):
    sign, value = np.linalg.slogdet(matrix)
    assert sign != 0, "singular Jacobian"
    return value


def randomize(layer, rng, scale=0.3):
    """Random trainable weights: a fresh coupling is the identity, a trivial test case."""
    for weight in layer.trainable_weights:
        weight.assign(rng.normal(scale=scale, size=weight.shape).astype("float32"))


# (class, kwargs, one example's shape, input distribution)
CASES = {
    "additive_vector": (AdditiveCoupling, {"partition": "checkerboard", "parity": 1, "hidden": 8, "depth": 2}, (6,)),
    "additive_image_channel": (AdditiveCoupling, {"partition": "channel", "hidden": 4, "depth": 1}, (2, 2, 4)),
    "affine_checkerboard_tanh": (AffineCoupling, {"partition": "checkerboard", "parity": 0, "hidden": 4,
                                                  "depth": 2, "scale": "tanh"}, (4, 4, 1)),
    "affine_channel_sigmoid": (AffineCoupling, {"partition": "channel", "parity": 1, "hidden": 4, "depth": 1,
                                                "scale": "sigmoid"}, (2, 2, 4)),
    "affine_vector": (AffineCoupling, {"partition": "channel", "hidden": 8, "depth": 2}, (5,)),
    "diagonal_scaling": (DiagonalScaling, {}, (6,)),
    "actnorm_image": (ActNorm, {}, (2, 3, 3)),
    "actnorm_vector": (ActNorm, {}, (4,)),
    "actnorm_log_scale_factor": (ActNorm, {"log_scale_factor": 3.0}, (2, 2, 3)),
    "conv1x1_image": (InvertibleConv1x1, {"seed": 3}, (2, 2, 4)),
    "conv1x1_vector": (InvertibleConv1x1, {"seed": 4}, (3,)),
    "squeeze": (Squeeze, {}, (4, 4, 2)),
    "split": (Split, {}, (2, 2, 4)),
    "logit": (LogitTransform, {"alpha": 0.05}, (3, 3, 1)),
}


def _inputs(name, shape, rng):
    # One example per dimension: the same batch shape as the Jacobian's (JAX's eager
    # mode compiles each op once per shape).
    batch = int(np.prod(shape))
    if name == "logit":  # model space, inside [-1, 1]
        return rng.uniform(-0.95, 0.95, size=(batch, *shape)).astype("float32")
    return rng.normal(size=(batch, *shape)).astype("float32")


def _layer(name, rng):
    cls, kwargs, shape = CASES[name]
    layer = cls(**kwargs)
    x = _inputs(name, shape, rng)
    layer(x)
    randomize(layer, rng)
    return layer, x


@pytest.mark.parametrize("name", sorted(CASES))
def test_inverse_round_trips_and_log_det_is_the_jacobian_log_det(name, rng):
    layer, x = _layer(name, rng)
    y, log_det = layer(x)
    back, inverse_log_det = layer(y, inverse=True)
    y, log_det = ops.convert_to_numpy(y), ops.convert_to_numpy(log_det)
    assert log_det.shape == (len(x),)
    np.testing.assert_allclose(ops.convert_to_numpy(back), x, atol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(inverse_log_det), -log_det, rtol=1e-5, atol=1e-5)
    forward = jacobian(lambda v: layer(v)[0], x[:1])
    np.testing.assert_allclose(log_det[0], log_abs_det(forward), rtol=1e-4, atol=1e-4)
    inverse = jacobian(lambda v: layer(v, inverse=True)[0], y[:1])
    np.testing.assert_allclose(-log_det[0], log_abs_det(inverse), rtol=1e-4, atol=1e-4)


class _NLLModel(keras.Model):
    """Fits an invertible layer by maximum likelihood under N(0, I)."""

    def __init__(self, layer, **kwargs):
        super().__init__(name="nll_model", **kwargs)
        self.layer = layer

    def call(self, x, training=False):
        y, log_det = self.layer(x)
        return 0.5 * ops.sum(ops.reshape(ops.square(y), (ops.shape(y)[0], -1)), axis=-1) - log_det

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return ops.mean(y_pred)


@pytest.mark.parametrize("name", sorted(CASES))
def test_serialization_and_one_fit_step(name, rng):
    # The shared `check_layer` expects one output tensor; these layers return (y, log_det),
    # so the same checks are spelled out: JSON config round trip, registered name, fit.
    layer, x = _layer(name, rng)
    cls = type(layer)
    clone = cls.from_config(json.loads(json.dumps(layer.get_config())))
    clone(x)
    clone.set_weights(layer.get_weights())
    y = layer(x)[0]
    for inputs, inverse in ((x, False), (y, True)):
        for ours, theirs in zip(layer(inputs, inverse=inverse), clone(inputs, inverse=inverse)):
            np.testing.assert_allclose(ops.convert_to_numpy(theirs), ops.convert_to_numpy(ours), atol=1e-6)
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    assert serialized["registered_name"] == f"zoo>{cls.__name__}"
    assert type(keras.saving.deserialize_keras_object(serialized)) is cls
    if not layer.trainable_weights or name in ("additive_image_channel", "affine_vector", "actnorm_vector",
                                               "conv1x1_vector"):
        return  # one fit step per class is enough (each costs a compile on JAX and TensorFlow)
    model = _NLLModel(layer)
    model.compile(optimizer=keras.optimizers.SGD(0.01))
    before = [ops.convert_to_numpy(w).copy() for w in layer.trainable_weights]
    loss = model.fit(x, batch_size=len(x), epochs=1, verbose=0).history["loss"][0]
    assert np.isfinite(loss)
    assert any(not np.allclose(b, ops.convert_to_numpy(w)) for b, w in zip(before, layer.trainable_weights))


def test_coupling_network_through_the_harness(rng):
    layer = check_layer(CouplingNetwork, {"output_dim": 6, "hidden": 8, "depth": 2},
                        (rng.normal(size=(2, 4, 4, 3)).astype("float32"),), (2, 4, 4, 6))
    check_layer(CouplingNetwork, {"output_dim": 4, "hidden": 8, "depth": 1},
                (rng.normal(size=(3, 2)).astype("float32"),), (3, 4))
    # Zero-initialized last layer (Glow, section 3.3): a fresh network outputs exactly 0.
    fresh = CouplingNetwork.from_config(layer.get_config())
    np.testing.assert_array_equal(ops.convert_to_numpy(fresh(rng.normal(size=(2, 4, 4, 3)).astype("float32"))), 0)


# Masks and the layers' particular maths ---------------------------------------------------

def test_masks():
    checkerboard = coupling_mask((2, 3, 1), "checkerboard", 0)[..., 0]
    np.testing.assert_array_equal(checkerboard, [[1, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(coupling_mask((2, 3, 1), "checkerboard", 1)[..., 0], 1 - checkerboard)
    np.testing.assert_array_equal(coupling_mask((5,), "checkerboard", 0), [1, 0, 1, 0, 1])  # NICE's even/odd
    channel = coupling_mask((2, 2, 4), "channel", 1)
    assert np.all(channel[..., :2] == 0) and np.all(channel[..., 2:] == 1)
    with pytest.raises(ValueError, match="at least 2 channels"):
        coupling_mask((4, 4, 1), "channel", 0)
    with pytest.raises(ValueError, match="partition"):
        AffineCoupling(partition="stripes")
    with pytest.raises(ValueError, match="scale"):
        AffineCoupling(scale="exp")


def test_fresh_couplings_start_at_identity_or_a_fixed_scale(rng):
    x = rng.normal(size=(2, 4, 4, 2)).astype("float32")
    for layer in (AdditiveCoupling(hidden=4), AffineCoupling(hidden=4, scale="tanh")):
        y, log_det = layer(x)
        np.testing.assert_array_equal(ops.convert_to_numpy(y), x)
        np.testing.assert_array_equal(ops.convert_to_numpy(log_det), 0)
    # Glow's sigmoid(raw + 2) scale: the transformed half starts at x * sigmoid(2).
    layer = AffineCoupling("channel", 0, hidden=4, scale="sigmoid")
    y = ops.convert_to_numpy(layer(x)[0])
    np.testing.assert_array_equal(y[..., :1], x[..., :1])
    np.testing.assert_allclose(y[..., 1:], x[..., 1:] / (1 + np.exp(-2.0)), rtol=1e-6)


def test_actnorm_data_dependent_init_is_saved(rng, tmp_path):
    x = (3.0 + 2.0 * rng.normal(size=(64, 3, 3, 2))).astype("float32")
    layer = ActNorm()
    layer(x)
    assert not layer.is_initialized
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(x)[0]), x)  # identity before init
    layer.initialize(x)
    y = ops.convert_to_numpy(layer(x)[0]).reshape(-1, 2)
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(0), 1, atol=1e-4)
    assert layer.is_initialized
    # The flag is a weight: a reloaded layer is initialized and keeps the values.
    model = keras.Sequential([keras.Input((3, 3, 2)), keras.layers.Identity()])
    model.actnorm = layer
    model.save_weights(tmp_path / "actnorm.weights.h5")
    reloaded = keras.Sequential([keras.Input((3, 3, 2)), keras.layers.Identity()])
    reloaded.actnorm = ActNorm()
    reloaded.actnorm(x)
    reloaded.load_weights(tmp_path / "actnorm.weights.h5")
    assert reloaded.actnorm.is_initialized
    np.testing.assert_array_equal(ops.convert_to_numpy(reloaded.actnorm.log_scale),
                                  ops.convert_to_numpy(layer.log_scale))


def test_actnorm_log_scale_factor_changes_the_step_not_the_map(rng):
    # Same initialization (same map), but the stored parameter is divided by the factor,
    # so one unit of gradient step moves the effective log-scale 3x as far.
    x = (3.0 + 2.0 * rng.normal(size=(64, 2, 2, 3))).astype("float32")
    plain, fast = ActNorm(), ActNorm(log_scale_factor=3.0)
    plain.initialize(x)
    fast.initialize(x)
    for a, b in zip(plain(x), fast(x)):
        np.testing.assert_allclose(ops.convert_to_numpy(a), ops.convert_to_numpy(b), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(3.0 * ops.convert_to_numpy(fast.log_scale), ops.convert_to_numpy(plain.log_scale),
                               rtol=1e-6)
    assert ActNorm.from_config(fast.get_config()).log_scale_factor == 3.0


def test_conv1x1_lu_form(rng):
    a = rng.normal(size=(5, 5))
    p, lower, upper = lu_decomposition(a)
    np.testing.assert_allclose(p @ lower @ upper, a, atol=1e-10)
    assert np.allclose(np.triu(lower, 1), 0) and np.allclose(np.tril(upper, -1), 0)
    layer = InvertibleConv1x1(seed=0)
    layer(rng.normal(size=(1, 2, 2, 6)).astype("float32"))
    w = ops.convert_to_numpy(layer.kernel()).astype("float64")
    np.testing.assert_allclose(w @ w.T, np.eye(6), atol=1e-5)  # starts as a rotation
    randomize(layer, rng)
    w = ops.convert_to_numpy(layer.kernel()).astype("float64")
    # log |det W| in O(c): the sum of log_s.
    np.testing.assert_allclose(np.linalg.slogdet(w)[1], ops.convert_to_numpy(ops.sum(layer.log_s)), rtol=1e-5)


def test_split_is_a_learned_gaussian_prior(rng):
    layer, x = _layer("split", rng)
    y, log_det = (ops.convert_to_numpy(t) for t in layer(x))
    kept, factored = x[..., :2], x[..., 2:]
    mean, log_std = np.split(ops.convert_to_numpy(layer.prior(kept)), 2, axis=-1)
    np.testing.assert_array_equal(y[..., :2], kept)
    # log N(eps; 0, 1) + log_det == log N(z2; mean, std) per example.
    normal = lambda v: (-0.5 * v**2 - 0.5 * np.log(2 * np.pi)).reshape(len(v), -1).sum(-1)  # noqa: E731
    prior = normal((factored - mean) / np.exp(log_std)) - log_std.reshape(len(x), -1).sum(-1)
    np.testing.assert_allclose(normal(y[..., 2:]) + log_det, prior, rtol=1e-5)


def test_squeeze_moves_each_2x2_block_into_channels():
    x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    y = ops.convert_to_numpy(Squeeze()(x)[0])
    assert y.shape == (1, 2, 2, 4)
    np.testing.assert_array_equal(y[0, 0, 0], [0, 1, 4, 5])
    with pytest.raises(ValueError, match="even height and width"):
        Squeeze()(np.zeros((1, 3, 4, 1), "float32"))
