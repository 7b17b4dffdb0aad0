"""CPC and InfoNCE: the bound against known mutual information with the optimal critic,
patch extraction, the context network's causality, the CPC loss against a NumPy
reference, training with `fit` (the bound rises on images with vertical structure),
save/load/resume, the linear probe and `zoo eval`'s encoder metrics, and `embed` from a
fixed weight file equal on every backend (tests/golden/cpc_tiny.*)."""

import json
import math
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

import zoo
from zoo import evaluation
from zoo.networks.cpc import CPCNetwork, image_patches
from zoo.objectives.contrastive import cpc_losses, info_nce, info_nce_diagonal, mutual_information_bound
from zoo.probe import linear_probe
from zoo.training import ArrayBatches, train

GOLDEN = Path(__file__).parent / "golden"
TINY = dict(patch_size=8, patch_stride=4, widths=(8, 16), code_dim=16, context_layers=1, offsets=(2,))


def _gaussian_bound(num, rho, dims, seed, critic="optimal"):
    """log N - InfoNCE for N pairs of correlated Gaussians (per dimension y = rho x + noise),
    with the optimal critic log p(y | x) / p(y) (or a constant one)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(num, dims))
    y = rho * x + math.sqrt(1 - rho**2) * rng.normal(size=(num, dims))
    scores = (-((y[None] - rho * x[:, None]) ** 2).sum(-1) / (2 * (1 - rho**2)) + (y[None] ** 2).sum(-1) / 2
              if critic == "optimal" else np.zeros((num, num)))
    loss = float(ops.convert_to_numpy(ops.mean(info_nce_diagonal(scores.astype("float32")))))
    return mutual_information_bound(loss, num)


def test_info_nce_bound_approaches_known_mutual_information_and_never_exceeds_log_n():
    rho, dims = 0.9, 5
    true_mi = -0.5 * dims * math.log(1 - rho**2)  # 4.15 nats
    bounds = {}
    for num in (8, 64, 1024):
        bounds[num] = [_gaussian_bound(num, rho, dims, seed) for seed in range(2)]
        assert max(bounds[num]) < math.log(num), (num, bounds[num])
    # N = 8: saturated near log 8 = 2.08; N = 1024 (log N = 6.9): within ~0.25 of I (measured 3.97-4.02).
    assert np.mean(bounds[8]) > 1.5 and np.mean(bounds[64]) > np.mean(bounds[8]) + 0.8
    assert abs(np.mean(bounds[1024]) - true_mi) < 0.3, (true_mi, bounds[1024])
    assert abs(_gaussian_bound(256, rho, dims, 0, critic="constant")) < 1e-5  # an uninformative critic: 0


def test_info_nce_is_the_cross_entropy_of_the_positive():
    scores = np.random.default_rng(0).normal(size=(5, 7)).astype("float32")
    positives = np.array([0, 3, 6, 2, 2])
    expected = -np.log(np.exp(scores) / np.exp(scores).sum(1, keepdims=True))[np.arange(5), positives]
    np.testing.assert_allclose(ops.convert_to_numpy(info_nce(scores, positives)), expected, rtol=1e-5)


def test_patches_are_the_overlapping_grid():
    x = np.random.default_rng(0).normal(size=(2, 16, 24, 3)).astype("float32")
    patches = ops.convert_to_numpy(image_patches(x, 8, 4))
    assert patches.shape == (2, 3, 5, 8, 8, 3)
    for r in range(3):
        for c in range(5):
            np.testing.assert_array_equal(patches[:, r, c], x[:, 4 * r:4 * r + 8, 4 * c:4 * c + 8])


def test_network_config_round_trip_and_causal_context():
    network = CPCNetwork(**{**TINY, "context_layers": 2})
    x = np.random.default_rng(0).normal(size=(2, 20, 16, 3)).astype("float32")
    z, predictions = (ops.convert_to_numpy(t) for t in network(x))
    assert z.shape == (2, 4, 3, 16) and predictions.shape == (2, 4, 3, 1, 16)
    clone = keras.saving.deserialize_keras_object(json.loads(json.dumps(keras.saving.serialize_keras_object(network))))
    clone(x)
    clone.set_weights(network.get_weights())
    np.testing.assert_allclose(ops.convert_to_numpy(clone(x)[1]), predictions, atol=1e-6)
    # Changing the codes of rows >= 2 leaves the context of rows 0-1 as it was.
    poked = z.copy()
    poked[:, 2:] += 1.0
    before, after = (ops.convert_to_numpy(network.context(v)) for v in (z, poked))
    np.testing.assert_allclose(after[:, :2], before[:, :2], atol=1e-6)
    assert not np.allclose(after[:, 2:], before[:, 2:])
    with pytest.raises(ValueError, match="cannot predict 4 rows ahead"):
        CPCNetwork(**{**TINY, "offsets": (4,)})(np.zeros((1, 16, 16, 3), "float32"))


def test_cpc_losses_match_a_numpy_reference():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(2, 4, 3, 5)).astype("float32")
    predictions = rng.normal(size=(2, 4, 3, 2, 5)).astype("float32")
    losses, candidates = cpc_losses(z, predictions, (1, 3))
    flat = z.reshape(-1, 5)
    expected = []
    for slot, k in enumerate((1, 3)):
        terms = []
        for b in range(2):
            for i in range(4 - k):
                for j in range(3):
                    scores = flat @ predictions[b, i, j, slot]
                    terms.append(np.log(np.exp(scores).sum()) - scores[(b * 4 + i + k) * 3 + j])
        expected.append(np.mean(terms))
    np.testing.assert_allclose(ops.convert_to_numpy(losses), expected, rtol=1e-5)
    assert float(ops.convert_to_numpy(candidates)) == 24.0


def _striped_images(num, seed):
    """uint8 16x16 images whose columns each have one random colour: a patch's code
    is predictable from the rows above it."""
    columns = np.random.default_rng(seed).integers(0, 256, size=(num, 1, 16, 3))
    return np.broadcast_to(columns, (num, 16, 16, 3)).astype(np.uint8)


def _tiny(seed=0, augment=False):
    with zoo.registry.seeded_initializers(seed):
        return zoo.create("cpc_tiny", augment=augment, seed=seed)


def test_fit_raises_the_bound_and_reports_it():
    model = _tiny()
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    data = zoo.datasets.to_model_space(_striped_images(256, 0))
    history = model.fit(data, batch_size=16, epochs=6, verbose=0).history
    log_n = math.log(16 * 9)  # 16 images of 3 x 3 patches
    assert np.allclose(np.array(history["mi_bound"]) + history["loss"], log_n, atol=1e-3)
    # Measured on JAX, seeds 0 and 1: the bound rises from 0.1-0.15 to 1.2-1.3 nats (1.3-1.4 held out).
    assert history["mi_bound"][-1] > history["mi_bound"][0] + 0.7 and history["mi_bound"][-1] > 0.8, history
    held_out = model.info_nce(_striped_images(64, 1), batch_size=16)
    assert held_out.shape == (1,) and log_n - held_out[0] > 0.7, held_out


def test_augmented_fit_saves_loads_and_resumes_exactly(tmp_path):
    images = _striped_images(96, 2)

    def batches():
        return ArrayBatches(images, 16, flip=True, seed=0, steps_per_epoch=3)

    straight = train(_tiny(augment=True), batches(), workdir=tmp_path / "a", epochs=4, verbose=0,
                     optimizer=keras.optimizers.Adam(1e-3))
    train(_tiny(augment=True), batches(), workdir=tmp_path / "b", epochs=2, verbose=0,
          optimizer=keras.optimizers.Adam(1e-3))
    again = train(_tiny(augment=True), batches(), workdir=tmp_path / "b", epochs=4, verbose=0,
                  optimizer=keras.optimizers.Adam(1e-3))
    np.testing.assert_allclose(straight.embed(images), again.embed(images), rtol=1e-4, atol=1e-5)
    loaded = zoo.load(tmp_path / "b" / "checkpoint")
    assert type(loaded) is zoo.models.CPC and loaded.interface.kind == "encoder"
    np.testing.assert_allclose(loaded.embed(images), again.embed(images), atol=1e-6)
    assert len(loaded.checkpoint_metadata["training"]["history"]["mi_bound"]) == 4
    with pytest.raises(ValueError, match=r"`images` must have shape \(N, 16, 16, 3\)"):
        loaded.embed(np.zeros((2, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        loaded.embed(np.zeros((2, 16, 16, 3), np.float32))


def test_embed_matches_the_golden_file():
    """Fixed weights (scripts/make_golden_cpc.py, written on JAX): `embed` agrees on every backend."""
    golden = np.load(GOLDEN / "cpc_tiny.npz")
    model = _tiny()
    model.load_weights(GOLDEN / "cpc_tiny.weights.h5")
    np.testing.assert_allclose(model.embed(golden["images"]), golden["embedding"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.info_nce(golden["images"], batch_size=4), golden["info_nce"], rtol=1e-4)


def test_linear_probe_separates_separable_classes_only():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 900)
    features = rng.normal(size=(900, 4)) + 3.0 * np.eye(3, 4)[labels]
    accuracy = linear_probe(features[:600], labels[:600], features[600:], labels[600:], epochs=8)
    assert accuracy > 0.9, accuracy
    chance = linear_probe(rng.normal(size=(600, 4)), labels[:600], rng.normal(size=(300, 4)), labels[600:], epochs=8)
    assert chance < 0.5, chance


def test_zoo_eval_measures_an_encoder_by_linear_probe_and_hsic(monkeypatch):
    model = _tiny()

    def data(ev, num, split="test"):  # labelled colour classes, no dataset files needed
        rng = np.random.default_rng(0 if split == "train" else 1)
        labels = rng.integers(0, 3, num or 200)
        images = rng.integers(0, 60, size=(len(labels), 16, 16, 3)) + 90 * np.eye(3, dtype=int)[labels][:, None, None]
        return images.astype(np.uint8), labels

    monkeypatch.setattr(evaluation.Evaluation, "data", data)
    monkeypatch.setattr(evaluation.Evaluation, "dataset", "colours")
    _, results = evaluation.evaluate(model, num=160, reference_images=200)
    values = {r.name: r for r in results}
    assert set(values) == {"linear probe accuracy", "linear probe floor (random encoder)", "HSIC(features, label)",
                           "HSIC(features, label) of a random encoder", "features dependent on the label"}
    assert values["linear probe accuracy"].value > 0.9  # colour is linear in any encoder's features here
    assert "permutation p = 0.005" in values["HSIC(features, label)"].how
    assert len(values["features dependent on the label"].details) == 8
