"""The zoo's classifier (FD-classifier's feature network): layers through the harness,
uint8 in / logits out, learning a task it must learn, save/load, bad input; and the
translation augmentation of its training batches."""

import keras
import numpy as np
import pytest
from harness import check_layer
from keras import ops

import zoo
from zoo.networks import PreActBlock, ResNet
from zoo.training import ArrayBatches, random_translate


def test_preact_block(rng):
    x = rng.normal(size=(2, 8, 8, 4)).astype("float32")
    check_layer(PreActBlock, {"filters": 4}, (x,), (2, 8, 8, 4))
    check_layer(PreActBlock, {"filters": 6, "strides": 2}, (x,), (2, 4, 4, 6))


def test_resnet(rng):
    x = rng.normal(size=(2, 8, 8, 3)).astype("float32")
    layer = check_layer(ResNet, {"num_classes": 5, "widths": (4, 8)}, (x,), (2, 5))
    assert tuple(layer.features(ops.convert_to_tensor(x)).shape) == (2, 8)


def _colour_task(rng, num):
    """Label = the brightest colour channel: learnable in a few steps."""
    labels = rng.integers(0, 3, num)
    images = rng.integers(0, 100, (num, 16, 16, 3))
    images[np.arange(num), :, :, labels] += 150
    return images.astype("uint8"), labels


def test_classifier_learns_and_round_trips(rng, tmp_path):
    model = zoo.create("classifier_tiny", network={"num_classes": 3, "widths": (8, 16), "norm_momentum": 0.9})
    images, labels = _colour_task(rng, 256)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(ArrayBatches(images, 32, labels=labels, flip=True, crop_padding=2, seed=0),
              epochs=3, verbose=0, shuffle=False)
    test_images, test_labels = _colour_task(rng, 128)
    assert model.accuracy(test_images, test_labels) > 0.9
    # Calling the model on uint8 pixels is the same as on model-space floats.
    logits = model.logits(test_images[:8])
    np.testing.assert_allclose(ops.convert_to_numpy(model(test_images[:8])), logits, atol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(model(zoo.datasets.to_model_space(test_images[:8]))),
                               logits, atol=1e-5)
    assert model.features(test_images[:8]).shape == (8, 16)
    loaded = zoo.load(zoo.save_checkpoint(model, tmp_path / "classifier"))
    np.testing.assert_allclose(loaded.logits(test_images[:8]), logits, atol=1e-5)


def test_classifier_bad_input():
    model = zoo.create("classifier_tiny")
    with pytest.raises(ValueError, match="`images` must be uint8"):
        model.logits(np.zeros((2, 16, 16, 3), "float32"))
    with pytest.raises(ValueError, match=r"`images` must have shape \(N, 16, 16, 3\)"):
        model.features(np.zeros((2, 32, 32, 3), "uint8"))
    with pytest.raises(ValueError, match="`labels` must have shape"):
        model.accuracy(np.zeros((2, 16, 16, 3), "uint8"), [0, 1, 2])


def test_random_translate_is_a_window_of_the_reflected_image(rng):
    images = rng.integers(0, 256, (64, 6, 5, 2)).astype("uint8")
    out = random_translate(images, 2, np.random.default_rng(0))
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    offsets = set()
    for image, window in zip(padded, out):
        found = [(r, c) for r in range(5) for c in range(5) if np.array_equal(image[r:r + 6, c:c + 5], window)]
        assert found, "the output is not a window of the padded image"
        offsets.add(found[0])
    assert len(offsets) > 10  # per-image offsets, not one shift for the batch


def test_translated_batches_are_deterministic():
    images = np.arange(8 * 4 * 4 * 1, dtype="uint8").reshape(8, 4, 4, 1)
    first = ArrayBatches(images, 4, crop_padding=1, seed=3)[1][0]
    again = ArrayBatches(images, 4, crop_padding=1, seed=3)[1][0]
    np.testing.assert_array_equal(first, again)
    with pytest.raises(ValueError, match="crop_padding"):
        ArrayBatches(images, 4, crop_padding=4)
