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

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "classifier_cifar"
BATCH_SIZE = 128
LEARNING_RATE = 0.1  # the ResNet paper's CIFAR rate for batch 128
WEIGHT_DECAY = 5e-4
EPOCHS = 30  # cosine decay over the whole run (~2 min on an H100; ~3 h on 2 CPU cores)
CROP_PADDING = 4
SEED = 0


# The settings per optimizer (`--optimizer`); each gets a one-epoch warm-up and a cosine
# to 0 over the rest of EPOCHS, and no weight decay on norms and biases. AdamW's are the
# common ResNet ones; Lion's follow from them by the paper's rule (rate / 3, decay x 3).
OPTIMIZERS = {"sgd": OptimizerSettings("sgd", LEARNING_RATE, weight_decay=WEIGHT_DECAY, momentum=0.9, nesterov=True),
              "adamw": OptimizerSettings("adamw", 2e-3, weight_decay=0.05)}
OPTIMIZERS["lion"] = OPTIMIZERS["adamw"].switch("lion")


def optimizer_settings(choice, steps_per_epoch, epochs):
    """`resolve(OPTIMIZERS, choice)` with the warm-up of one epoch and the cosine over
    the other `epochs - 1` (unless `choice` sets its own warm-up)."""
    stated = {name: s.replace(warmup_steps=steps_per_epoch, decay_steps=(epochs - 1) * steps_per_epoch)
              for name, s in OPTIMIZERS.items()}
    return resolve(stated, choice)


def main(workdir="runs/classifier-cifar", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None,
         mixup=0.0, tailr_gamma=0.0):
    images, labels = zoo.datasets.load("cifar10", split="train")
    if smoke:  # a seconds-long run of the same code path, for tests
        images, labels = images[:64, :16, :16], labels[:64]
    model = zoo.create("classifier_tiny" if smoke else CONFIG, tailr_gamma=tailr_gamma)
    batches = ArrayBatches(images, 8 if smoke else BATCH_SIZE, labels=labels, flip=True, mixup=mixup,
                           crop_padding=CROP_PADDING, seed=SEED, steps_per_epoch=2 if smoke else None)
    # The schedule spans EPOCHS (not `epochs`), so stopping early and resuming later
    # follows the same curve.
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=optimizer_settings(optimizer, len(batches), 2 if smoke else EPOCHS),
                 resume_from=resume_from,
                 verbose=2, metadata={"recipe": "recipes/classifier_cifar.py", "dataset": "cifar10",
                                      "batch_size": BATCH_SIZE, "crop_padding": CROP_PADDING,
                                      **({"mixup": mixup} if mixup else {}),
                                      **({"tailr_gamma": tailr_gamma} if tailr_gamma else {})})
