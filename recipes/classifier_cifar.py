"""classifier-cifar: the zoo's CIFAR-10 classifier, the feature network of FD-classifier.

Lab notes. A pre-activation ResNet with one block per stage at widths 32-64-128 (0.31M
parameters) is what 2 CPU cores train in well under an hour (~200 images/s on PyTorch
while other work shares the machine). The recipe is the standard CIFAR one scaled down:
SGD with Nesterov momentum 0.9, a 1-epoch linear warm-up to 0.1 and cosine decay to
zero, weight decay 5e-4 (not on BatchNorm or biases), random flips and translations of
up to 4 pixels. Its penultimate 128 features define `zoo eval`'s FD-classifier.

    KERAS_BACKEND=torch zoo train recipes/classifier_cifar.py --workdir runs/classifier-cifar

Rerunning resumes from `<workdir>/state` (saved every epoch); `<workdir>/checkpoint` is the export.
"""

import keras

import zoo
from zoo.training import ArrayBatches, train

CONFIG = "classifier_cifar"
BATCH_SIZE = 128
LEARNING_RATE = 0.1  # the ResNet paper's CIFAR rate for batch 128
WEIGHT_DECAY = 5e-4
EPOCHS = 30  # cosine decay over the whole run (~2 min on an H100; ~3 h on 2 CPU cores)
CROP_PADDING = 4
SEED = 0


def optimizer(steps_per_epoch, epochs):
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=(epochs - 1) * steps_per_epoch, warmup_target=LEARNING_RATE,
        warmup_steps=steps_per_epoch)
    sgd = keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True, weight_decay=WEIGHT_DECAY)
    sgd.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    return sgd


def main(workdir="runs/classifier-cifar", epochs=EPOCHS, smoke=False, resume_from=None):
    images, labels = zoo.datasets.load("cifar10", split="train")
    if smoke:  # a seconds-long run of the same code path, for tests
        images, labels = images[:64, :16, :16], labels[:64]
    model = zoo.create("classifier_tiny" if smoke else CONFIG)
    batches = ArrayBatches(images, 8 if smoke else BATCH_SIZE, labels=labels, flip=True,
                           crop_padding=CROP_PADDING, seed=SEED, steps_per_epoch=2 if smoke else None)
    # The schedule spans EPOCHS (not `epochs`), so stopping early and resuming later
    # follows the same curve.
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=optimizer(len(batches), 2 if smoke else EPOCHS), resume_from=resume_from,
                 verbose=2, metadata={"recipe": "recipes/classifier_cifar.py", "dataset": "cifar10",
                                      "batch_size": BATCH_SIZE, "learning_rate": LEARNING_RATE,
                                      "weight_decay": WEIGHT_DECAY, "crop_padding": CROP_PADDING})
