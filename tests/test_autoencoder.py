"""The quantized autoencoders (FSQ and VQ) on the model contract: `fit` trains them on
every backend, a run resumed from its training state equals one straight run, the
export loads with equal outputs, `encode` / `decode` keep their contract, the
`reconstruction` metric measures what it says, and fixed weight files give the codes and
images recorded on JAX (scripts/make_golden_autoencoder.py) on every backend."""

from pathlib import Path

import keras
import numpy as np
import pytest

import zoo
from zoo import evaluation, metrics
from zoo.training import ArrayBatches, train

GOLDEN = Path(__file__).parent / "golden"
CONFIGS = ("fsq_tiny", "vq_tiny")


def smooth_images(num, seed=0):
    """uint8 16x16x3 images of a few low-frequency colour waves: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.linspace(0, 1, 16), np.linspace(0, 1, 16), indexing="ij")
    freq, phase = rng.uniform(0.5, 2.0, (num, 1, 1, 3)), rng.uniform(0, 2 * np.pi, (num, 1, 1, 3))
    waves = np.sin(2 * np.pi * freq * (xx + yy)[None, ..., None] + phase)
    return np.clip(np.round(127.5 * (waves + 1)), 0, 255).astype(np.uint8)


def _train(config, images, workdir, epochs, steps=16):
    model = zoo.create(config, seed=0)
    batches = ArrayBatches(images, 16, seed=0, steps_per_epoch=steps)
    return train(model, batches, workdir=workdir, epochs=epochs, verbose=0, optimizer=keras.optimizers.Adam(3e-3))


def _error(model, images):
    return np.mean((model.reconstruct(images, raw=True) - zoo.datasets.to_model_space(images)) ** 2)


@pytest.mark.parametrize("config", CONFIGS)
def test_trains_saves_and_loads(config, tmp_path):
    images = smooth_images(64)
    trained = _train(config, images, tmp_path, 2)
    loaded = zoo.load(tmp_path / "checkpoint")
    np.testing.assert_array_equal(loaded.encode(images), trained.encode(images))
    np.testing.assert_allclose(loaded.reconstruct(images, raw=True), trained.reconstruct(images, raw=True), atol=1e-6)
    # It learned, not just ran (32 steps: 0.36-0.38 against 0.50-0.52 untrained on TensorFlow).
    assert _error(loaded, images) < 0.85 * _error(zoo.create(config, seed=0), images)
    history = loaded.checkpoint_metadata["training"]["history"]["loss"]
    assert len(history) == 2 and history[-1] < history[0]


def test_vq_resumes_exactly_codebook_and_restarts_included(tmp_path):
    # The VQ's state beyond the weights (EMA counts, restart draws from the model's seed
    # generator) survives the training state: 1 + 1 epochs equal 2 straight.
    images = smooth_images(64)
    straight = _train("vq_tiny", images, tmp_path / "a", 2, steps=4)
    _train("vq_tiny", images, tmp_path / "b", 1, steps=4)
    resumed = _train("vq_tiny", images, tmp_path / "b", 2, steps=4)
    np.testing.assert_array_equal(resumed.encode(images), straight.encode(images))
    np.testing.assert_allclose(resumed.reconstruct(images, raw=True), straight.reconstruct(images, raw=True),
                               rtol=1e-5, atol=1e-5)
    for a, b in zip(resumed.quantizer.weights, straight.quantizer.weights, strict=True):
        np.testing.assert_allclose(np.asarray(keras.ops.convert_to_numpy(a)), keras.ops.convert_to_numpy(b),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("config", CONFIGS)
def test_golden_outputs_from_a_fixed_weight_file(config):
    golden = np.load(GOLDEN / f"{config}.npz")
    model = zoo.create(config, seed=0)
    model.load_weights(GOLDEN / f"{config}.weights.h5")
    codes = model.encode(golden["images"])
    np.testing.assert_array_equal(codes, golden["codes"])
    np.testing.assert_allclose(model.decode(golden["codes"], raw=True), golden["decoded"], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(model.reconstruct(golden["images"]), golden["reconstructed"])


def test_encode_decode_contract_and_clear_errors():
    model = zoo.create("vq_tiny", seed=0)
    images = smooth_images(5)
    codes = model.encode(images, batch_size=2)
    assert codes.dtype == np.int32 and codes.shape == (5, *model.code_grid_shape) == (5, 4, 4)
    assert codes.min() >= 0 and codes.max() < model.num_codes == 16
    decoded = model.decode(codes)
    assert decoded.dtype == np.uint8 and decoded.shape == images.shape
    np.testing.assert_array_equal(model.reconstruct(images), decoded)
    np.testing.assert_array_equal(model.decode(codes[..., None]), decoded)  # a prior's (N, h, w, 1) draws
    np.testing.assert_allclose(model.decode(codes, raw=True), model.reconstruct(images, raw=True), atol=1e-6)
    assert model.interface.kind == "encoder" and model.interface.can("decode") and not model.interface.can("sample")
    with pytest.raises(ValueError, match=r"must lie in 0\.\.15"):
        model.decode(np.full((1, 4, 4), 16))
    with pytest.raises(ValueError, match=r"shape \(N, 4, 4\)"):
        model.decode(np.zeros((1, 8, 8), int))
    with pytest.raises(ValueError, match="must be integers"):
        model.decode(np.zeros((1, 4, 4), "float32"))
    with pytest.raises(ValueError, match="uint8"):
        model.encode(images.astype("float32"))
    with pytest.raises(ValueError, match="divisible"):
        zoo.create("fsq_tiny", data_shape=(18, 18, 3))


def test_reconstruction_metric_measures_psnr_fd_usage_and_perplexity():
    model = zoo.create("fsq_tiny", seed=0)
    images, labels = smooth_images(32), np.arange(32) % 10
    ev = evaluation.Evaluation(model, reference_images=32,
                               feature_network=zoo.create("classifier_tiny", seed=0))
    ev.__dict__["dataset"] = "waves"
    ev.data = lambda num, split="test": (images[:num], labels[:num])
    results = {r.name: r for r in evaluation.METRICS["reconstruction"](ev)}
    reconstructions = model.reconstruct(images)
    expected = 10 * np.log10(255.0**2 / ((images.astype(float) - reconstructions) ** 2).mean(axis=(1, 2, 3)))
    np.testing.assert_allclose(results["PSNR (dB)"].value, expected.mean(), rtol=1e-6)
    codes = model.encode(images)
    assert results["codebook usage"].value == len(np.unique(codes)) / 16
    np.testing.assert_allclose(results["codebook perplexity"].value, metrics.codebook_perplexity(codes, 16))
    network = ev.feature_network
    np.testing.assert_allclose(results["FD-classifier (reconstructions)"].value,
                               metrics.frechet_distance(network.features(reconstructions), network.features(images)),
                               rtol=1e-6)
    assert "32 waves test images" in results["PSNR (dB)"].how


@pytest.mark.parametrize("config", ("fsq_mlp", "vq_mlp"))
def test_point_autoencoders_give_one_code_per_point(config, tmp_path):
    # The 2-D toys: MLPs around the same quantizers; `code_grid_shape` is () and the
    # codes partition the plane, each cell decoded to one point.
    points, _ = zoo.datasets.load("moons", "train", num=2048)
    model = zoo.create(config, seed=0)
    assert model.code_grid_shape == () and model.num_codes == 64
    untrained = np.mean(np.sum((model.reconstruct(points) - points) ** 2, -1))
    batches = ArrayBatches(points, 128, seed=0, steps_per_epoch=50)
    trained = train(model, batches, workdir=tmp_path, epochs=2, verbose=0, optimizer=keras.optimizers.Adam(3e-3))
    codes = trained.encode(points, batch_size=500)
    assert codes.dtype == np.int32 and codes.shape == (2048,) and 0 <= codes.min() and codes.max() < 64
    decoded = trained.decode(codes)
    assert decoded.dtype == np.float32 and decoded.shape == (2048, 2)
    np.testing.assert_allclose(trained.reconstruct(points), decoded, atol=1e-6)
    # Every point decodes to its cell's point: as many distinct outputs as codes used.
    assert len(np.unique(decoded.round(5), axis=0)) == len(np.unique(codes)) > 8
    error = np.mean(np.sum((decoded - points) ** 2, -1))
    assert error < 0.25 * untrained, (error, untrained)
    loaded = zoo.load(tmp_path / "checkpoint")
    np.testing.assert_array_equal(loaded.encode(points), codes)
    # The metric says the same.
    loaded.checkpoint_metadata = {"dataset": "moons"}
    results = {r.name: r for r in evaluation.evaluate(loaded, test_points=500)[1]}
    test_points = zoo.datasets.load("moons", "test", num=500)[0]
    test_codes = loaded.encode(test_points)
    np.testing.assert_allclose(results["reconstruction MSE"].value,
                               np.mean(np.sum((loaded.decode(test_codes) - test_points) ** 2, -1)), rtol=1e-5)
    assert results["codebook usage"].value == len(np.unique(test_codes)) / 64
    with pytest.raises(ValueError, match=r"shape \(N\) with"):
        loaded.decode(np.zeros((3, 2), int))
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        loaded.encode(np.zeros((3, 3), "float32"))
    with pytest.raises(ValueError, match=r"\(D,\) for points"):
        zoo.create(config, data_shape=(2, 2))
