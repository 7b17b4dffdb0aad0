"""Classification objectives: cross-entropy of logits against class labels, and its
total-variation-tailored weighting (TaiLr). Training only."""

import keras
from keras import ops


def class_labels(x, y):
    """The labels of a training batch: `x["labels"]` of a `{"data", "labels"}` dict, else `y`."""
    labels = x.get("labels") if isinstance(x, dict) else y
    if labels is None:
        raise ValueError("Training the classifier needs labels: batches `{'data', 'labels'}` or `(x, y)`.")
    return labels


def label_targets(labels, num_classes):
    """`(batch, num_classes)` float targets: one-hot rows of int labels `(batch,)`, or
    float labels that already are distributions (mixup's mixtures) as they are."""
    if len(labels.shape) == 2:
        return ops.cast(labels, "float32")
    return ops.one_hot(ops.cast(labels, "int32"), num_classes)


def tailr_weights(logits, targets, gamma):
    """TaiLr's per-example weight `p / (gamma + (1 - gamma) p)` of the target's model
    probability `p` (Ji et al. 2023, arXiv:2302.13344, the TaiLr objective), with its gradient stopped:
    1 for every example at gamma = 0 (cross-entropy), `p` at gamma = 1 (the gradient of
    the total variation distance), and never above `p / gamma`, so an example the model
    finds unlikely (a noisy label) pulls less."""
    probability = ops.sum(targets * ops.softmax(ops.cast(logits, "float32"), axis=-1), axis=-1)
    return ops.stop_gradient(probability / (gamma + (1.0 - gamma) * probability))


def cross_entropy(logits, labels, num_classes, label_smoothing=0.0, tailr_gamma=0.0):
    """Mean categorical cross-entropy of `(batch, num_classes)` logits against int labels
    or soft `(batch, num_classes)` targets, with label smoothing, each example weighted by
    `tailr_weights(..., tailr_gamma)` when `tailr_gamma` > 0."""
    targets = label_targets(labels, num_classes)
    per_example = keras.losses.categorical_crossentropy(targets, logits, from_logits=True,
                                                        label_smoothing=label_smoothing)
    if tailr_gamma:
        per_example = per_example * tailr_weights(logits, targets, tailr_gamma)
    return ops.mean(per_example)
