"""Linear probes: how linearly separable the classes are in an encoder's frozen
features. A softmax regression is trained with the stock `fit` on standardized
`embed` features of training images and scored by top-1 accuracy on test images (the
protocol of CPC, SimCLR and their kin, at CPU scale)."""

import keras
import numpy as np

from zoo.registry import seeded_initializers


def linear_probe(train_features, train_labels, test_features, test_labels, *, num_classes=None, epochs=30,
                 batch_size=256, learning_rate=1e-2, seed=0):
    """Top-1 test accuracy of a linear classifier trained on frozen features.

    Args:
        train_features, test_features: `(n, d)` arrays.
        train_labels, test_labels: `(n,)` int class labels.
        num_classes: int or None (default: 1 + the largest label).
        epochs, batch_size, learning_rate: Adam with cosine decay to zero, on the
            training features in one seeded order (convex: the order hardly matters);
            the batch shrinks to n / 20 (at least 32) for small sets.
        seed: int. The order of the training examples.

    Returns:
        float. The share of test examples whose argmax logit is their label.
    """
    train_features = np.asarray(train_features, "float32")
    test_features = np.asarray(test_features, "float32")
    train_labels, test_labels = np.asarray(train_labels), np.asarray(test_labels)
    if train_features.ndim != 2 or test_features.shape[1:] != train_features.shape[1:]:
        raise ValueError(f"Features must be (n, d) with one d; received {train_features.shape} and "
                         f"{test_features.shape}.")
    if len(train_labels) != len(train_features) or len(test_labels) != len(test_features):
        raise ValueError("Each feature row needs one label: "
                         f"{len(train_features)} / {len(train_labels)} (train), "
                         f"{len(test_features)} / {len(test_labels)} (test).")
    num_classes = num_classes or int(max(train_labels.max(), test_labels.max())) + 1
    mean, std = train_features.mean(0), train_features.std(0) + 1e-6
    order = np.random.default_rng(seed).permutation(len(train_features))
    x, y = (train_features[order] - mean) / std, train_labels[order].astype("int32")
    # Small sets: smaller batches, so that the probe still takes hundreds of steps.
    batch_size = min(batch_size, max(32, len(x) // 20), len(x))
    steps = epochs * (len(x) // batch_size)
    with seeded_initializers(seed):
        classifier = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(num_classes)])
    classifier.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, steps)),
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    # Whole batches only: one trace, and every step the same size.
    usable = len(x) - len(x) % batch_size
    classifier.fit(x[:usable], y[:usable], batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0)
    logits = classifier.predict((test_features - mean) / std, batch_size=1024, verbose=0)
    return float(np.mean(np.argmax(logits, -1) == test_labels))
