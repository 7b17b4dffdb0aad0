"""cpc-cifar: a Contrastive Predictive Coding encoder of CIFAR-10 (no labels used).

Lab notes. CPC v2 for images scaled to 2 CPU cores: each 32x32 image is a 7x7 grid of
8x8 patches every 4 pixels; the patch encoder (3x3 convs 32-64-128, no normalization,
0.48M parameters with the context network and predictors) maps each to a 128-d code,
and the causal context network predicts the codes 2 and 3 rows below (1 row below
would share pixels with the context). Batches of 64 images give N = 64 * 49 = 3,136
candidates per prediction, so the InfoNCE bound log N - loss is capped at 8.05 nats.
TensorFlow trains ~90 images/s here (alone), so the run is ~2 passes over the training
set: Adam at 1e-3 (short runs tolerate the larger step; no normalization layers, so a
200-step warm-up), cosine decay to zero over the whole run, random flips, and CPC v2's
patch-wise colour jitter in the model. Labels are used only by the linear probe
of `zoo eval`.

The bundled run stopped after 3 of the 6 epochs (`--epochs 3`, 48k images, 51 min, the
learning rate at half its peak) for lack of time on the shared machine; its InfoNCE
bound was still rising (0.45, 1.33, 1.88 nats) and its linear probe (40.6%) sits only
3.5 points over a random encoder's (37.0%). All 6 epochs, or more, should do better.

    KERAS_BACKEND=tensorflow zoo train recipes/cpc_cifar.py --workdir runs/cpc-cifar

Rerunning resumes from `<workdir>/state` (saved every epoch); `<workdir>/checkpoint` is the export.
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "cpc_cifar"
BATCH_SIZE = 64  # 3,136 candidates per InfoNCE query; more images per batch cost the same per image
LEARNING_RATE = 1e-3
WARMUP_STEPS = 200
STEPS_PER_EPOCH = 250  # a checkpoint every ~3 min
# 1,500 steps, 96k images (~1.9 passes): ~18 min on TensorFlow with the machine to itself, but
# ~10 min an epoch while a dozen other trainings shared the 2 cores (the first run, planned at
# 10 epochs, was cut to 6 after its first epoch and resumed; its first 250 steps followed the
# 10-epoch cosine, within 0.5% of this one's learning rate).
EPOCHS = 6
SEED = 0


# Warm-up, then a cosine to 0 over the rest of EPOCHS.
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, warmup_steps=WARMUP_STEPS, clipnorm=1.0)


def main(workdir="runs/cpc-cifar", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    images, _ = zoo.datasets.load("cifar10", split="train")
    if smoke:  # a seconds-long run of the same code path, for tests
        images = images[:64, :16, :16]
    model = zoo.create("cpc_tiny" if smoke else CONFIG, seed=SEED)
    batches = ArrayBatches(images, 8 if smoke else BATCH_SIZE, flip=True, seed=SEED,
                           steps_per_epoch=2 if smoke else STEPS_PER_EPOCH)
    # The schedule spans EPOCHS (not `epochs`), so stopping early and resuming later
    # follows the same curve.
    steps, warmup = (4, 1) if smoke else (EPOCHS * STEPS_PER_EPOCH, WARMUP_STEPS)
    settings = resolve(OPTIMIZER.replace(warmup_steps=warmup, decay_steps=steps - warmup), optimizer)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=settings, resume_from=resume_from, verbose=2,
                 metadata={"recipe": "recipes/cpc_cifar.py", "dataset": "cifar10", "batch_size": BATCH_SIZE})
