"""FSQ and VectorQuantizer against their definitions: FSQ's index map is a bijection over
the whole grid, its outputs lie on the grid, its gradient is the bounding function's (the
rounding passes the identity), every code is reachable under mixed_bfloat16; VQ's lookup
equals a brute-force search and its losses and EMA update equal their formulas on a hand
example."""

import itertools

import keras
import numpy as np
import pytest
from harness import check_layer
from keras import ops

from zoo import metrics
from zoo.backend import vjp
from zoo.layers import FSQ, VectorQuantizer, round_ste


def numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def grid_values(levels):
    """Each channel's normalized values: (-L//2 .. L - L//2 - 1) / (L//2)."""
    return [((np.arange(level) - level // 2) / np.float32(level // 2)).astype("float32") for level in levels]


@pytest.mark.parametrize("levels", [[8, 5, 5, 5], [2, 3, 4, 7]])
def test_fsq_index_map_is_a_bijection_over_the_whole_grid(levels):
    fsq = FSQ(levels)
    indices = np.arange(fsq.num_codes, dtype="int32")
    codes = numpy(fsq.indices_to_codes(indices))
    assert codes.shape == (fsq.num_codes, len(levels))
    # Every code is a grid point and all grid points appear exactly once.
    every_point = {tuple(p) for p in itertools.product(*grid_values(levels))}
    assert {tuple(c) for c in codes} == every_point and len(every_point) == fsq.num_codes
    np.testing.assert_array_equal(numpy(fsq.codes_to_indices(codes)), indices)


def test_fsq_outputs_lie_on_the_grid_and_map_back_to_themselves():
    levels = [8, 5, 5, 5]
    fsq = FSQ(levels)
    z = np.random.default_rng(0).normal(scale=3.0, size=(4000, 4)).astype("float32")
    codes = numpy(fsq(z))
    for channel, values in enumerate(grid_values(levels)):
        assert set(np.unique(codes[:, channel])) <= set(values)
        assert len(np.unique(codes[:, channel])) == levels[channel]  # wide inputs reach every level
    indices = numpy(fsq.codes_to_indices(codes))
    assert indices.min() >= 0 and indices.max() < fsq.num_codes
    np.testing.assert_array_equal(numpy(fsq.indices_to_codes(indices)), codes)


def test_fsq_bound_is_centred_and_even_levels_are_offset_by_half_a_level():
    fsq = FSQ([8, 5])
    np.testing.assert_allclose(numpy(fsq.bound(np.zeros((1, 2), "float32"))), 0.0, atol=1e-6)
    extremes = numpy(fsq.bound(np.array([[-50.0, -50.0], [50.0, 50.0]], "float32")))
    # L = 8: levels -4..3 (bounded into (-4.5, 3.5)); L = 5: -2..2.
    np.testing.assert_allclose(np.round(extremes), [[-4, -2], [3, 2]])
    assert np.all(extremes[0] > [-4.5, -2.5]) and np.all(extremes[1] < [3.5, 2.5])


def test_fsq_gradient_is_the_bounding_functions_inside_the_bounds():
    fsq = FSQ([8, 5, 5, 5])
    z = np.random.default_rng(1).uniform(-2, 2, size=(64, 4)).astype("float32")
    codes, pullback = vjp(lambda x: fsq(x), ops.convert_to_tensor(z))
    gradient = numpy(pullback(ops.ones_like(codes)))
    # d/dz round_ste(bound(z)) / (L // 2) = bound'(z) / (L // 2): rounding passes the identity.
    half_l, half_width = fsq._half_l, fsq._half_width
    expected = (1 - np.tanh(z + fsq._shift) ** 2) * half_l / half_width
    np.testing.assert_allclose(gradient, expected, rtol=1e-5, atol=1e-6)
    x = ops.convert_to_tensor(np.linspace(-3, 3, 13, dtype="float32"))
    rounded, pullback = vjp(round_ste, x)
    np.testing.assert_array_equal(numpy(pullback(ops.ones_like(rounded))), np.ones(13, "float32"))
    np.testing.assert_array_equal(numpy(rounded), np.round(np.linspace(-3, 3, 13)))


def test_fsq_reaches_every_code_under_mixed_bfloat16():
    levels = [8, 5, 3]
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        fsq = FSQ(levels)
        assert fsq.compute_dtype == "float32"
        # For every grid point, the latent whose bounded value is the point (the outermost
        # ones moved a quarter level inside the bounds), rounded to bfloat16 as a
        # mixed-precision encoder would hand it over.
        digits = np.array(list(itertools.product(*[range(level) for level in levels])), "float64")
        lowest, highest = -fsq._half_l - fsq._offset + 0.25, fsq._half_l - fsq._offset - 0.25
        targets = np.clip(digits - np.asarray(levels) // 2, lowest, highest)
        z = np.arctanh((targets + fsq._offset) / fsq._half_l) - fsq._shift
        z = ops.cast(ops.convert_to_tensor(z.astype("float32")), "bfloat16")
        codes = fsq(z)
        assert keras.backend.standardize_dtype(codes.dtype) == "float32"
        indices = numpy(fsq.codes_to_indices(codes))
    finally:
        keras.config.set_dtype_policy(policy)
    assert sorted(indices.tolist()) == list(range(fsq.num_codes))


def test_fsq_layer_contract():
    z = np.random.default_rng(2).normal(size=(2, 4, 4, 3)).astype("float32")
    check_layer(FSQ, {"levels": [8, 5, 5]}, (z,), (2, 4, 4, 3))
    with pytest.raises(ValueError, match="levels"):
        FSQ([8, 1])
    with pytest.raises(ValueError, match="quantizes 3 channels"):
        FSQ([8, 5, 5])(np.zeros((2, 4), "float32"))


def _vq(codebook, **kwargs):
    codebook = np.asarray(codebook, "float32")
    layer = VectorQuantizer(len(codebook), codebook.shape[1], **kwargs)
    layer.build((None, codebook.shape[1]))
    layer.codebook.assign(codebook)
    layer.code_sum.assign(codebook)
    return layer


def test_vq_nearest_code_equals_brute_force():
    rng = np.random.default_rng(3)
    codebook = rng.normal(size=(64, 8)).astype("float32")
    z = rng.normal(size=(5, 7, 8)).astype("float32")
    layer = _vq(codebook)
    result = layer.discretize(z)
    brute = np.argmin(((z[..., None, :] - codebook) ** 2).sum(-1), axis=-1)
    np.testing.assert_array_equal(numpy(result["indices"]), brute)
    np.testing.assert_allclose(numpy(result["quantized"]), codebook[brute], atol=1e-6)
    np.testing.assert_allclose(numpy(layer.indices_to_codes(brute)), codebook[brute])


CODEBOOK = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
Z = np.array([[0.1, 0.0], [0.9, 0.1], [1.1, -0.1], [0.2, 0.1]], "float32")  # nearest: 0, 1, 1, 0; code 2 unused


def test_vq_losses_and_ema_update_equal_their_formulas_on_a_hand_example():
    beta, gamma, eps = 0.25, 0.5, 1e-5
    layer = _vq(CODEBOOK, commitment_cost=beta, decay=gamma, epsilon=eps, dead_code_threshold=0.0)
    result = layer.discretize(Z, training=True)
    e = np.array(CODEBOOK)[[0, 1, 1, 0]]
    np.testing.assert_array_equal(numpy(result["indices"]), [0, 1, 1, 0])
    np.testing.assert_allclose(float(numpy(result["commitment_loss"])), beta * np.mean((Z - e) ** 2), rtol=1e-6)
    # N <- gamma N + (1 - gamma) n; m <- gamma m + (1 - gamma) sum z; e = m / N~ (Laplace smoothed).
    n = np.array([2.0, 2.0, 0.0])
    sums = np.array([Z[0] + Z[3], Z[1] + Z[2], [0.0, 0.0]])
    cluster_size = gamma * 1.0 + (1 - gamma) * n
    code_sum = gamma * np.array(CODEBOOK) + (1 - gamma) * sums
    smoothed = (cluster_size + eps) / (cluster_size.sum() + 3 * eps) * cluster_size.sum()
    np.testing.assert_allclose(numpy(layer.cluster_size), cluster_size, rtol=1e-6)
    np.testing.assert_allclose(numpy(layer.code_sum), code_sum, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(numpy(layer.codebook), code_sum / smoothed[:, None], rtol=1e-5, atol=1e-7)
    # The forward value is the (old) code, the gradient passes straight through.
    np.testing.assert_allclose(numpy(result["quantized"]), e, atol=1e-7)
    fresh = _vq(CODEBOOK, dead_code_threshold=0.0)
    out, pullback = vjp(lambda x: fresh(x), ops.convert_to_tensor(Z))
    cotangent = np.arange(8, dtype="float32").reshape(4, 2)
    np.testing.assert_allclose(numpy(pullback(ops.convert_to_tensor(cotangent))), cotangent)
    # Inference calls leave the codebook alone.
    before = numpy(fresh.codebook).copy()
    fresh.discretize(Z, training=False)
    np.testing.assert_array_equal(numpy(fresh.codebook), before)


def test_vq_restarts_dead_codes_at_batch_vectors():
    layer = _vq(CODEBOOK, decay=0.5, dead_code_threshold=0.6, seed=0)
    layer.discretize(Z, training=True)  # code 2: N = 0.5 < 0.6, restarted; codes 0, 1: N = 1.5
    codebook, cluster_size = numpy(layer.codebook), numpy(layer.cluster_size)
    np.testing.assert_allclose(cluster_size, [1.5, 1.5, 1.0])
    assert np.any(np.all(np.isclose(codebook[2], Z), axis=1)), codebook[2]
    np.testing.assert_allclose(numpy(layer.code_sum)[2], codebook[2])
    assert not np.any(np.all(np.isclose(codebook[:2, None], Z), axis=-1))  # the live codes moved by the EMA only


def test_vq_layer_contract():
    z = np.random.default_rng(4).normal(size=(2, 4, 4, 3)).astype("float32")
    check_layer(VectorQuantizer, {"num_codes": 16, "code_dim": 3, "seed": 1}, (z,), (2, 4, 4, 3))
    with pytest.raises(ValueError, match="code_dim"):
        VectorQuantizer(16, 4)(z)
    with pytest.raises(ValueError, match="decay"):
        VectorQuantizer(16, 3, decay=1.0)


def test_codebook_usage_and_perplexity_on_a_hand_histogram():
    indices = np.array([[0, 0, 1, 1], [2, 2, 3, 3]])
    assert metrics.codebook_usage(indices, 8) == 0.5
    np.testing.assert_allclose(metrics.codebook_perplexity(indices, 8), 4.0)
    np.testing.assert_allclose(metrics.codebook_perplexity(np.zeros(10, int), 8), 1.0)
    np.testing.assert_allclose(metrics.psnr(np.zeros((1, 2, 2, 1)), np.full((1, 2, 2, 1), 255.0 / 10)), [20.0])
