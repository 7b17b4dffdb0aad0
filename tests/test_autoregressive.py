"""Autoregressive models (NADE, MADE, PixelCNN, the code prior): the autoregressive
property by perturbation for every mask type and both PixelCNN stacks (and no blind
spot in the gated one), normalization over every input of tiny models, sampler
frequencies against exp(log_prob), the compiled sampler against a slow eager loop on the
same keys, fit / save / load / resume, cross-backend golden outputs, and clear errors."""

import json
import sys
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from harness import check_layer, check_model
from keras import ops
from scipy import stats

import zoo
from zoo import random
from zoo.backend import vjp
from zoo.layers.masked import GatedPixelCNNBlock, MaskedConv2D, MaskedDense, made_masks
from zoo.networks.autoregressive import MADENetwork, NADENetwork, PixelCNNNetwork, exclusive_cumsum
from zoo.objectives.autoregressive import draw, log_likelihood
from zoo.training import ArrayBatches, train

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import make_golden_autoregressive as golden  # noqa: E402


def numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def dependence(fn, x):
    """`dep[i, j]`: output position i depends on input position j, from the backend's
    Jacobian (one vector-Jacobian product per output position, exact zeros where a
    mask cuts every path). `fn(x) -> (1, D, ...)` outputs per position; `x (1, ...)`
    with D input positions in raster order."""
    x = ops.convert_to_tensor(x.astype("float32"))
    num_dims = int(np.prod(x.shape[1:]))
    y, pullback = vjp(lambda x: ops.reshape(fn(x), (1, num_dims, -1)), x)
    rows = []
    for i in range(num_dims):
        cotangent = np.zeros(tuple(y.shape), "float32")
        cotangent[0, i] = 1.0
        rows.append(numpy(pullback(ops.convert_to_tensor(cotangent))).reshape(-1) != 0.0)
    return np.array(rows)


def earlier(order):
    """`before[i, j]`: position j comes before position i in `order`."""
    rank = np.empty(len(order), int)
    rank[order] = np.arange(len(order))
    return rank[None, :] < rank[:, None]


# The autoregressive property -----------------------------------------------------------

@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_masked_convolution_sees_only_earlier_sub_pixels(mask_type):
    rng = np.random.default_rng(0)
    layer = MaskedConv2D(6, 3, mask_type, data_channels=3)  # 2 feature channels per colour
    x = rng.normal(size=(1, 4, 4, 3)).astype("float32")

    def per_sub_pixel(batch):  # output channel j is colour j % 3: (N, H, W, 2, 3) -> positions
        out = ops.reshape(layer(batch), (-1, 4, 4, 2, 3))
        return ops.reshape(ops.transpose(out, (0, 1, 2, 4, 3)), (-1, 48, 2))

    dep = dependence(per_sub_pixel, x)
    before = earlier(np.arange(48))
    allowed = before | (np.eye(48, dtype=bool) if mask_type == "B" else False)
    assert not dep[~allowed].any()
    # The masks cut no more than they must: the previous sub-pixel and the pixel above count.
    assert dep[4 * 3 + 2, 4 * 3 + 1] and dep[4 * 3 + 2, 2] and (dep[5, 5] == (mask_type == "B"))


@pytest.mark.parametrize("mask", [0, 1, 2])
def test_made_output_depends_only_on_earlier_inputs_in_its_ordering(mask):
    keras.utils.set_random_seed(0)  # the weights: ReLU units dead at this input vary with the draw
    network = MADENetwork(10, (16, 16), num_masks=3, mask_seed=0)
    x = np.random.default_rng(0).normal(size=(1, 10)).astype("float32")
    dep = dependence(lambda batch: network(batch, mask_index=mask)[..., None], x)
    before = earlier(network.orderings[mask])
    assert not dep[~before].any()
    assert dep[before].mean() > 0.5  # most allowed connections exist
    assert mask == 0 or not np.array_equal(network.orderings[mask], np.arange(10))


def test_made_masks_are_autoregressive_products():
    orderings, masks = made_masks(12, (20, 30), num_masks=4, seed=3)
    for k in range(4):
        # The product of the masks (paths input -> output) is strictly lower in the ordering.
        paths = masks[0][k] @ masks[1][k] @ masks[2][k]
        assert not paths[~earlier(orderings[k]).T].any()


def test_nade_output_depends_only_on_earlier_inputs():
    network = NADENetwork(12, 8)
    network.build()
    network.set_weights([np.random.default_rng(1).normal(size=w.shape).astype("float32")
                         for w in network.get_weights()])
    x = np.random.default_rng(0).normal(size=(1, 12)).astype("float32")
    dep = dependence(lambda batch: network(batch)[..., None], x)
    assert np.array_equal(dep, earlier(np.arange(12)))


def test_exclusive_cumsum_matches_numpy():
    values = np.random.default_rng(0).normal(size=(2, 11, 3)).astype("float32")
    expected = np.cumsum(values, axis=1) - values
    np.testing.assert_allclose(numpy(exclusive_cumsum(values)), expected, atol=1e-5)


def _pixelcnn_dependence(network, shape, labels=None):
    x = np.random.default_rng(0).normal(size=(1, *shape)).astype("float32")
    extra = None if labels is None else np.full((1,), labels, "int32")
    return dependence(lambda batch: network(batch, extra), x), earlier(np.arange(int(np.prod(shape))))


@pytest.mark.parametrize("channels", [1, 3])
def test_gated_pixelcnn_is_autoregressive_without_blind_spot(channels):
    network = PixelCNNNetwork(channels, 2, filters=6, num_layers=4, kernel_size=3, first_kernel_size=3, gated=True,
                              num_classes=2)
    network.build((None, 5, 5, channels))
    # Random weights everywhere (class biases start at zero), small enough that no
    # tanh / sigmoid saturates to an exactly zero derivative.
    for weight in network.weights:
        weight.assign(np.random.default_rng(2).normal(scale=0.3, size=weight.shape).astype("float32"))
    dep, before = _pixelcnn_dependence(network, (5, 5, channels), labels=1)
    assert not dep[~before].any()
    assert dep[before].all(), "blind spot: some earlier sub-pixel does not reach the output"


def test_plain_pixelcnn_is_autoregressive_and_has_its_blind_spot():
    network = PixelCNNNetwork(3, 2, filters=6, num_layers=1, kernel_size=3, first_kernel_size=3, gated=False)
    network.build((None, 5, 5, 3))
    dep, before = _pixelcnn_dependence(network, (5, 5, 3))
    assert not dep[~before].any()
    # A 3x3 stack of depth 2 leaves earlier pixels unseen (van den Oord et al. 2016b, figure 1).
    assert not dep[before].all()


def test_code_prior_network_is_autoregressive():
    model = zoo.create("code_prior_tiny", seed=0)
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 5, size=(1, 9)).astype("float32")
    base = numpy(model.params(model.network, codes))
    for j in range(9):  # change one code: only later positions may move
        changed = codes.copy()
        changed[0, j] = (changed[0, j] + 1) % 5
        moved = np.abs(numpy(model.params(model.network, changed)) - base).max(-1)[0] > 1e-6
        assert not moved[:j + 1].any(), j
        assert j == 8 or moved[j + 1:].any()


# Layers round trip ----------------------------------------------------------------------

def test_layers_round_trip_and_train():
    rng = np.random.default_rng(0)
    # (The mask is not batched, so no fit step here: MADE's fits train MaskedDense.)
    check_layer(MaskedDense, {"units": 4}, (rng.normal(size=(3, 5)).astype("float32"),
                                            np.ones((5, 4), "float32")), (3, 4), fit=False)
    check_layer(MaskedConv2D, {"filters": 6, "kernel_size": 3, "mask_type": "A", "data_channels": 3},
                (rng.normal(size=(2, 4, 4, 3)).astype("float32"),), (2, 4, 4, 6))
    check_layer(PixelCNNNetwork, {"data_channels": 1, "params_per_channel": 2, "filters": 4, "num_layers": 1,
                                  "first_kernel_size": 3}, (rng.normal(size=(2, 4, 4, 1)).astype("float32"),),
                (2, 4, 4, 1, 2))
    check_layer(NADENetwork, {"num_inputs": 6, "hidden": 4}, (rng.normal(size=(2, 6)).astype("float32"),), (2, 6))
    block = GatedPixelCNNBlock(4, 3, first=True, num_classes=2)
    v, h = block(np.zeros((1, 4, 4, 1), "float32"), np.zeros((1, 4, 4, 1), "float32"), np.array([1]))
    assert tuple(v.shape) == tuple(h.shape) == (1, 4, 4, 4)
    clone = GatedPixelCNNBlock.from_config(json.loads(json.dumps(block.get_config())))
    assert clone.get_config() == block.get_config()


# Exact likelihood ------------------------------------------------------------------------

def all_binary(num_dims, shape):
    bits = (np.arange(2**num_dims)[:, None] >> np.arange(num_dims)[::-1]) & 1
    return bits.astype("float32").reshape(-1, *shape)


def randomize(model, scale=1.0, seed=3):
    """Random weights of a visible size: untrained models are nearly uniform."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(scale=scale, size=w.shape).astype("float32") for w in model.get_weights()])
    return model


@pytest.mark.parametrize("name,options", [("nade_tiny", {}), ("made_tiny", {"mask": None}),
                                          ("made_tiny", {"mask": 2}), ("pixelcnn_tiny", {})])
def test_log_prob_sums_to_one_over_every_binary_input(name, options):
    model = randomize(zoo.create(name, seed=0), 0.5)
    x = all_binary(10, model.data_shape)
    probabilities = np.exp(model.log_prob(x, **options).astype("float64"))
    assert abs(probabilities.sum() - 1.0) < 1e-4
    assert probabilities.max() > 5 * probabilities.min()  # not the trivial uniform model


def test_code_prior_log_prob_sums_to_one_over_every_grid():
    model = randomize(zoo.create("code_prior_tiny", data_shape=(2, 2), num_codes=5, seed=0), 0.5)
    grids = np.stack(np.meshgrid(*[np.arange(5)] * 4, indexing="ij"), -1).reshape(-1, 2, 2)
    assert abs(np.exp(model.log_prob(grids).astype("float64")).sum() - 1.0) < 1e-4


@pytest.mark.parametrize("head", ["categorical", "logistic_mixture"])
def test_8bit_heads_are_normalized_over_the_256_levels(head):
    params = np.random.default_rng(0).normal(scale=2.0, size=(3, 15 if head == "logistic_mixture" else 256))
    levels = np.arange(256) / 127.5 - 1.0
    log_p = numpy(log_likelihood(head, np.repeat(params[:, None], 256, 1).astype("float32"),
                                 np.broadcast_to(levels, (3, 256)).astype("float32"), "pixels"))
    np.testing.assert_allclose(np.exp(log_p.astype("float64")).sum(-1), 1.0, atol=2e-3)


def test_8bit_model_bits_per_dim_is_nats_over_d_ln2():
    model = zoo.create("pixelcnn_tiny", data_shape=(2, 2, 3), head="categorical", filters=6, seed=0)
    images = np.random.default_rng(0).integers(0, 256, (3, 2, 2, 3), dtype=np.uint8)
    np.testing.assert_allclose(model.bits_per_dim(images), -model.log_prob(images) / (12 * np.log(2)), rtol=1e-6)
    # Untrained: close to uniform over 256 levels, 8 bits per sub-pixel.
    assert abs(float(np.mean(model.bits_per_dim(images))) - 8.0) < 0.5


# Sampling ----------------------------------------------------------------------------------

def chi_square_p(samples, log_prob, num_cells):
    counts = np.bincount(samples, minlength=num_cells)
    expected = len(samples) * np.exp(log_prob.astype("float64"))
    keep = expected >= 5  # pool the rare cells
    observed = np.append(counts[keep], counts[~keep].sum())
    expected = np.append(expected[keep], expected[~keep].sum())
    observed, expected = (observed, expected) if expected[-1] > 0 else (observed[:-1], expected[:-1])
    statistic = ((observed - expected) ** 2 / expected).sum()
    return stats.chi2.sf(statistic, len(observed) - 1)


@pytest.mark.parametrize("name,overrides,options", [
    ("nade_tiny", {"data_shape": (6,)}, {}),
    ("made_tiny", {"data_shape": (6,)}, {"mask": 1}),
    ("pixelcnn_tiny", {"data_shape": (2, 3, 1)}, {}),
])
def test_sampler_frequencies_match_the_likelihood(name, overrides, options):
    model = randomize(zoo.create(name, seed=0, **overrides), 0.7)
    samples = model.sample(8_000, seed=0, raw=True, batch_size=8_000, **options).reshape(8_000, 6)
    index = (samples.astype(int) << np.arange(6)[::-1]).sum(-1)
    log_prob = model.log_prob(all_binary(6, model.data_shape), **options)
    # Deterministic for a seed; p was 0.1-0.9 over seeds 0-3 on every backend.
    assert chi_square_p(index, log_prob, 64) > 1e-3


def test_code_prior_sampler_frequencies_match_the_likelihood():
    model = randomize(zoo.create("code_prior_tiny", data_shape=(2, 2), num_codes=3, seed=0), 0.7)
    samples = model.sample(8_000, seed=1, batch_size=8_000).reshape(8_000, 4)
    grids = np.stack(np.meshgrid(*[np.arange(3)] * 4, indexing="ij"), -1).reshape(-1, 4)
    index = (samples * 3 ** np.arange(4)[::-1]).sum(-1)
    assert chi_square_p(index, model.log_prob(grids.reshape(-1, 2, 2)), 81) > 1e-3


def reference_sample(model, x, start, seed, temperature=1.0, labels=None, **options):
    """The slow loop: one eager network pass and one draw per position, the keys as the
    compiled sampler's (chunk 0 of `seed`, then the step)."""
    key = random.fold_in(random.key(seed), 0)
    order = model.order(**options)
    network = model.averaged("network")
    x = x.reshape(len(x), -1).astype("float32").copy()
    for i in range(start, model.num_dims):
        params = numpy(model.params(network, x, labels, **options))[:, order[i]]
        x[:, order[i]] = numpy(draw(model.head, params, random.fold_in(key, i), model.values, temperature))
    return x


@pytest.mark.parametrize("name,overrides,options", [
    ("nade_tiny", {}, {}),
    ("made_tiny", {}, {"mask": 1}),
    ("pixelcnn_tiny", {"data_shape": (2, 2, 3), "head": "categorical", "filters": 6, "num_classes": 3}, {}),
    ("pixelcnn_tiny", {"data_shape": (2, 2, 3), "head": "logistic_mixture", "filters": 6, "gated": False,
                       "num_mixtures": 2}, {}),
    ("code_prior_tiny", {}, {}),
])
def test_compiled_sampler_equals_the_slow_reference_loop(name, overrides, options):
    model = randomize(zoo.create(name, seed=0, **overrides), 0.5)
    labels = np.array([0, 1, 2], "int32") if overrides.get("num_classes") else None
    fast = model.sample(3, seed=5, temperature=0.8, labels=labels, raw=True, **options)
    slow = reference_sample(model, np.zeros((3, model.num_dims)), 0, 5, 0.8, labels, **options)
    np.testing.assert_allclose(fast.reshape(3, -1), slow, atol=1e-6)


def test_completion_keeps_the_known_rows_and_follows_the_reference():
    model = randomize(zoo.create("pixelcnn_tiny", data_shape=(4, 3, 1), seed=0), 0.5)
    images = np.random.default_rng(0).integers(0, 2, (5, 4, 3, 1)).astype(np.uint8)
    completed = model.complete(images, known_rows=2, seed=3)
    assert completed.dtype == np.uint8 and set(np.unique(completed)) <= {0, 255}
    np.testing.assert_array_equal(completed[:, :2] // 255, images[:, :2])
    slow = reference_sample(model, images.astype("float32"), 6, 3)
    np.testing.assert_array_equal(completed.reshape(5, -1) // 255, slow.astype(np.uint8))
    # known_rows = all rows changes nothing; 0 rows is a plain sample from the seed.
    np.testing.assert_array_equal(model.complete(images, known_rows=4, seed=3) // 255, images)
    np.testing.assert_array_equal(model.complete(images, known_rows=0, seed=3), model.sample(5, seed=3))


def test_temperature_near_zero_is_greedy():
    model = randomize(zoo.create("nade_tiny", seed=0), 1.0)
    samples = model.sample(50, seed=0, temperature=1e-4, raw=True)
    assert (samples == samples[:1]).all()
    assert not (model.sample(50, seed=0, raw=True) == samples[:1]).all()


def test_made_ensemble_is_the_mixture_of_its_masks():
    model = randomize(zoo.create("made_tiny", seed=0), 0.5)
    x = all_binary(10, (10,))[::37]
    each = np.stack([model.log_prob(x, mask=k) for k in range(3)]).astype("float64")
    expected = np.log(np.exp(each).mean(0))
    np.testing.assert_allclose(model.log_prob(x), expected, atol=1e-5)


# Training, saving, resuming ----------------------------------------------------------------

@pytest.mark.parametrize("name,overrides", [("made_tiny", {}),
                                            ("pixelcnn_tiny", {"data_shape": (2, 2, 3), "head": "categorical",
                                                               "filters": 6, "num_classes": 2})])
def test_fit_save_load(name, overrides, tmp_path):
    model = zoo.create(name, seed=0, **overrides)
    rng = np.random.default_rng(0)
    if model.values == "codes":
        data = rng.integers(0, 5, (16, *model.data_shape)).astype("float32")
    elif model.values == "pixels":
        data = zoo.datasets.to_model_space(rng.integers(0, 256, (16, *model.data_shape), dtype=np.uint8))
    else:
        data = rng.integers(0, 2, (16, *model.data_shape)).astype("float32")
    kwargs = {"num": 3, "seed": 0, "raw": True}
    if model.num_classes:
        data, kwargs["labels"] = {"data": data, "labels": np.arange(16) % 2}, np.array([0, 1, 1])
    loaded = check_model(model, data, tmp_path, kwargs)
    probe = data["data"] if isinstance(data, dict) else data
    labels = data["labels"] if isinstance(data, dict) else None
    np.testing.assert_allclose(loaded.log_prob(probe, labels=labels), model.log_prob(probe, labels=labels),
                               rtol=1e-5, atol=1e-4)


def test_dynamic_binarization_trains_on_grey_images_and_lowers_the_nll():
    images = zoo.datasets.load("mnist", num=512)[0][:, 10:14, 10:14]  # 4x4 crops of digit centres
    model = zoo.create("nade_tiny", data_shape=(4, 4, 1), hidden=16, dynamic_binarization=True, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    binary = (np.random.default_rng(0).random(images.shape) < images / 255).astype(np.uint8)
    before = -model.log_prob(binary).mean()
    model.fit(ArrayBatches(images, 64, seed=0), epochs=3, verbose=0)
    after = -model.log_prob(binary).mean()
    assert after < before - 1.0, (before, after)  # 16 nats -> ~9-10 on every backend


def test_training_resumes_from_its_workdir(tmp_path):
    data = (np.random.default_rng(0).random((64, 10)) < 0.3).astype("float32")

    def run(epochs):
        model = zoo.create("nade_tiny", seed=0)
        return train(model, ArrayBatches(data, 16, seed=0, steps_per_epoch=2), workdir=tmp_path, epochs=epochs,
                     optimizer=keras.optimizers.Adam(1e-3), verbose=0)

    run(1)
    resumed = run(2)
    loaded = zoo.load(tmp_path / "checkpoint")
    assert loaded.checkpoint_metadata["training"]["epochs"] == 2
    np.testing.assert_allclose(loaded.log_prob(data), resumed.log_prob(data), atol=1e-5)


# Cross-backend golden outputs -----------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(golden.MODELS))
def test_golden_outputs_on_this_backend(name):
    model = golden.load_tiny(name)
    recorded = np.load(golden.GOLDEN / "autoregressive_tiny.npz")
    inputs = recorded[f"{name}/data"]
    labels = recorded[f"{name}/labels"] if f"{name}/labels" in recorded else None
    outputs = golden.outputs(model, inputs, labels)
    for key, value in outputs.items():
        np.testing.assert_allclose(value, recorded[f"{name}/{key}"], rtol=1e-4, atol=1e-4, err_msg=f"{name} {key}")


# Bad input --------------------------------------------------------------------------------------

def test_bad_input_is_a_clear_value_error():
    nade = zoo.create("nade_tiny", seed=0)
    pixelcnn = zoo.create("pixelcnn_tiny", seed=0)
    grey = np.full((2, 2, 5, 1), 128, np.uint8)
    with pytest.raises(ValueError, match="binary images"):
        pixelcnn.log_prob(grey)
    with pytest.raises(ValueError, match="known_rows"):
        pixelcnn.complete(np.zeros((2, 2, 5, 1), np.uint8), known_rows=3)
    with pytest.raises(ValueError, match="temperature"):
        nade.sample(2, temperature=0.0)
    with pytest.raises(ValueError, match="0/1"):
        nade.log_prob(np.full((2, 10), 0.5, "float32"))
    with pytest.raises(ValueError, match="mask"):
        zoo.create("made_tiny", seed=0).sample(2, mask=7)
    with pytest.raises(ValueError, match="solver"):
        nade.sample(2, solver="euler")
    with pytest.raises(ValueError, match="codes"):
        zoo.create("code_prior_tiny", seed=0).log_prob(np.full((1, 3, 3), 5))
    with pytest.raises(ValueError, match="head"):
        zoo.create("pixelcnn_tiny", head="bernoulli", values="pixels", seed=0)
    with pytest.raises(ValueError, match="Completion needs the raster order"):
        zoo.create("made_tiny", seed=0).complete(np.zeros((1, 10), np.uint8), known_rows=2, mask=1)


def test_code_prior_sample_decodes_through_its_autoencoder(tmp_path):
    # A prior with `autoencoder` returns decoded images, exactly its autoencoder's decode of
    # the codes it draws; the prior's checkpoint holds only its own weights and reloads.
    autoencoder = zoo.create("fsq_tiny", seed=0)
    autoencoder.reconstruct(np.zeros((1, 16, 16, 3), np.uint8))
    path = zoo.save_checkpoint(autoencoder, tmp_path / "autoencoder")
    grid = autoencoder.code_grid_shape
    prior = zoo.create("code_prior_tiny", data_shape=grid, num_codes=autoencoder.num_codes,
                       autoencoder=str(path), seed=0)
    codes = prior.sample_codes(3, seed=1)
    images = prior.sample(3, seed=1)
    assert codes.shape == (3, *grid) and images.shape == (3, 16, 16, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, zoo.load(path).decode(codes))
    assert prior.sample(3, seed=1, return_nfe=True)[1] == int(np.prod(grid))
    saved = zoo.save_checkpoint(prior, tmp_path / "prior")
    with h5py.File(saved / "model.weights.h5") as weights:  # the prior's own weights, not the autoencoder's
        stored = []
        weights.visititems(lambda name, item: stored.append(item.size) if isinstance(item, h5py.Dataset) else None)
    assert sum(stored) == sum(int(np.prod(v.shape)) for v in prior.weights)
    loaded = zoo.load(saved)
    np.testing.assert_array_equal(loaded.sample(3, seed=1), images)
