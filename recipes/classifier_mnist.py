"""classifier-mnist: the zoo's MNIST classifier, the feature network of FD-classifier for
28x28x1 digit models (`zoo eval` of every MNIST checkpoint), as classifier-cifar is for CIFAR-10.

Lab notes. The CIFAR recipe scaled down: a pre-activation ResNet at widths 16-32-64 with
one block per stage (0.08M parameters; BatchNorm momentum 0.9 so a short run's statistics
catch up), SGD with Nesterov momentum 0.9, a 1-epoch linear warm-up to 0.1 and cosine decay
to zero, weight decay 5e-4 (not on BatchNorm or biases), random translations of up to 2
pixels and no flips (mirrored digits are not digits). A few passes reach ~99% test accuracy.
Its penultimate 64 features define FD-classifier on MNIST.

    KERAS_BACKEND=tensorflow zoo train recipes/classifier_mnist.py --workdir runs/classifier-mnist
"""

from pathlib import Path

import zoo
from zoo.cli import load_recipe
from zoo.training import ArrayBatches, train

CONFIG = "classifier_mnist"
BATCH_SIZE = 128
_CIFAR = load_recipe(Path(__file__).with_name("classifier_cifar.py"))
LEARNING_RATE, WEIGHT_DECAY = _CIFAR.LEARNING_RATE, _CIFAR.WEIGHT_DECAY
EPOCHS = 4  # cosine decay over the whole run; ~2 min per epoch on 2 shared CPU cores (TensorFlow)
CROP_PADDING = 2
SEED = 0


# classifier-cifar's optimizers, rates and weight decays (SGD + Nesterov by default, one
# warm-up epoch, cosine to 0, no decay on norms and biases).
optimizer_settings = _CIFAR.optimizer_settings


def main(workdir="runs/classifier-mnist", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    images, labels = zoo.datasets.load("mnist", split="train")
    if smoke:  # a seconds-long run of the same code path, for tests
        images, labels = images[:64], labels[:64]
    model = zoo.create("classifier_tiny" if smoke else CONFIG, **({"data_shape": (28, 28, 1)} if smoke else {}))
    batches = ArrayBatches(images, 8 if smoke else BATCH_SIZE, labels=labels, crop_padding=CROP_PADDING,
                           seed=SEED, steps_per_epoch=2 if smoke else None)
    # The schedule spans EPOCHS (not `epochs`), so stopping early and resuming later
    # follows the same curve.
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=optimizer_settings(optimizer, len(batches), 2 if smoke else EPOCHS),
                 resume_from=resume_from,
                 verbose=2, metadata={"recipe": "recipes/classifier_mnist.py", "dataset": "mnist",
                                      "batch_size": BATCH_SIZE, "crop_padding": CROP_PADDING})
