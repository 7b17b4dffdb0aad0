"""rectified-flow-cifar: 1-rectified flow on CIFAR-10 (unconditional, 32x32x3).

Lab notes. Trained on one lent GPU (an H100) for about twenty minutes, then sampled on
CPUs, so the network is `rectified_flow_medium` (48 channels, 3.6M parameters, 14 MiB of
float32 weights), not the paper's 62M-parameter DDPM++: the bundled weight file must
stay under 16 MiB and the README's 64-image grid must sample in under a minute on 2 CPU
cores. Otherwise the paper's CIFAR setup: Adam 2e-4 after a linear warm-up, gradient
clipping at 1, batch 128, random flips, uniform t. The EMA decay is 0.9995 rather than
0.9999 because the run is short (tens of thousands of steps).

    KERAS_BACKEND=jax zoo train recipes/rectified_flow_cifar.py --workdir runs/rectified-flow-cifar

Rerunning the same command resumes from `<workdir>/state` (saved every epoch of
STEPS_PER_EPOCH steps) until EPOCHS; `--epochs N` stops at N, `--time-limit MINUTES` at
the last epoch that fits; `<workdir>/checkpoint` is the export (the EMA weights).
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "rectified_flow_medium"
BATCH_SIZE = 128  # Liu et al.'s CIFAR batch
LEARNING_RATE = 2e-4  # Liu et al. (and NCSN++) with Adam, after a linear warm-up, clip 1.
WARMUP_STEPS = 1000
EMA_DECAY = 0.9995  # a ~2k-step horizon, for a run of tens of thousands of steps
STEPS_PER_EPOCH = 1000  # a saved state every 128k images (~10-20 s on an H100)
EPOCHS = 400  # the nominal length (51M images); the card says how many were run
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, warmup_steps=WARMUP_STEPS, clipnorm=1.0)


def main(workdir="runs/rectified-flow-cifar", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    images, _ = zoo.datasets.load("cifar10", split="train")
    steps = STEPS_PER_EPOCH
    if smoke:  # a seconds-long run of the same code path, for tests
        images, steps = images[:64], 2
    model = zoo.create("rectified_flow_tiny" if smoke else CONFIG, data_shape=(32, 32, 3),
                       ema_decay=EMA_DECAY, seed=SEED)
    batches = ArrayBatches(images, 8 if smoke else BATCH_SIZE, flip=True, seed=SEED,
                           steps_per_epoch=steps)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from,
                 verbose=2,
                 metadata={"recipe": "recipes/rectified_flow_cifar.py", "dataset": "cifar10",
                           "batch_size": BATCH_SIZE, "ema_decay": EMA_DECAY, "steps_per_epoch": STEPS_PER_EPOCH})
