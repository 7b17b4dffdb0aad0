"""ddpm-mnist: DDPM (1000 linear-beta steps, eps-prediction, L_simple) on MNIST.

Lab notes. The U-Net of rectified-flow-mnist (`ddpm_mnist`: 16/32/64 channels at
28/14/7, one block per level, attention at 7x7, 0.69M parameters), with the same batch,
learning rate, warm-up and EMA, so the two families compare image for image. No flips:
mirrored digits are not digits.

    KERAS_BACKEND=torch zoo train recipes/ddpm_mnist.py --workdir runs/ddpm-mnist --time-limit 30
"""

import zoo
from zoo.optimizers import OptimizerSettings, resolve
from zoo.training import ArrayBatches, train

CONFIG = "ddpm_mnist"
BATCH_SIZE = 64
LEARNING_RATE = 5e-4  # as rectified-flow-mnist: a short run of a small model
WARMUP_STEPS = 500
EMA_DECAY = 0.998
STEPS_PER_EPOCH = 100
EPOCHS = 500
SEED = 0
OPTIMIZER = OptimizerSettings("adam", LEARNING_RATE, warmup_steps=WARMUP_STEPS, clipnorm=1.0)


def main(workdir="runs/ddpm-mnist", epochs=EPOCHS, smoke=False, resume_from=None, optimizer=None):
    images, _ = zoo.datasets.load("mnist", split="train")
    steps = STEPS_PER_EPOCH
    if smoke:  # a seconds-long run of the same code path, for tests
        images, steps = images[:64], 2
    model = zoo.create("ddpm_tiny" if smoke else CONFIG, data_shape=(28, 28, 1), ema_decay=EMA_DECAY, seed=SEED)
    batches = ArrayBatches(images, 8 if smoke else BATCH_SIZE, seed=SEED, steps_per_epoch=steps)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=resolve(OPTIMIZER, optimizer), resume_from=resume_from,
                 verbose=2, metadata={"recipe": "recipes/ddpm_mnist.py", "dataset": "mnist", "config": CONFIG,
                                      "batch_size": BATCH_SIZE, "ema_decay": EMA_DECAY, "steps_per_epoch": STEPS_PER_EPOCH})
