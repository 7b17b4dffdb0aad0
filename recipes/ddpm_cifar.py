"""ddpm-cifar: DDPM (1000 linear-beta steps, eps-prediction, L_simple) on CIFAR-10.

Lab notes. CPU-sized U-Net (`ddpm_small`, as rectified-flow-cifar); Ho et al. train a
35.7M model for 800k steps, which needs a GPU. Random horizontal flips as in the paper.
Sample with "ddpm" (1000 steps), "ddim" at 10/50/100 steps, and "analytic-ddim" after
`model.estimate_gammas(train_images_in_model_space)`.

    KERAS_BACKEND=torch zoo train recipes/ddpm_cifar.py --workdir runs/ddpm-cifar
"""

import zoo
from zoo.training import ArrayBatches, adam_with_warmup, train

CONFIG = "ddpm_small"
BATCH_SIZE = 64
LEARNING_RATE = 2e-4
WARMUP_STEPS = 5000  # Ho et al.
EMA_DECAY = 0.9999  # Ho et al.
STEPS_PER_EPOCH = 500
EPOCHS = 400
SEED = 0


def main(workdir="runs/ddpm-cifar", epochs=EPOCHS, smoke=False, resume_from=None):
    images, _ = zoo.datasets.load("cifar10", split="train")
    steps = STEPS_PER_EPOCH
    if smoke:
        images, steps = images[:64], 2
    model = zoo.create("ddpm_tiny" if smoke else CONFIG, data_shape=(32, 32, 3), ema_decay=EMA_DECAY, seed=SEED)
    batches = ArrayBatches(images, 8 if smoke else BATCH_SIZE, flip=True, seed=SEED, steps_per_epoch=steps)
    return train(model, batches, workdir=workdir, epochs=1 if smoke else epochs,
                 optimizer=adam_with_warmup(LEARNING_RATE, WARMUP_STEPS), resume_from=resume_from,
                 verbose=2, metadata={"recipe": "recipes/ddpm_cifar.py", "dataset": "cifar10", "config": CONFIG,
                                      "batch_size": BATCH_SIZE, "learning_rate": LEARNING_RATE,
                                      "ema_decay": EMA_DECAY, "steps_per_epoch": STEPS_PER_EPOCH})
