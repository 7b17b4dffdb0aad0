"""Classification objective: cross-entropy of logits against class labels. Training only."""

import keras
from keras import ops


def class_labels(x, y):
    """The labels of a training batch: `x["labels"]` of a `{"data", "labels"}` dict, else `y`."""
    labels = x.get("labels") if isinstance(x, dict) else y
    if labels is None:
        raise ValueError("Training the classifier needs labels: batches `{'data', 'labels'}` or `(x, y)`.")
    return labels


def cross_entropy(logits, labels, num_classes, label_smoothing=0.0):
    """Mean categorical cross-entropy of `(batch, num_classes)` logits, with label smoothing."""
    one_hot = ops.one_hot(ops.cast(labels, "int32"), num_classes)
    return ops.mean(keras.losses.categorical_crossentropy(one_hot, logits, from_logits=True,
                                                          label_smoothing=label_smoothing))
